"""The task registry: names to builders."""

from __future__ import annotations

import pytest

from costeer.tasks import TASKS, BuiltSystem, build_task_system


def test_nanotube_is_registered() -> None:
    assert "nanotube" in TASKS
    built = build_task_system("nanotube")
    assert isinstance(built, BuiltSystem)
    assert built.name == "nanotube"


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="nanotube"):
        build_task_system("no-such-task")
