"""``Backoff``: how long to wait before trying a peer again (a remote hub, a discovery service).

    backoff = Backoff(first=0.5, cap=30)
    delay = backoff.next()    # 0.5, then 1, 2, 4, ... up to 30 s
    backoff.reset()           # after a success: the next failure waits ``first`` again
"""

from __future__ import annotations

__all__ = ["Backoff"]


class Backoff:
    """Delays that double from ``first`` seconds up to ``cap`` seconds, until ``reset``."""

    def __init__(self, *, first: float = 0.5, cap: float = 30.0) -> None:
        if not 0 < first <= cap:
            raise ValueError(f"a backoff needs 0 < first <= cap, got first={first}, cap={cap}")
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the one after (to ``cap``)."""
        delay = self._next
        self._next = min(self.cap, delay * 2)
        return delay

    def reset(self) -> None:
        """The peer answered: start again from ``first``."""
        self._next = self.first
