"""SimulationRunner.close: simulations closed, stop before the queue, a stuck thread, switches failed."""

from __future__ import annotations

import threading

import pytest

from tests.engine.runner_doubles import ClosableSimulation, CountingSimulation


def test_close_closes_every_simulation_that_can_be_closed(run, wait_for) -> None:
    a, b, plain = ClosableSimulation("a"), ClosableSimulation("b"), CountingSimulation("plain")
    runner, publisher = run([a, b, plain])
    wait_for(lambda: publisher.frames())
    runner.close()
    assert a.closed == b.closed == 1


def test_stop_jumps_the_queue(run, wait_for) -> None:
    slow = ClosableSimulation("slow", delay=0.1)
    runner, publisher = run([slow])
    wait_for(lambda: publisher.frames())
    runner.pause()
    wait_for(lambda: runner.is_paused)
    before = slow.advances
    for _ in range(30):
        runner.step()
    runner.close()
    assert slow.advances - before <= 1  # at most the step under way, not the 29 queued behind it
    assert slow.closed == 1


def test_close_gives_up_on_a_stuck_simulation_with_a_warning(run, caplog, wait_for) -> None:
    stuck = ClosableSimulation("stuck")
    runner, publisher = run([stuck])
    wait_for(lambda: publisher.frames())
    stuck.release.clear()
    assert stuck.held.wait(10)  # the simulation thread is now stuck in advance
    pending = runner.request_load(0)  # a switch queued behind it
    runner.close(timeout=0.3)
    assert "did not stop" in caplog.text  # close returned with the thread still stuck
    assert stuck.closed == 0  # never closed under a thread still using it
    with pytest.raises(RuntimeError, match="stopped"):
        pending.result(1)
    stuck.release.set()


def test_switches_still_queued_at_close_fail(run, wait_for) -> None:
    slow = ClosableSimulation("slow")
    runner, publisher = run([slow, CountingSimulation("other")])
    wait_for(lambda: publisher.frames())
    runner.pause()
    wait_for(lambda: runner.is_paused)
    slow.release.clear()
    runner.step()
    assert slow.held.wait(10)  # the step is under way
    pending = runner.request_load(1)
    release = threading.Timer(1.0, slow.release.set)  # the step ends once close has queued the stop
    release.start()
    runner.close()
    release.join()
    with pytest.raises(RuntimeError, match="stopped"):
        pending.result(1)
    assert slow.closed == 1 and runner.index == 0  # the thread stopped itself, without switching
