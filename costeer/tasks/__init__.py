"""Tasks: what people do in VR, one small file each (system, grabbed and observed atoms, frame, success).

    task = get_task("nanotube")                         # or resolve_task("path/to/task.py")
    chemistry = Chemistry.from_frame(first_frame)
    selection = task.select(chemistry)
    outcome = task.evaluate(positions, selection)       # positions (T, n, 3), nm
    hand = task.demonstrator(selection, chemistry, positions[0], np.random.default_rng(1))   # a synthetic person
"""

from __future__ import annotations

from costeer.tasks.chemistry import Chemistry, ChemistryError
from costeer.tasks.frame import TaskFrame
from costeer.tasks.hand import Hand, human_scale
from costeer.tasks.noise import SmoothNoise
from costeer.tasks.registry import get_task, load_task_file, register_task, resolve_task, task_names
from costeer.tasks.system import BuiltSystem
from costeer.tasks.task import AtomSelection, Outcome, Task

__all__ = [
    "AtomSelection",
    "BuiltSystem",
    "Chemistry",
    "ChemistryError",
    "Hand",
    "Outcome",
    "SmoothNoise",
    "Task",
    "TaskFrame",
    "build_task_system",
    "get_task",
    "human_scale",
    "load_task_file",
    "register_task",
    "resolve_task",
    "task_names",
]


def build_task_system(name: str) -> BuiltSystem:
    """Build the named task's system (a registered name or a task file); ``ValueError`` names the known tasks."""
    return resolve_task(name).build_system()
