"""Tasks by name: a decorator to register one, look-ups, and loading a task from a Python file.

Built-in tasks are the modules of :mod:`costeer.tasks.builtin`, found on first look-up, so a
new built-in task is one new file there. A task kept elsewhere is loaded from its file:
``load_task_file("my_task.py")`` or ``resolve_task("my_task.py")`` (``--task my_task.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from costeer.tasks.task import Task

__all__ = ["get_task", "load_task_file", "register_task", "resolve_task", "task_names"]

TaskType = TypeVar("TaskType", bound=type[Task])

_REGISTRY: dict[str, type[Task]] = {}
_builtin_loaded = False


def register_task(name: str) -> Callable[[TaskType], TaskType]:
    """Class decorator: ``@register_task("nanotube") class NanotubeTask(Task): ...``.

    Registering a name again from the same module and class (a task file loaded twice)
    replaces it; from anywhere else it is an error.
    """
    if not name or not name.replace("-", "_").isidentifier():
        raise ValueError(f"task name {name!r}: use letters, digits, '-' or '_' (e.g. 'nanotube')")

    def decorate(cls: TaskType) -> TaskType:
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise TypeError(f"@register_task({name!r}) decorates a subclass of costeer.tasks.Task, not {cls!r}")
        known = _REGISTRY.get(name)
        if known is not None and _origin(known) != _origin(cls):
            raise ValueError(f"task {name!r} is already registered by {_origin(known)}: choose another name")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def task_names() -> list[str]:
    """Every registered task's name, sorted (built-in ones included)."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_task(name: str, **options: Any) -> Task:
    """A new instance of the named task (``options`` go to its constructor)."""
    _load_builtin()
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r}: choose one of {', '.join(sorted(_REGISTRY))}, "
            "or give a task file (path/to/task.py)"
        ) from None
    return cls(**options)


def load_task_file(path: str | Path) -> list[str]:
    """Import a Python file that registers tasks; returns the names it registered."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"task file {path} does not exist: give the path of a .py file defining a task")
    module_name = f"costeer_task_file_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path} as Python: task files are .py files")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    names = sorted(name for name, cls in _REGISTRY.items() if cls.__module__ == module_name)
    if not names:
        raise ValueError(
            f"{path} registers no task: decorate a costeer.tasks.Task subclass with @register_task('name')"
        )
    return names


def resolve_task(spec: str, **options: Any) -> Task:
    """A task from a name (``nanotube``), a file (``task.py``) or a file and name (``tasks.py:peptide``)."""
    _load_builtin()
    if spec in _REGISTRY:
        return get_task(spec, **options)
    file, _, chosen = spec.partition(":") if ".py:" in spec else (spec, "", "")
    if not file.endswith(".py"):
        return get_task(spec, **options)
    names = load_task_file(file)
    if not chosen:
        if len(names) > 1:
            raise ValueError(f"{file} registers several tasks ({', '.join(names)}): pick one with {file}:NAME")
        chosen = names[0]
    if chosen not in names:
        raise ValueError(f"{file} registers no task {chosen!r}: it registers {', '.join(names)}")
    return get_task(chosen, **options)


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    _builtin_loaded = True
    try:
        package = importlib.import_module("costeer.tasks.builtin")
        for module in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
            importlib.import_module(module.name)
    except BaseException:
        _builtin_loaded = False
        raise
