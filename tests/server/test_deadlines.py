"""Deadlines: callbacks run at their time, in order, and one that raises stops none of the rest."""

from __future__ import annotations

import time

from costeer.server.deadlines import Deadlines
from tests.waiting import wait_until


def test_callbacks_run_in_deadline_order_and_a_failing_one_stops_nothing(caplog):
    deadlines, ran = Deadlines(), []
    now = time.monotonic()

    def fail() -> None:
        raise RuntimeError("boom")

    deadlines.add(now + 0.15, lambda: ran.append("late"))
    deadlines.add(now + 0.05, fail)
    deadlines.add(now + 0.10, lambda: ran.append("early"))
    wait_until(lambda: len(ran) == 2, timeout=5)
    assert ran == ["early", "late"] and time.monotonic() - now >= 0.15
    assert "a callback at its deadline failed" in caplog.text
