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

    A publisher may also wait for its consumer to finish with what it put: when ``_put``
    finds the consumer idle (its last take found nothing, or it is waiting), the subscription
    is ``awaited`` until the consumer has handled the item (it calls ``handled()``, e.g. once
    the item is on the wire) or comes back for more and finds nothing; then ``on_back(self)``
    is called from the consumer's thread. A consumer busy with an earlier item (say, waiting
    for a slow client's socket) is not idle, so a publisher never waits on it.
    """

    def __init__(
        self,
        *,
        merge: Callable[[Item | None, Item], Item | None],
        unsubscribe: Callable[["LatestSubscription[Item]"], None],
        on_ready: Callable[[], None] | None = None,
        on_back: "Callable[[LatestSubscription[Item]], None] | None" = None,
    ) -> None:
        self._merge = merge
        self._unsubscribe = unsubscribe
        self._on_ready = on_ready
        self._on_back = on_back
        self._condition = threading.Condition(threading.Lock())
        self._pending: Item | None = None
        self._closed = False
        self._idle = True
        """The consumer's last take found nothing (or it is waiting for an item)."""
        self.awaited = False
        """An item was put while the consumer was idle, and it has neither handled it nor come back for more."""

    @property
    def closed(self) -> bool:
        """True once the subscription or its publisher was closed."""
        return self._closed

    @property
    def pending(self) -> bool:
        """Something is waiting to be taken (a hint from another thread: it may change at once)."""
        return self._pending is not None

    def close(self) -> None:
        """Stop receiving; pending data is dropped and waiters wake up."""
        self._unsubscribe(self)
        self._mark_closed()

    def _take_pending(self) -> Item | None:
        with self._condition:
            pending, self._pending = self._pending, None
            back = self._note_take(pending)
        if back:
            self._come_back()
        return pending

    def _wait_pending(self, timeout: float | None) -> Item | None:
        with self._condition:
            back = self._pending is None and self._note_take(None)  # about to wait: idle from now
        if back:
            self._come_back()
        with self._condition:
            self._condition.wait_for(lambda: self._pending is not None or self._closed, timeout)
            pending, self._pending = self._pending, None
            back = self._note_take(pending)
        if back:
            self._come_back()
        return pending

    def handled(self) -> None:
        """The consumer is done with what it took (sent it, wrote it): a publisher waiting for it goes on."""
        with self._condition:
            back = self.awaited and not self._idle
            if back:
                self.awaited = False
        if back:
            self._come_back()

    def _note_take(self, taken: Item | None) -> bool:
        """Under the lock: the consumer took ``taken`` (``None``: found nothing); True when it
        just came back from an awaited item (call ``_come_back`` outside the lock)."""
        self._idle = taken is None
        if taken is None and self.awaited:
            self.awaited = False
            return True
        return False

    def _come_back(self) -> None:
        if self._on_back is not None:
            self._on_back(self)

    def _put(self, item: Item) -> bool:
        """Merge ``item`` in; True when the subscription just became ready (call ``_notify``)."""
        with self._condition:
            if self._closed:
                return False
            was_empty = self._pending is None
            self._pending = self._merge(self._pending, item)
            self._condition.notify_all()
            ready = was_empty and self._pending is not None
            if ready and self._idle:
                self.awaited = True
            return ready

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
            back, self.awaited = self.awaited, False
            self._condition.notify_all()
        if back:
            self._come_back()

    def __enter__(self) -> "LatestSubscription[Item]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
