"""``Throttle``: at most one item per key every ``interval`` seconds, the latest one winning.

An item offered too soon after the last one let through for its key is held back; a later
offer replaces it, and it goes out when its time comes (``due``). So a stream of changes
becomes a bounded stream that still ends on the last change. No clock of its own: every
call takes ``now``, which keeps it testable without sleeping.

    throttle = Throttle(0.1)
    throttle.offer("interaction.a", item, now=0.00)   # -> item (nothing recent)
    throttle.offer("interaction.a", later, now=0.03)  # -> None (held)
    throttle.due(now=0.10)                            # -> [later]
"""

from __future__ import annotations

from typing import Generic, Hashable, TypeVar

__all__ = ["Throttle"]

Item = TypeVar("Item")


class Throttle(Generic[Item]):
    """Latest-wins rate limit per key (see the module docstring)."""

    def __init__(self, interval: float) -> None:
        if not interval >= 0:
            raise ValueError(f"a throttle's interval must be >= 0 s, got {interval}")
        self.interval = interval
        self._last: dict[Hashable, float] = {}
        """When each key last let an item through."""
        self._held: dict[Hashable, Item] = {}

    def offer(self, key: Hashable, item: Item, *, now: float) -> Item | None:
        """``item`` when it may go now; otherwise ``None`` (held, replacing any held before)."""
        last = self._last.get(key)
        if last is None or now - last >= self.interval:
            self._last[key] = now
            self._held.pop(key, None)
            return item
        self._held[key] = item
        return None

    def due(self, *, now: float) -> list[Item]:
        """The held items whose time has come (each key's clock restarts)."""
        ready = [key for key in self._held if now - self._last[key] >= self.interval]
        for key in ready:
            self._last[key] = now
        return [self._held.pop(key) for key in ready]

    def next_due(self) -> float | None:
        """When the earliest held item may go, or ``None`` when nothing is held."""
        if not self._held:
            return None
        return min(self._last[key] for key in self._held) + self.interval

    def mark(self, key: Hashable, *, now: float) -> None:
        """Count something sent for ``key`` at ``now`` by other means (its next item waits its turn)."""
        self._held.pop(key, None)
        self._last[key] = now

    def forget(self, key: Hashable) -> None:
        """Drop the key's held item and its clock (its next item goes at once)."""
        self._last.pop(key, None)
        self._held.pop(key, None)
