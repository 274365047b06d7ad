"""The shared state: NanoVer's key/value store that every client sees and writes.

Clients write avatars, interactions, cursors...; the server writes ``simulation.name`` and
friends. Each subscriber holds the merged latest change (NanoVer's change-buffer rule), so
a slow reader costs at most one copy of the state; a subscriber that is up to date holds
the published change itself, whose encoding all such subscribers share. A key created and
removed between two reads of a subscriber never reaches it, so what it holds stays within
the state's own bounds however fast keys come and go.

Every client change first passes the state's ``KeyOwnership`` (see ``ownership``): who may
write which key, and the size limits; it also remembers which keys each writer (``origin``)
wrote, so a client's keys can be cleaned up when it leaves; the shared keys it leaves behind
stay until a present client's change needs their room. Filters may then veto updates
before they are stored (e.g. invalid interactions).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable, Mapping, TypeVar

from .ownership import KeyOwnership
from .subscription import LatestSubscription, notify_all

__all__ = [
    "SharedState",
    "StateSubscription",
    "StateListener",
    "StateFilter",
    "StateChange",
    "StateRefusedError",
    "RemovalRequestListener",
    "WriterLeftListener",
]

StateChange = dict[str, Any]
"""``{"updates": {key: value}, "removals": [key, ...]}``: NanoVer's wire form of a change."""

StateListener = Callable[[Mapping[str, Any], frozenset[str]], None]
"""Called after every change with (updates, removals), outside the state's lock."""

RemovalRequestListener = Callable[[str, frozenset[str]], None]
"""Called with (client, keys) for every removal a client asks for, stored, refused or of absent keys."""

StateFilter = Callable[[dict[str, Any], str | None, Mapping[str, Any]], dict[str, Any]]
"""Called under the lock with (updates, origin, current content); returns the updates to keep."""

WriterLeftListener = Callable[[str], None]
"""Called with a client's id when it has left (``forget_writer``)."""

Encoded = TypeVar("Encoded")

_log = logging.getLogger(__name__)


class StateRefusedError(Exception):
    """An all-or-nothing change (``atomic=True``) was refused; nothing was stored."""

    def __init__(self, refusals: Mapping[str, str]) -> None:
        self.refusals = dict(refusals)
        """Refused key -> the reason."""
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.refusals.items()))


class StateSubscription(LatestSubscription["_Change"]):
    """One consumer's pending change: the merge of everything since its last take.

        subscription = state.subscribe(on_ready=event.set)
        change = subscription.take()   # first take: the whole current content
    """

    def __init__(self, state: "SharedState", on_ready: Callable[[], None] | None) -> None:
        super().__init__(merge=_merge_changes, unsubscribe=state._unsubscribe, on_ready=on_ready)

    def take(self) -> StateChange | None:
        """The pending change as ``{"updates", "removals"}``, or ``None`` when nothing changed."""
        return _wire(self._take_pending())

    def encoded_take(self, encode: Callable[[StateChange], Encoded]) -> Encoded | None:
        """The pending change encoded by ``encode``, or ``None`` when nothing changed.

        When the pending change is exactly one published change, its encoding is shared
        with every other subscriber taking it with the same ``encode`` (encoded once per
        ``encode``: each transport passes its one module-level function, never a new closure).
        """
        pending = self._take_pending()
        if pending is None:
            return None
        if not pending.shared:
            return encode(_wire(pending))
        with pending.lock:
            encoded = pending.encodings.get(encode)
            if encoded is None:
                encoded = pending.encodings[encode] = encode(_wire(pending))
            return encoded

    def wait(self, timeout: float | None = None) -> StateChange | None:
        """Block until a change is pending (or ``timeout`` seconds, or close), then take it."""
        return _wire(self._wait_pending(timeout))


class _Change:
    """A change: one published to every subscriber (``shared``, never modified), or a
    subscription's own merge of several."""

    __slots__ = ("updates", "removals", "created", "shared", "lock", "encodings")

    def __init__(
        self,
        updates: Mapping[str, Any],
        removals: Iterable[str],
        *,
        created: Iterable[str] = (),
        shared: bool = False,
    ) -> None:
        self.updates: dict[str, Any] = {}
        self.removals: set[str] = set()
        self.created: set[str] = set()
        """Updated keys the subscriber has not seen: removing one cancels it, nothing is sent."""
        self.shared = shared
        self.lock = threading.Lock()
        self.encodings: dict[Callable[[StateChange], Any], Any] = {}
        """Each ``encode``'s result (shared changes only): one per transport's protocol."""
        self.apply(updates, removals, frozenset(created))

    def apply(self, updates: Mapping[str, Any], removals: Iterable[str], created: frozenset[str] | set[str]) -> None:
        """Merge in a later change; ``created``: its keys that did not exist before it."""
        for key in removals:
            self.updates.pop(key, None)
            if key in self.created:
                self.created.discard(key)
            else:
                self.removals.add(key)
        for key, value in updates.items():
            if key in created and key not in self.removals:
                self.created.add(key)
            self.removals.discard(key)
            self.updates[key] = value


def _merge_changes(pending: _Change | None, change: _Change) -> _Change | None:
    if pending is None:
        merged = change  # shared as it is until a second change has to be merged in
    elif pending.shared:
        merged = _Change(pending.updates, pending.removals, created=pending.created)
        merged.apply(change.updates, change.removals, change.created)
    else:
        merged = pending
        merged.apply(change.updates, change.removals, change.created)
    return merged if merged.updates or merged.removals else None


def _wire(change: _Change | None) -> StateChange | None:
    if change is None:
        return None
    updates = dict(change.updates) if change.shared else change.updates
    return {"updates": updates, "removals": sorted(change.removals)}


class SharedState:
    """A thread-safe key/value store with merged-change subscriptions, ownership and limits.

        state = SharedState()
        state.update({"avatar.abc": {...}}, origin="client-1")
        state.keys_written_by("client-1")   # {"avatar.abc"}
        state.ownership.owner_of("avatar.abc")   # "client-1"
    """

    def __init__(self, *, ownership: KeyOwnership | None = None) -> None:
        self._lock = threading.RLock()
        self._content: dict[str, Any] = {}
        self.ownership = ownership if ownership is not None else KeyOwnership()
        """Who may write which key, the limits, and who wrote what (see ``ownership``)."""
        self._subscriptions: set[StateSubscription] = set()
        self._listeners: list[StateListener] = []
        self._filters: list[StateFilter] = []
        self._removal_request_listeners: list[RemovalRequestListener] = []
        self._writer_left_listeners: list[WriterLeftListener] = []
        self._closed = False

    def update(
        self,
        updates: Mapping[str, Any],
        removals: Iterable[str] = (),
        *,
        origin: str | None = None,
        atomic: bool = False,
    ) -> dict[str, Any]:
        """Apply a change; returns the updates actually stored.

        ``origin`` names the writer (a client's connection id); ``None`` is the server
        itself, which ownership and limits never refuse. A client's keys that ownership or
        the limits refuse are left out (and logged); with ``atomic`` the whole change is
        refused instead, raising ``StateRefusedError`` (the legacy gRPC protocol's rule).
        Filters may drop more. Removals of absent keys are ignored; a key both updated and
        removed is removed.
        """
        removal_set = frozenset(removals)
        with self._lock:
            if self._closed:
                return {}
            kept = {key: value for key, value in updates.items() if key not in removal_set}
            review = self.ownership.review(kept, removal_set, origin, self._content)
            if review.refusals and atomic:
                kept, removed, created = {}, frozenset(), frozenset()
            else:
                kept, removed = review.updates, review.removals | review.evictions
                for state_filter in self._filters:
                    kept = state_filter(kept, origin, self._content)
                removed = frozenset(key for key in removed if key in self._content)
                created = frozenset(key for key in kept if key not in self._content or key in removed)
                for key in removed:
                    del self._content[key]
                self._content.update(kept)
                self.ownership.commit(kept, removed, origin, review.sizes)
            if kept or removed:
                change = _Change(kept, removed, created=created, shared=True)
                ready = [s for s in self._subscriptions if s._put(change)]
                listeners = list(self._listeners)
            else:
                ready, listeners = [], []
            refused_whole = bool(review.refusals) and atomic
            requested = list(self._removal_request_listeners) if removal_set and origin and not refused_whole else []
        self.ownership.report(origin, review.refusals)
        if review.evictions and not refused_whole:
            _log.info(
                "removed %d key(s) that departed clients left behind, oldest first, to make room for %s's change: %s",
                len(review.evictions), origin, ", ".join(sorted(review.evictions)[:10]),
            )
        for requested_listener in requested:
            try:
                requested_listener(origin, removal_set)  # type: ignore[arg-type]
            except Exception:
                _log.exception("a removal-request listener failed")
        if review.refusals and atomic:
            raise StateRefusedError({key: reason for key, (_, reason) in review.refusals.items()})
        notify_all(ready)
        for listener in listeners:
            try:
                listener(kept, removed)
            except Exception:
                _log.exception("a shared-state listener failed; the change was stored anyway")
        return kept

    def snapshot(self) -> dict[str, Any]:
        """A shallow copy of the whole state."""
        with self._lock:
            return dict(self._content)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of one key, or ``default``."""
        with self._lock:
            return self._content.get(key, default)

    def keys_written_by(self, origin: str) -> set[str]:
        """Keys still present that ``origin`` wrote last (not overwritten since by anyone else)."""
        return self.ownership.keys_written_by(origin)

    def last_writers(self) -> dict[str, str]:
        """The client that last wrote each key; keys the server wrote last are left out."""
        return self.ownership.last_writers()

    def forget_writer(self, origin: str) -> None:
        """``origin`` left (after its clean-up): release what it owns, forget what it wrote, and
        tell the writer-left listeners."""
        self.ownership.forget(origin)
        with self._lock:
            listeners = list(self._writer_left_listeners)
        for listener in listeners:
            try:
                listener(origin)
            except Exception:
                _log.exception("a writer-left listener failed")

    def subscribe(self, *, on_ready: Callable[[], None] | None = None) -> StateSubscription:
        """A new subscription whose first take is the whole current content.

        ``on_ready`` is called (from the writer's thread) when a change becomes pending.
        """
        subscription = StateSubscription(self, on_ready)
        with self._lock:
            if self._closed:
                subscription._mark_closed()
                return subscription
            ready = subscription._put(_Change(self._content, (), created=self._content))
            self._subscriptions.add(subscription)
        if ready:
            subscription._notify()
        return subscription

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(updates, removals)`` after every stored change (in the writer's thread)."""
        with self._lock:
            self._listeners.append(listener)

    def add_filter(self, state_filter: StateFilter) -> None:
        """Run ``state_filter(updates, origin, content)`` on every update before it is stored.

        It runs under the state's lock, so it sees a consistent ``content``; it must be
        quick, must not write to the state, and returns the updates to keep.
        """
        with self._lock:
            self._filters.append(state_filter)

    def add_removal_request_listener(self, listener: RemovalRequestListener) -> None:
        """Call ``listener(client, keys)`` after each client change asking to remove ``keys``,
        whether or not they were present or removed (in the writer's thread)."""
        with self._lock:
            self._removal_request_listeners.append(listener)

    def add_writer_left_listener(self, listener: WriterLeftListener) -> None:
        """Call ``listener(client)`` when a client has left (``forget_writer``)."""
        with self._lock:
            self._writer_left_listeners.append(listener)

    def close(self) -> None:
        """Refuse further changes and close every subscription."""
        with self._lock:
            self._closed = True
            subscriptions, self._subscriptions = self._subscriptions, set()
        LatestSubscription.close_all(subscriptions)

    def _unsubscribe(self, subscription: LatestSubscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
