"""LatestSubscription: one pending merged item, readiness, waiting, closing."""

from __future__ import annotations

import threading

from costeer.server.subscription import LatestSubscription


def summing(on_ready=None, removed=None):
    return LatestSubscription(
        merge=lambda pending, new: (pending or 0) + new or None,
        unsubscribe=removed.append if removed is not None else (lambda subscription: None),
        on_ready=on_ready,
    )


def test_pending_items_merge_and_ready_is_reported_once():
    subscription = summing()
    assert subscription._put(2) is True
    assert subscription._put(3) is False
    assert subscription._take_pending() == 5
    assert subscription._take_pending() is None


def test_a_merge_to_nothing_is_not_ready():
    subscription = summing()
    assert subscription._put(0) is False
    assert subscription._take_pending() is None


def test_wait_wakes_on_put_and_on_close():
    subscription = summing()
    threading.Timer(0.05, subscription._put, args=(7,)).start()
    assert subscription._wait_pending(5.0) == 7
    threading.Timer(0.05, subscription._mark_closed).start()
    assert subscription._wait_pending(5.0) is None and subscription.closed


def test_close_unsubscribes_and_drops_what_was_pending():
    removed: list = []
    subscription = summing(removed=removed)
    subscription._put(1)
    with subscription:
        pass
    assert removed == [subscription] and subscription.closed
    assert subscription._take_pending() is None
    assert subscription._put(4) is False


def test_on_ready_is_the_publishers_to_call():
    calls: list[int] = []
    subscription = summing(on_ready=lambda: calls.append(1))
    subscription._put(1)
    assert calls == []
    subscription._notify()
    assert calls == [1]
