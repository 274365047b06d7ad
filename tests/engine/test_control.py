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
