"""The package's entry points: building a task's system by name."""

from __future__ import annotations

import pytest

from costeer.tasks import BuiltSystem, build_task_system, task_names


def test_nanotube_is_registered() -> None:
    assert "nanotube" in task_names()
    built = build_task_system("nanotube")
    assert isinstance(built, BuiltSystem)
    assert built.name == "nanotube"


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="nanotube"):
        build_task_system("no-such-task")
