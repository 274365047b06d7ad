"""ControlQueue and LatestInteractions: what other threads hand the simulation thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from costeer.core.interaction import Interaction
from costeer.engine.control import ControlQueue, LatestInteractions


def test_commands_come_out_in_order_and_stop_jumps_the_queue() -> None:
    queue = ControlQueue()
    assert not queue and queue.pop() is None
    queue.put("play")
    queue.put("reset")
    queue.put("stop", first=True)
    assert queue
    assert [queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [("stop", None), ("play", None), ("reset", None), None]


def test_switches_still_queued_fail_with_the_reason_and_others_stay() -> None:
    queue = ControlQueue()
    load = queue.request_switch("load", 2)
    queue.put("play")
    following = queue.request_switch("next", None)
    queue.fail_switches("stopping")
    for done in (load, following):
        with pytest.raises(RuntimeError, match="stopping"):
            done.result(0)
    assert queue.pop() == ("play", None) and queue.pop() is None
    with pytest.raises(ValueError, match="load, next"):
        queue.request_switch("reset", None)


def test_wait_returns_when_a_command_comes() -> None:
    queue = ControlQueue()
    woke = threading.Event()
    waiter = threading.Thread(target=lambda: (queue.wait(30.0), woke.set()))
    waiter.start()
    queue.put("pause")
    assert woke.wait(10.0)
    waiter.join(10.0)
    queue.wait(30.0)  # a command is waiting: returns at once


def test_latest_interactions_are_replaced_whole_versioned_and_cleared() -> None:
    latest = LatestInteractions()
    pull = Interaction(np.zeros(3), np.array([1]))
    assert not latest and latest.get() == (0, {})
    latest.set({"interaction.a": pull})
    assert latest and latest.get() == (1, {"interaction.a": pull})
    assert latest.clear() == {"interaction.a": pull}
    assert not latest and latest.version == 2


def test_a_pull_counts_as_recent_for_a_while_after_it_ends_but_not_after_a_load() -> None:
    now = [100.0]
    latest = LatestInteractions(clock=lambda: now[0])
    pull = Interaction(np.zeros(3), np.array([1]))
    assert not latest.pulled_within(1.5)  # nothing ever pulled
    latest.set({"interaction.a": pull})
    now[0] += 60.0
    assert latest.pulled_within(0.0)  # live now, however long ago it began
    latest.set({})  # let go
    now[0] += 1.0
    assert latest.pulled_within(1.5) and not latest.pulled_within(0.5)
    now[0] += 1.0
    assert not latest.pulled_within(1.5)
    latest.set({"interaction.a": pull})
    latest.clear()  # released by a recovery: the same aftermath
    assert latest.pulled_within(0.1)
    latest.set({"interaction.a": pull})
    latest.clear(aftermath=False)  # a load: the new system carries none of it
    assert not latest.pulled_within(1.5)
