"""SerialExecutor: one lane's calls run in order, one at a time; lanes share the pool."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest

from costeer.server.serial import SerialExecutor


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def test_a_lanes_calls_run_in_order_and_never_overlap(pool):
    lane = SerialExecutor(pool)
    running, ran, overlaps = [], [], []

    def task(index):
        if running:
            overlaps.append(index)
        running.append(index)
        threading.Event().wait(0.001)
        ran.append(index)
        running.remove(index)
        return index * 2

    futures = [lane.submit(task, index) for index in range(50)]
    assert [future.result(timeout=10) for future in futures] == [index * 2 for index in range(50)]
    assert ran == list(range(50)) and overlaps == []


def test_a_blocked_lane_does_not_hold_up_another(pool):
    blocked, free = SerialExecutor(pool), SerialExecutor(pool)
    release = threading.Event()
    stuck = blocked.submit(release.wait, 30)
    queued_behind = blocked.submit(lambda: "after")
    try:
        assert free.submit(lambda: "free").result(timeout=10) == "free"
        assert not queued_behind.done()
    finally:
        release.set()
    assert stuck.result(timeout=10) is True and queued_behind.result(timeout=10) == "after"


def test_an_exception_reaches_the_future_and_the_lane_goes_on(pool):
    lane = SerialExecutor(pool)
    failing = lane.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    assert lane.submit(lambda: "next").result(timeout=10) == "next"


def test_shutdown_cancels_what_has_not_started_and_refuses_more(pool):
    lane = SerialExecutor(pool)
    release = threading.Event()
    started = threading.Event()
    running = lane.submit(lambda: (started.set(), release.wait(30)))
    waiting = lane.submit(lambda: "never")
    assert started.wait(10)
    lane.shutdown(cancel_futures=True)
    release.set()
    running.result(timeout=10)
    with pytest.raises(CancelledError):
        waiting.result(timeout=10)
    with pytest.raises(RuntimeError, match="shut down"):
        lane.submit(lambda: None)


def test_a_shut_down_pool_fails_the_lanes_calls_instead_of_losing_them():
    pool = ThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    lane = SerialExecutor(pool)
    with pytest.raises(RuntimeError, match="shutting down"):
        lane.submit(lambda: None).result(timeout=10)
