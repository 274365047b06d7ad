"""Keeping a thread, and the OpenMM CPU workers it starts, on one core (Linux)."""

from __future__ import annotations

import os
import threading

import pytest

from costeer.engine import affinity
from costeer.engine.affinity import check_core, keep_thread_on, least_busy_cores, on_core, pin_cores, process_cores

pytestmark = pytest.mark.skipif(not affinity.can_pin(), reason="needs Linux and two cores to pin to")

CORES = sorted(process_cores())


def _here() -> set[int]:
    return os.sched_getaffinity(0)


def _threads_on(core_set: set[int]) -> set[int]:
    """Thread ids of this process whose affinity is exactly ``core_set``."""
    return {int(tid) for tid in os.listdir("/proc/self/task") if os.sched_getaffinity(int(tid)) == core_set}


def _in_thread(work):
    """Run ``work()`` in a fresh thread (its affinity starts as the process's) and return its result."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_on_core_pins_the_thread_for_the_block_then_restores_it() -> None:
    def work():
        with on_core(CORES[-1]):
            inside = _here()
        return inside, _here()

    inside, after = _in_thread(work)
    assert inside == {CORES[-1]} and after == set(CORES)


def test_keep_thread_on_pins_and_releases() -> None:
    def work():
        keep_thread_on(CORES[0])
        pinned = _here()
        keep_thread_on(None)
        return pinned, _here()

    pinned, released = _in_thread(work)
    assert pinned == {CORES[0]} and released == set(CORES)


def test_core_settings_are_checked_with_a_reason() -> None:
    for good in (None, "auto", "off", CORES[0]):
        check_core(good)
    with pytest.raises(ValueError, match="auto, off or one of"):
        check_core(max(CORES) + 1)
    with pytest.raises(ValueError, match="no core"):
        check_core("two")
    assert pin_cores("off") == [] and pin_cores(None) == [] and pin_cores(CORES[1]) == [CORES[1]]
    auto = pin_cores("auto")
    assert 1 <= len(auto) <= affinity.PIN_CANDIDATES and set(auto) <= set(CORES) and len(set(auto)) == len(auto)
    assert least_busy_cores(1, sample_seconds=0.01)[0] in CORES


def test_a_pinned_simulation_keeps_its_worker_on_its_core_and_a_callers_thread_as_it_was(nanotube_xml) -> None:
    """A script (or a test) stepping a pinned simulation in its own thread gets that thread back on every
    core: processes it starts later inherit its cores (a Python 3.13 server so started ran on one core)."""
    from costeer.engine.nanover_xml import read_nanover_xml
    from costeer.engine.openmm_simulation import OpenMMSimulation

    core = CORES[-1]
    loaded = read_nanover_xml(nanotube_xml)
    before = _threads_on({core})
    pinned = OpenMMSimulation(loaded, platform="CPU", cpu_threads=1, cpu_core=core)
    pinned.load()  # a core given: the 1-thread CPU platform only kept on it, not timed against the OS's choice
    assert str(pinned.platform_candidate) == f"CPU (1 thread, core {core})"
    assert len(_threads_on({core}) - before) == 1  # OpenMM's CPU worker, started on the core

    def steps():
        pinned.reset()
        pinned.run_chunk()
        pinned.advance(1 / 30)
        return _here()

    assert _in_thread(steps) == set(CORES)
    pinned.close()


def test_the_runners_simulation_thread_is_kept_on_its_simulations_core(nanotube_xml, publisher, wait_for) -> None:
    from costeer.engine.nanover_xml import read_nanover_xml
    from costeer.engine.openmm_simulation import OpenMMSimulation
    from costeer.engine.runner import SimulationRunner

    core = CORES[-1]
    before = _threads_on({core})
    runner = SimulationRunner([OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="CPU", cpu_threads=1,
                                                cpu_core=core)], publisher, free_run=True)
    runner.start()
    try:
        wait_for(lambda: len(_threads_on({core}) - before) == 2)  # OpenMM's worker and the runner's own thread
    finally:
        runner.close()
