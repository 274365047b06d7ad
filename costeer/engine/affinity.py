"""Keep the thread that steps a simulation, and the CPU workers OpenMM starts for it, on one core.

    with on_core(1):                       # this thread on core 1 for the block; threads it
        context = openmm.Context(...)      # starts meanwhile (OpenMM's CPU workers) stay there
    keep_thread_on(1)                      # a thread of our own (the server's simulation thread) stays there;
    with on_core(1): integrator.step(5)    # then each chunk's on_core costs no syscall; in any other thread
                                           # (a script stepping a rollout) it pins for the chunk and restores

OpenMM's CPU platform hands every step to worker threads started with the context (one with
``Threads=1``) and waits for them. On the 2-core machines of PERF-NOTES, the nanotube (65
atoms) stepped 20-26% faster with that worker and the stepping thread kept on one core than
left to the scheduler (interleaved, 4-5 pairs; raw OpenMM and costeer's server alike), villin
(584 atoms) 7-26%; two threads gained nothing. Whether it pays on a machine is measured, not
assumed: the platform trial (``costeer.engine.platforms``) times pinned candidates beside the
others. Linux only: elsewhere nothing is pinned.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["process_cores", "least_busy_cores", "on_core", "keep_thread_on", "can_pin", "check_core", "pin_cores",
           "PIN_CANDIDATES"]

_PINNABLE = hasattr(os, "sched_setaffinity")
PIN_CANDIDATES = 2
"""With ``"auto"``, the platform trial times a pinned candidate on this many of the least busy cores."""
_thread = threading.local()
"""``core``: the core this module keeps the thread on (``None``: not pinned by it)."""


def _initial_cores() -> frozenset[int]:
    if not _PINNABLE:
        return frozenset(range(os.cpu_count() or 1))
    return frozenset(os.sched_getaffinity(os.getpid()))


_PROCESS_CORES = _initial_cores()


def process_cores() -> frozenset[int]:
    """The cores this process may run on (its affinity when this module was imported)."""
    return _PROCESS_CORES


def can_pin() -> bool:
    """Whether pinning can change anything here: Linux, and more than one core allowed."""
    return _PINNABLE and len(_PROCESS_CORES) > 1


def _idle_ticks() -> dict[int, int]:
    """Idle + iowait ticks of each core since boot, from ``/proc/stat``."""
    ticks: dict[int, int] = {}
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks[int(name[3:])] = int(fields[3]) + int(fields[4])
    return ticks


def least_busy_cores(count: int, *, sample_seconds: float = 0.05) -> list[int]:
    """Up to ``count`` of this process's cores, the most idle over ``sample_seconds`` first.

    Without ``/proc/stat`` (not Linux) the lowest-numbered cores.
    """
    cores = sorted(_PROCESS_CORES)
    try:
        before = _idle_ticks()
        time.sleep(sample_seconds)
        after = _idle_ticks()
    except OSError:
        return cores[:count]
    return sorted(cores, key=lambda core: (-(after.get(core, 0) - before.get(core, 0)), core))[:count]


def _set(core: int | None) -> None:
    os.sched_setaffinity(0, {core} if core is not None else _PROCESS_CORES)
    _thread.core = core


def keep_thread_on(core: int | None) -> None:
    """Keep the calling thread on ``core``; ``None``: back on every core if this module had pinned it."""
    if not _PINNABLE or getattr(_thread, "core", None) == core:
        return
    _set(core)


@contextmanager
def on_core(core: int | None) -> Iterator[None]:
    """The calling thread on ``core`` for the block, then as it was; ``None``: leave it alone.

    A thread already kept on ``core`` (``keep_thread_on``) costs nothing. Threads a process starts
    inherit their starter's cores, so a caller's thread must not stay pinned after the block."""
    if core is None or not _PINNABLE or getattr(_thread, "core", None) == core:
        yield
        return
    previous = getattr(_thread, "core", None)
    _set(core)
    try:
        yield
    finally:
        _set(previous)


def check_core(setting: int | str | None) -> None:
    """Raise ``ValueError`` unless ``setting`` is ``None``, ``"auto"``, ``"off"`` or one of this process's cores."""
    if setting is None or setting in ("auto", "off"):
        return
    if isinstance(setting, bool) or not isinstance(setting, int) or setting not in _PROCESS_CORES:
        allowed = ", ".join(map(str, sorted(_PROCESS_CORES)))
        raise ValueError(f"no core {setting!r} to keep the simulation on: give auto, off or one of {allowed}")


def pin_cores(setting: int | str | None) -> list[int]:
    """The cores to time a pinned candidate on: ``"auto"``, the least busy (none where pinning
    cannot change anything); a core number, that core; ``None`` or ``"off"``, none."""
    check_core(setting)
    if setting is None or setting == "off":
        return []
    if setting == "auto":
        return least_busy_cores(PIN_CANDIDATES) if can_pin() else []
    return [setting]
