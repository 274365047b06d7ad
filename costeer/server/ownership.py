"""Who may write each shared-state key, and how much a client may store there.

Every change a client makes to the shared state passes :meth:`KeyOwnership.review`, the one
place where writes are allowed or refused. Keys are of three kinds:

- **the server's** (``simulation.name``, ``costeer.session``, ... :data:`SERVER_KEYS`):
  read-only to clients;
- **owned** (``interaction.*``, ``avatar.*``, ``cursor.*``, ... :data:`OWNED_PREFIXES`): the
  client that writes one while it is free owns it until the key is removed or the client
  leaves; no other client may overwrite or remove it;
- **shared** (everything else: ``scene``, ``transform.simulation``, ``selection.*``,
  ``costeer.demonstrator``): writable by all.

On top of that a client may *lock* any key that is not the server's for a while
(:meth:`KeyOwnership.acquire` with durations, :meth:`~KeyOwnership.release`): the model of
the legacy gRPC protocol's ``UpdateLocks``, whose ``UpdateState`` then fails as a whole when
it touches a key locked by another client (``SharedState.update(..., atomic=True)``).
The server itself (``origin`` ``None``, which includes recording playback) is never refused.

A value holding NaN or infinity anywhere (an avatar's position, a nested map) is refused:
no client could use it, and some would fail on it. The one exception is an interaction's
``max_force`` of +infinity, which NanoVer's VR client sends to mean "no cap of its own".

Limits (:class:`StateLimits`) keep the state small enough that a client joining, whose first
state message carries all of it, is never dropped by websockets' default 1 MiB message limit
(NanoVer's Python client raises its own to 128 MiB; other clients keep the default). A
state message carries the keys changed since the client last read (at most the whole state,
bounded by ``max_state_bytes``) and the names of keys removed since (at most those it had
seen, whose names count in ``max_state_bytes`` too): 2 x 448 KiB, plus the server's own few
keys (about 1 KiB) and the envelope, stays under 1 MiB. A refused key is logged once per
client and kind of refusal, at WARNING, naming the client and the key.

Keys a departed client wrote last and its clean-up left (shared keys such as ``selection.*``
or ``scene``) stay, as in NanoVer, where a notebook's selections outlive its connection; but
they belong to nobody present, so they never crowd out the clients that are: when a
client's change would take the state past ``max_keys`` or ``max_state_bytes``, the oldest
such keys left behind are removed to make room (``Review.evictions``) before anything is
refused. Clients that join and leave again and again therefore cannot fill the state so
that a newcomer's avatar is refused. A key someone locks is not removed.

    ownership = KeyOwnership()
    state = SharedState(ownership=ownership)
    state.update({"avatar.u1": {...}}, origin="client-1")   # client-1 now owns avatar.u1
    state.update({"avatar.u1": {...}}, origin="client-2")   # refused (logged)
    ownership.acquire("client-2", {"scene": 5.0})            # scene is client-2's for 5 s
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from costeer.core import keys

from .state_values import encoded, encoded_size, holds_non_finite, may_hold_non_finite, without_uncapped_force

__all__ = [
    "KeyOwnership",
    "LockRefusedError",
    "StateLimits",
    "Review",
    "SERVER_KEYS",
    "PER_USER_PREFIXES",
    "OWNED_PREFIXES",
    "holds_non_finite",
]

SERVER_KEYS = keys.SERVER_STATE_KEYS
"""Keys only the server writes (``costeer.core.keys.SERVER_STATE_KEYS``)."""

PER_USER_PREFIXES = (keys.AVATAR_PREFIX, "playarea.", "update.index.", "cursor.", "user-origin.")
"""Keys ``<prefix><user id>...`` that describe one user."""

OWNED_PREFIXES = (keys.INTERACTION_PREFIX, *PER_USER_PREFIXES)
"""Keys that belong to the client that wrote them."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StateLimits:
    """How much the clients together, and each of them, may keep in the shared state.

    Real VR sessions hold about 10 keys, none over 500 bytes; these leave ample room while
    keeping the whole state within one 1 MiB message (see the module's docstring).
    """

    max_key_chars: int = 256
    """Longest key name (NanoVer's longest, ``cursor.<uuid>.left``, has 48)."""
    max_value_bytes: int = 128 * 1024
    """Largest value, msgpack-encoded with its key (a selection of ~40,000 atoms)."""
    max_keys_per_client: int = 256
    """Keys one client may have written last at once."""
    max_keys: int = 2048
    """Keys in the whole state."""
    max_state_bytes: int = 448 * 1024
    """The whole state, msgpack-encoded."""


class LockRefusedError(Exception):
    """Locks that could not be taken: the message says which keys and why."""


@dataclass
class Review:
    """What :meth:`KeyOwnership.review` lets through of one change, and why it refused the rest."""

    updates: dict[str, Any]
    removals: frozenset[str]
    refusals: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Refused key -> (kind of refusal, the reason in words)."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Encoded size of each reviewed update, for :meth:`KeyOwnership.commit`."""
    evictions: frozenset[str] = frozenset()
    """Keys left behind by departed clients, to remove so that the updates fit the limits."""


@dataclass
class _Claim:
    owner: str
    expires: float | None = None
    """``clock()`` time the claim ends; ``None``: until released (or the key is removed)."""
    locked: bool = False
    """An explicit lock (kept when the key is removed) rather than a writer's ownership."""


class KeyOwnership:
    """Ownership, locks, limits and writer bookkeeping for one shared state.

    ``review`` and ``commit`` are called by ``SharedState`` under its lock; ``acquire``,
    ``release`` and ``forget`` may be called from any thread.
    """

    def __init__(
        self,
        *,
        limits: StateLimits = StateLimits(),
        server_keys: Iterable[str] = SERVER_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.server_keys = frozenset(server_keys)
        self._clock = clock
        self._lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}
        self._last_writer: dict[str, str] = {}
        """The client that last wrote each key; keys the server wrote last are absent."""
        self._written: dict[str, set[str]] = {}
        """Keys by the client that last wrote them (the inverse of ``_last_writer``)."""
        self._left_behind: dict[str, str] = {}
        """Keys still present whose last writer has left, oldest departure first, with that writer."""
        self._sizes: dict[str, int] = {}
        self._total_bytes = 0
        self._logged: set[tuple[str, str]] = set()

    @property
    def total_bytes(self) -> int:
        """The state's size as the limits count it (msgpack, keys and values)."""
        with self._lock:
            return self._total_bytes

    def owner_of(self, key: str) -> str | None:
        """The client owning or locking ``key`` now, or ``None``."""
        with self._lock:
            claim = self._live_claim(key)
            return None if claim is None else claim.owner

    def last_writers(self) -> dict[str, str]:
        """The client that last wrote each key; keys the server wrote last are left out."""
        with self._lock:
            return dict(self._last_writer)

    def keys_written_by(self, origin: str) -> set[str]:
        """Keys still present that ``origin`` wrote last."""
        with self._lock:
            return set(self._written.get(origin, ()))

    def left_behind(self) -> dict[str, str]:
        """Keys still present whose last writer has left, with that writer, oldest departure first."""
        with self._lock:
            return dict(self._left_behind)

    def acquire(self, owner: str, locks: Mapping[str, float | None]) -> None:
        """Lock every key of ``locks`` for ``owner``, each for its duration in seconds
        (``None``: until released), or none of them (the legacy gRPC ``UpdateLocks`` rule).

        Raises ``LockRefusedError`` naming each key that is the server's or held by another
        client, a duration that is not a finite number of seconds, or locks beyond
        ``max_keys_per_client``. Locking a key again renews it.
        """
        with self._lock:
            problems = [reason for key in locks if (reason := self._write_refusal(owner, key)) is not None]
            problems += [
                ("duration", f"the lock on {key} must last a finite number of seconds or until released, got {duration!r}")
                for key, duration in locks.items()
                if duration is not None
                and (isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < math.inf)
            ]
            held = {key for key in list(self._claims) if (claim := self._live_claim(key)) and claim.owner == owner}
            if len(held | set(locks)) > self.limits.max_keys_per_client:
                problems.append(("locks", f"a client may hold at most {self.limits.max_keys_per_client} locks"))
            if problems:
                raise LockRefusedError("; ".join(reason for _, reason in problems))
            now = self._clock()
            for key, duration in locks.items():
                self._claims[key] = _Claim(owner, None if duration is None else now + duration, locked=True)

    def release(self, owner: str, keys: Iterable[str]) -> None:
        """Release ``owner``'s locks or ownership of ``keys``; claims held by others stay."""
        with self._lock:
            for key in keys:
                claim = self._claims.get(key)
                if claim is not None and claim.owner == owner:
                    del self._claims[key]

    def forget(self, origin: str) -> None:
        """``origin`` left: release all it owns or locks, and mark the keys it wrote last as left behind."""
        with self._lock:
            for key in [key for key, claim in self._claims.items() if claim.owner == origin]:
                del self._claims[key]
            for key in sorted(self._written.pop(origin, ())):
                self._last_writer.pop(key, None)
                self._left_behind[key] = origin
            self._logged = {entry for entry in self._logged if entry[0] != origin}

    def review(
        self, updates: Mapping[str, Any], removals: Iterable[str], origin: str | None, content: Mapping[str, Any]
    ) -> Review:
        """The part of a change ``origin`` may make to ``content``, and why the rest is refused."""
        if origin is None:
            return Review(dict(updates), frozenset(removals))
        review = Review({}, frozenset())
        kept_removals = set()
        with self._lock:
            for key in removals:
                if key not in content:
                    continue
                refusal = self._write_refusal(origin, key)
                if refusal is None:
                    kept_removals.add(key)
                else:
                    review.refusals[key] = refusal
            review.removals = frozenset(kept_removals)
            total = self._total_bytes - sum(self._sizes.get(key, 0) for key in kept_removals)
            own_keys = len(self._written.get(origin, ())) - sum(
                1 for key in kept_removals if self._last_writer.get(key) == origin
            )
            key_count = len(content) - len(kept_removals)
            evictable = (key for key in list(self._left_behind) if key not in updates and key not in kept_removals)
            evictions: set[str] = set()
            for key, value in updates.items():
                new_key = key not in content or key in kept_removals
                new_to_origin = new_key or self._last_writer.get(key) != origin
                size = 0
                refusal = self._write_refusal(origin, key) or self._client_count_refusal(own_keys, new_to_origin)
                if refusal is None:
                    size, refusal = self._size_refusal(key, value)
                grown = total + size - (0 if new_key else self._sizes.get(key, 0))
                while refusal is None and ((new_key and key_count >= self.limits.max_keys) or grown > self.limits.max_state_bytes):
                    victim = next((k for k in evictable if self._live_claim(k) is None), None)
                    if victim is None:
                        refusal = self._total_refusal(new_key=new_key, key_count=key_count)
                        break
                    evictions.add(victim)
                    key_count -= 1
                    freed = self._sizes.get(victim, 0)
                    total -= freed
                    grown -= freed
                if refusal is not None:
                    review.refusals[key] = refusal
                    continue
                review.updates[key] = value
                review.sizes[key] = size
                total = grown
                own_keys += new_to_origin
                key_count += new_key
            review.evictions = frozenset(evictions)
        return review

    def commit(self, stored: Mapping[str, Any], removed: Iterable[str], origin: str | None, sizes: Mapping[str, int]) -> None:
        """Record a change the state stored: sizes, writers, and the ownership it gave."""
        with self._lock:
            for key in removed:
                self._forget_key(key)
                self._left_behind.pop(key, None)
                claim = self._claims.get(key)
                if claim is not None and not claim.locked:
                    del self._claims[key]
            for key, value in stored.items():
                size = sizes.get(key)
                if size is None:
                    size = encoded_size(key, value) or 0
                self._total_bytes += size - self._sizes.get(key, 0)
                self._sizes[key] = size
                self._left_behind.pop(key, None)
                previous = self._last_writer.get(key)
                if previous is not None and previous != origin:
                    self._written[previous].discard(key)
                if origin is None:
                    self._last_writer.pop(key, None)
                    continue
                self._last_writer[key] = origin
                self._written.setdefault(origin, set()).add(key)
                if key.startswith(OWNED_PREFIXES) and self._live_claim(key) is None:
                    self._claims[key] = _Claim(origin)

    def report(self, origin: str | None, refusals: Mapping[str, tuple[str, str]]) -> None:
        """Log refusals at WARNING, once per client and kind of refusal."""
        if origin is None:
            return
        for key, (kind, reason) in refusals.items():
            with self._lock:
                if (origin, kind) in self._logged:
                    continue
                self._logged.add((origin, kind))
            _log.warning(
                "refused %s's change to %s: %s (further refusals of this kind from %s are not logged)",
                origin, key[:80], reason, origin,
            )

    def _forget_key(self, key: str) -> None:
        self._total_bytes -= self._sizes.pop(key, 0)
        writer = self._last_writer.pop(key, None)
        if writer is not None:
            self._written[writer].discard(key)

    def _live_claim(self, key: str) -> _Claim | None:
        claim = self._claims.get(key)
        if claim is not None and claim.expires is not None and self._clock() >= claim.expires:
            del self._claims[key]
            return None
        return claim

    def _write_refusal(self, origin: str, key: str) -> tuple[str, str] | None:
        if key in self.server_keys:
            return "server", f"{key} is the server's and read-only to clients"
        claim = self._live_claim(key)
        if claim is not None and claim.owner != origin:
            held = "locked" if claim.locked else "owned"
            return held, f"{key} is {held} by {claim.owner}"
        return None

    def _size_refusal(self, key: str, value: Any) -> tuple[int, tuple[str, str] | None]:
        limits = self.limits
        if len(key) > limits.max_key_chars:
            return 0, ("key", f"a key may have at most {limits.max_key_chars} characters, this one has {len(key)}")
        message = encoded(key, value)
        if message is None:
            return 0, ("value", f"the value of {key} cannot be sent to clients")
        size = len(message)
        if size > limits.max_value_bytes:
            return size, ("value", f"{key} takes {size} bytes, over the {limits.max_value_bytes}-byte limit per value")
        if may_hold_non_finite(message) and holds_non_finite(without_uncapped_force(key, value)):
            return size, ("non-finite", f"{key} holds NaN or infinity, which other clients cannot use")
        return size, None

    def _client_count_refusal(self, own_keys: int, new_to_origin: bool) -> tuple[str, str] | None:
        limits = self.limits
        if new_to_origin and own_keys >= limits.max_keys_per_client:
            return "client-keys", f"this client already holds {limits.max_keys_per_client} keys (the most allowed per client)"
        return None

    def _total_refusal(self, *, new_key: bool, key_count: int) -> tuple[str, str]:
        """Why a change that passed every other check does not fit the whole state's limits."""
        limits = self.limits
        if new_key and key_count >= limits.max_keys:
            return "keys", f"the shared state already holds {limits.max_keys} keys (the most allowed)"
        return "bytes", f"the shared state would exceed its {limits.max_state_bytes}-byte limit"
