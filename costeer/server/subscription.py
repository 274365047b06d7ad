"""Latest-merged subscriptions: what a consumer has not taken yet, merged into one item.

The frame hub and the shared state both hand each consumer the merge of everything
published since its last take, so a slow consumer costs one item of memory and never
slows the publisher. This class holds that pending item; the publishers say how to merge.

    subscription = LatestSubscription(merge=lambda pending, new: ..., on_ready=event.set,
                                      unsubscribe=publisher.remove)
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Iterable, TypeVar

__all__ = ["LatestSubscription", "notify_all", "once_after_notify"]

Item = TypeVar("Item")

_batch = threading.local()


def notify_all(subscriptions: "Iterable[LatestSubscription]") -> None:
    """Call each subscription's ``on_ready``, then, once each, what they deferred with
    ``once_after_notify`` (e.g. one wake-up of an event loop for all its ready clients)."""
    if getattr(_batch, "deferred", None) is not None:  # inside another batch: it runs the deferred
        for subscription in subscriptions:
            subscription._notify()
        return
    deferred: dict[Callable[[], None], None] = {}
    _batch.deferred = deferred
    try:
        for subscription in subscriptions:
            subscription._notify()
    finally:
        _batch.deferred = None
        for callback in deferred:  # even if an on_ready failed: the others' wake-ups are not lost
            callback()


def once_after_notify(callback: Callable[[], None]) -> bool:
    """From an ``on_ready``: run ``callback`` once after the current ``notify_all`` batch.

    Returns ``False`` when not called within a batch: then the caller runs it itself.
    """
    deferred = getattr(_batch, "deferred", None)
    if deferred is None:
        return False
    deferred[callback] = None
    return True


class LatestSubscription(Generic[Item]):
    """One consumer's pending item: the merge of everything put since its last take.

    ``merge(pending, new)`` combines a pending item with a new one (``pending`` is ``None``
    when nothing was pending) and returns ``None`` when the result holds nothing to deliver.
    ``on_ready`` is called by the publisher (never under a lock) when the subscription goes
    from nothing pending to something pending.
    """

    def __init__(
        self,
        *,
        merge: Callable[[Item | None, Item], Item | None],
        unsubscribe: Callable[["LatestSubscription[Item]"], None],
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self._merge = merge
        self._unsubscribe = unsubscribe
        self._on_ready = on_ready
        self._condition = threading.Condition(threading.Lock())
        self._pending: Item | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the subscription or its publisher was closed."""
        return self._closed

    def close(self) -> None:
        """Stop receiving; pending data is dropped and waiters wake up."""
        self._unsubscribe(self)
        self._mark_closed()

    def _take_pending(self) -> Item | None:
        with self._condition:
            pending, self._pending = self._pending, None
        return pending

    def _wait_pending(self, timeout: float | None) -> Item | None:
        with self._condition:
            self._condition.wait_for(lambda: self._pending is not None or self._closed, timeout)
            pending, self._pending = self._pending, None
        return pending

    def _put(self, item: Item) -> bool:
        """Merge ``item`` in; True when the subscription just became ready (call ``_notify``)."""
        with self._condition:
            if self._closed:
                return False
            was_empty = self._pending is None
            self._pending = self._merge(self._pending, item)
            self._condition.notify_all()
            return was_empty and self._pending is not None

    @staticmethod
    def close_all(subscriptions: "set[LatestSubscription]") -> None:
        """Close subscriptions on the publisher's behalf (their waiters wake, ``on_ready`` fires)."""
        for subscription in subscriptions:
            subscription._mark_closed()
        notify_all(subscriptions)

    def _notify(self) -> None:
        if self._on_ready is not None:
            self._on_ready()

    def _mark_closed(self) -> None:
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()

    def __enter__(self) -> "LatestSubscription[Item]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
