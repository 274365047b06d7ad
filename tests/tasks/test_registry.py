"""The task registry: names, clashes, and tasks loaded from a file without touching other code."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from costeer.tasks import Chemistry, Task, get_task, load_task_file, register_task, resolve_task, task_names

TOY_TASK = '''
"""A toy task: move the oxygen of a water molecule above z = 1 nm."""

from dataclasses import dataclass

import numpy as np

from costeer.tasks import AtomSelection, Task, TaskFrame, register_task


@dataclass(frozen=True)
class Lifted:
    success: bool
    success_index: int | None

    def details(self):
        return {"success": self.success, "success_index": self.success_index}


@register_task("{name}")
class ToyTask(Task):
    description = "Lift the water."

    def __init__(self, *, height=1.0):
        self.height = height

    def build_system(self):
        raise NotImplementedError("the toy task has no system")

    def select(self, chemistry):
        oxygen = np.flatnonzero(chemistry.elements == 8)
        return AtomSelection(grabbed=oxygen, observed=np.arange(chemistry.atom_count))

    def frames(self, positions, selection, *, previous=None):
        count = positions.shape[0]
        return TaskFrame(np.zeros((count, 3)), np.broadcast_to(np.eye(3), (count, 3, 3)))

    def evaluate(self, positions, selection):
        above = np.flatnonzero(positions[:, selection.grabbed[0], 2] > self.height)
        return Lifted(bool(len(above)), int(above[0]) if len(above) else None)
'''


def _write(folder: Path, name: str, *, file_name: str = "toy_task.py") -> Path:
    path = folder / file_name
    path.write_text(textwrap.dedent(TOY_TASK.replace("{name}", name)))
    return path


def test_a_toy_task_from_a_temporary_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "toy-lift")
    assert load_task_file(path) == ["toy-lift"]
    assert "toy-lift" in task_names() and "nanotube" in task_names()
    task = get_task("toy-lift", height=0.5)
    assert isinstance(task, Task) and task.name == "toy-lift" and task.height == 0.5
    chemistry = Chemistry(np.array([8, 1, 1], dtype=np.uint8), np.array([[0, 1], [0, 2]]))
    selection = task.select(chemistry)
    assert selection.grabbed.tolist() == [0]
    positions = np.zeros((4, 3, 3))
    positions[2:, 0, 2] = 0.8
    outcome = task.evaluate(positions, selection)
    assert outcome.success and outcome.success_index == 2
    observed = task.observe(positions, task.frames(positions, selection), selection, velocities=np.ones((4, 3, 3)))
    assert observed.shape == (4, 3, 6)
    # Loading the same file again replaces the task quietly.
    assert load_task_file(path) == ["toy-lift"]


def test_resolve_task_by_name_file_and_file_with_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "toy-resolve")
    assert resolve_task(str(path)).name == "toy-resolve"
    assert resolve_task(f"{path}:toy-resolve").name == "toy-resolve"
    assert resolve_task("toy-resolve").name == "toy-resolve"
    assert resolve_task("nanotube").name == "nanotube"
    with pytest.raises(ValueError, match="registers no task 'other'"):
        resolve_task(f"{path}:other")


def test_a_name_taken_by_another_task_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="already registered"):
        load_task_file(_write(tmp_path, "nanotube"))


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'.*nanotube"):
        get_task("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_task_file("/no/such/task.py")
    with pytest.raises(ValueError, match="task name"):
        register_task("bad name")
    with pytest.raises(TypeError, match="subclass"):
        register_task("not-a-task")(object)  # type: ignore[type-var]


def test_a_file_without_a_task_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty_task.py"
    path.write_text("X = 1\n")
    with pytest.raises(ValueError, match="registers no task"):
        load_task_file(path)
