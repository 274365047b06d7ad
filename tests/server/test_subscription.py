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


def backs_of(subscription_calls: list):
    return LatestSubscription(
        merge=lambda pending, new: (pending or 0) + new or None,
        unsubscribe=lambda subscription: None,
        on_back=subscription_calls.append,
    )


def test_an_item_put_while_the_consumer_is_idle_is_awaited_until_it_comes_back_for_more():
    backs: list = []
    subscription = backs_of(backs)
    assert subscription._put(1) and subscription.awaited  # a new consumer is idle
    assert subscription._take_pending() == 1
    assert subscription.awaited and backs == []  # taken, still being handled
    assert subscription._take_pending() is None
    assert not subscription.awaited and backs == [subscription]


def test_an_item_put_while_the_consumer_is_busy_is_not_awaited():
    backs: list = []
    subscription = backs_of(backs)
    subscription._put(1)
    subscription._take_pending()  # handling it, not back yet
    backs.clear()
    subscription.awaited = False  # e.g. the publisher gave up waiting for it
    assert subscription._put(2) and not subscription.awaited


def test_a_consumer_that_waits_again_has_come_back():
    backs: list = []
    subscription = backs_of(backs)
    subscription._put(1)
    assert subscription._wait_pending(1.0) == 1 and backs == []
    threading.Timer(0.05, subscription._put, args=(2,)).start()
    assert subscription._wait_pending(5.0) == 2
    assert backs == [subscription]  # back when it began to wait, before the second item came


def test_closing_an_awaited_subscription_counts_as_back():
    backs: list = []
    subscription = backs_of(backs)
    subscription._put(1)
    subscription.close()
    assert backs == [subscription] and not subscription.awaited


def test_handled_counts_only_once_the_awaited_item_was_taken():
    backs: list = []
    subscription = backs_of(backs)
    subscription._put(1)
    subscription.handled()  # e.g. a command reply went out first: the item is still pending
    assert subscription.awaited and backs == []
    subscription._take_pending()
    subscription.handled()
    assert not subscription.awaited and backs == [subscription]
