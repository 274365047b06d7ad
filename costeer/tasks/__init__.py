"""Built-in tasks by name: each task lives in its own module and registers its builder here."""

from __future__ import annotations

from collections.abc import Callable

from costeer.tasks.nanotube import build_nanotube_system
from costeer.tasks.system import BuiltSystem

__all__ = ["TASKS", "BuiltSystem", "build_task_system"]

TASKS: dict[str, Callable[[], BuiltSystem]] = {
    "nanotube": build_nanotube_system,
}
"""Task name -> function building that task's system afresh."""


def build_task_system(name: str) -> BuiltSystem:
    """Build the named task's system; raises ``ValueError`` naming the known tasks otherwise."""
    try:
        builder = TASKS[name]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise ValueError(f"unknown task {name!r}: choose one of {known}") from None
    return builder()
