"""Throttle: at most one item per key per interval, the latest held item going out when due."""

from __future__ import annotations

from costeer.events.throttle import Throttle


def test_first_item_goes_at_once_and_later_ones_wait_their_turn():
    throttle = Throttle(0.1)
    assert throttle.offer("a", 1, now=0.0) == 1
    assert throttle.offer("a", 2, now=0.03) is None
    assert throttle.offer("a", 3, now=0.06) is None  # replaces 2
    assert throttle.next_due() == 0.1
    assert throttle.due(now=0.09) == []
    assert throttle.due(now=0.1) == [3]
    assert throttle.next_due() is None
    assert throttle.offer("a", 4, now=0.15) is None  # 0.05 after 3 went out
    assert throttle.due(now=0.2) == [4]


def test_keys_have_their_own_clocks():
    throttle = Throttle(0.1)
    assert throttle.offer("a", 1, now=0.0) == 1
    assert throttle.offer("b", 2, now=0.01) == 2
    assert throttle.offer("a", 3, now=0.02) is None
    assert throttle.due(now=0.1) == [3]


def test_a_steady_stream_is_bounded_by_the_rate():
    throttle = Throttle(0.1)
    sent = [item for step in range(300) if (item := throttle.offer("a", step, now=step / 300)) is not None]
    sent += throttle.due(now=1.1)
    assert len(sent) <= 11  # 10 a second, plus the held last one
    assert sent[-1] == 299  # and it ends on the latest


def test_forget_drops_the_held_item_and_restarts_the_clock():
    throttle = Throttle(0.1)
    throttle.offer("a", 1, now=0.0)
    throttle.offer("a", 2, now=0.01)
    throttle.forget("a")
    assert throttle.due(now=1.0) == []
    assert throttle.offer("a", 3, now=0.02) == 3
