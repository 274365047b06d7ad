"""The frame hub: the runner publishes frames here, every client takes the latest merged one.

Each frame is packed once (numpy -> little-endian bytes) and encoded at most once per
protocol, however many clients receive it: the hub hands out ``SharedFrame`` objects, and
each transport asks one for its own encoding (``SharedFrame.encoding``), cached on it. A client that falls behind never queues frames: it holds
one pending frame, the merge of everything it missed, so memory stays bounded and the
publisher never waits for anyone.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from costeer.core import keys
from costeer.core.frame import FrameDict, merge_frames, pack_frame

from .subscription import LatestSubscription, notify_all

__all__ = ["FrameHub", "FrameSubscription", "SharedFrame"]

Encoded = TypeVar("Encoded")

_MISSING: Any = object()


class SharedFrame:
    """A packed frame shared by every subscriber, with its encodings, one per protocol.

        shared = SharedFrame(pack_frame(frame))
        wire = shared.encoding("nanover-msgpack", encode_frame_message)   # encoded once, then reused

    Thread-safe without a lock: two threads asking at once may both encode (the work is
    repeated, the results are equal), and either result is kept.
    """

    __slots__ = ("frame", "_encodings")

    def __init__(self, frame: FrameDict) -> None:
        self.frame = frame
        """The packed frame (arrays as bytes); never mutated after construction."""
        self._encodings: dict[str, Any] = {}

    def encoding(self, protocol: str, encode: Callable[[FrameDict], Encoded]) -> Encoded:
        """``encode(frame)``, computed on the first call for ``protocol`` and cached.

        ``protocol`` names the encoding (one ``encode`` per name: whichever call comes first
        fills the cache). An exception from ``encode`` is raised and nothing is cached.
        """
        encoded = self._encodings.get(protocol, _MISSING)
        if encoded is _MISSING:
            encoded = self._encodings[protocol] = encode(self.frame)
        return encoded

    def merged_with(self, later: "SharedFrame") -> "SharedFrame":
        """A new shared frame: this one with ``later`` applied (NanoVer's merge rule)."""
        return SharedFrame(merge_frames(self.frame, later.frame))


class FrameSubscription(LatestSubscription[SharedFrame]):
    """One consumer's view of the hub: at most one pending (merged) frame.

        subscription = hub.subscribe(on_ready=event.set)
        frame = subscription.take()           # packed dict, or None when nothing is new
        shared = subscription.take_packed()   # or the same as a SharedFrame, with its encodings
    """

    def __init__(self, hub: "FrameHub", on_ready: Callable[[], None] | None) -> None:
        super().__init__(merge=_merge_shared, unsubscribe=hub._unsubscribe, on_ready=on_ready, on_back=hub._reader_back)

    def take(self) -> FrameDict | None:
        """The pending merged packed frame, or ``None``; never blocks."""
        pending = self._take_pending()
        return None if pending is None else pending.frame

    def take_packed(self) -> SharedFrame | None:
        """The pending merged frame with its shared, cached encodings, or ``None``."""
        return self._take_pending()

    def wait(self, timeout: float | None = None) -> FrameDict | None:
        """Block until a frame is pending (or ``timeout`` seconds, or close), then take it."""
        pending = self._wait_pending(timeout)
        return None if pending is None else pending.frame


def _merge_shared(pending: SharedFrame | None, frame: SharedFrame) -> SharedFrame:
    return frame if pending is None else pending.merged_with(frame)


class FrameHub:
    """Publishes frames to any number of subscribers (implements ``FramePublisher``).

        hub = FrameHub()
        hub.send_clear(); hub.send_frame({"particle.positions": positions})
        with hub.subscribe() as subscription:
            first = subscription.take()   # the aggregate frame, frame.index 0

    Stamps frames like NanoVer: ``send_clear`` starts a sequence with ``frame.index`` 0 and
    the ``system.simulation.counter`` (0, 1, 2, ... per clear); ``send_frame`` stamps
    ``frame.index`` 1, 2, ... and ``server.timestamp`` (``time.monotonic()``). The clear is
    published together with the frame that follows it, so no client ever receives a reset
    without the topology that comes with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[FrameSubscription] = set()
        self._current: SharedFrame | None = None
        self._pending_clear: SharedFrame | None = None
        self._next_index = 0
        self._simulation_counter = 0
        self._closed = False
        self._readers = threading.Condition(threading.Lock())
        self._awaited: list[FrameSubscription] = []
        """The subscribers the last frame found idle (the publishing thread's own list)."""

    @property
    def current_frame(self) -> FrameDict | None:
        """The aggregate of every frame since the last clear, packed; ``None`` before any."""
        current = self._current
        return None if current is None else current.frame

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    def send_clear(self) -> None:
        """Start a new frame sequence (``frame.index`` 0, next simulation counter).

        Subscribers receive it merged with the next frame sent.
        """
        with self._lock:
            self._clear_locked()

    def send_frame(self, frame: FrameDict) -> None:
        """Publish one delta frame; never blocks on subscribers. ``frame`` is not modified."""
        with self._lock:
            if self._current is None:
                self._clear_locked()
            stamped: dict[str, Any] = dict(frame)
            stamped[keys.SERVER_TIMESTAMP] = time.monotonic()
            stamped[keys.FRAME_INDEX] = self._next_index
            self._next_index += 1
            packed = SharedFrame(pack_frame(stamped))
            assert self._current is not None
            self._current = self._current.merged_with(packed)
            if self._pending_clear is not None:
                packed, self._pending_clear = self._pending_clear.merged_with(packed), None
            ready = self._publish(packed)
        self._awaited = [subscription for subscription in ready if subscription.awaited]
        notify_all(ready)

    def wait_for_readers(self, timeout: float) -> bool:
        """After ``send_frame``: block until each subscriber that was idle when the frame came
        has handled it (``FrameSubscription.handled``: its client's send done), or ``timeout``
        s; True if they all did. A publisher whose threads need every core calls it so that the
        sends run between its steps rather than stalling them."""
        awaited = self._awaited
        with self._readers:
            if self._readers.wait_for(lambda: not any(subscription.awaited for subscription in awaited), timeout):
                return True
        for subscription in awaited:  # given up on: not waited for again until it is idle again
            subscription.awaited = False
        return False

    def subscribe(self, *, on_ready: Callable[[], None] | None = None) -> FrameSubscription:
        """A new subscription whose first frame is the current aggregate (if any).

        ``on_ready`` is called, from the publishing thread, each time the subscription goes
        from nothing pending to a pending frame; it must be cheap and must not block.
        """
        subscription = FrameSubscription(self, on_ready)
        with self._lock:
            if self._closed:
                subscription._mark_closed()
                return subscription
            ready = self._current is not None and subscription._put(self._current)
            self._subscriptions.add(subscription)
        if ready:
            subscription._notify()
        return subscription

    def close(self) -> None:
        """Close every subscription (their ``wait`` returns ``None``); later ones start closed."""
        with self._lock:
            self._closed = True
            subscriptions, self._subscriptions = self._subscriptions, set()
        LatestSubscription.close_all(subscriptions)

    def _clear_locked(self) -> None:
        clear = SharedFrame({keys.FRAME_INDEX: 0, keys.SIMULATION_COUNTER: self._simulation_counter})
        self._simulation_counter += 1
        self._next_index = 1
        self._current = self._pending_clear = clear

    def _publish(self, frame: SharedFrame) -> list[FrameSubscription]:
        return [subscription for subscription in self._subscriptions if subscription._put(frame)]

    def _reader_back(self, _: LatestSubscription) -> None:
        # only the last awaited reader wakes the publisher: a wake-up per reader cost the
        # simulation thread 32 GIL round trips a frame with 32 clients; the waiter checks for itself
        if any(subscription.awaited for subscription in self._awaited):
            return
        with self._readers:
            self._readers.notify_all()

    def _unsubscribe(self, subscription: LatestSubscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
