"""One client's mistakes, logged once each: a client repeating a bad message cannot flood the log.

A mistake is logged at WARNING without a traceback (it is the client's doing, not a fault of
the server), the first time it is made; the same mistake again is not logged. After
``MAX_DISTINCT`` distinct mistakes one line says that further ones are not logged.

    mistakes = MistakeLog("client-3")
    mistakes.note("sent a bad message, ignored: 'state' must be a map")
"""

from __future__ import annotations

import logging
import threading

__all__ = ["MistakeLog", "MAX_DISTINCT"]

MAX_DISTINCT = 32
"""Distinct mistakes logged per client; beyond this, none are."""

_log = logging.getLogger(__name__)


class MistakeLog:
    """Logs what one client did wrong, each distinct mistake once."""

    def __init__(self, client: str) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._seen: set[object] = set()

    def note(self, mistake: str, *, kind: str | None = None) -> bool:
        """Log ``mistake`` (a sentence following the client's name) unless logged before; True if logged.

        With ``kind``, a mistake of that kind is logged once whatever its words (which may
        name a key that differs from one mistake to the next).
        """
        seen = mistake if kind is None else ("kind", kind)
        with self._lock:
            if seen in self._seen or len(self._seen) > MAX_DISTINCT:
                return False
            self._seen.add(seen)
            full = len(self._seen) > MAX_DISTINCT
        if full:
            _log.warning("%s made more than %d distinct mistakes; further ones are not logged", self.client, MAX_DISTINCT)
            return False
        _log.warning("%s %s (logged once per client)", self.client, mistake)
        return True
