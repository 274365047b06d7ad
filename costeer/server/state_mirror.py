"""``StateMirror``: keep two shared states equal across a link without echoing changes back.

A server that publishes to a remote hub (``remote``) holds a copy of the hub's state and the
hub a copy of its own; each side tells the other its changes, and each side hears its own
changes back (NanoVer's hub sends every change to every client, the sender included). The
mirror remembers what both sides agree on, ``key -> value``, and passes on only what differs
from it: an update of a key to the value already agreed, or a removal of a key not agreed, is
an echo and is dropped. No I/O here: the link hands it changes and sends what it returns.

    mirror = StateMirror()
    up = mirror.outgoing({"updates": {"simulation.name": "nanotube"}, "removals": []})   # send up
    down = mirror.incoming({"updates": {"simulation.name": "nanotube"}, "removals": []}) # None: echo
    farewell = {"updates": {}, "removals": mirror.local_keys()}   # on leaving: ["simulation.name"]
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .state import StateChange

__all__ = ["StateMirror"]

_ABSENT: Any = object()


class StateMirror:
    """What the local state and the remote one agree on, for one connection (a new one starts empty)."""

    def __init__(self) -> None:
        self._agreed: dict[str, Any] = {}
        self._local: set[str] = set()
        """Agreed keys whose value came from the local side."""

    def outgoing(self, change: Mapping[str, Any]) -> StateChange | None:
        """The part of a local change the remote side lacks, or ``None`` when it has all of it."""
        return self._differences(change["updates"], change["removals"], local=True)

    def incoming(self, change: Mapping[str, Any]) -> StateChange | None:
        """The part of a remote change the local side lacks, or ``None`` when it has all of it."""
        return self._differences(change.get("updates") or {}, change.get("removals") or (), local=False)

    def local_keys(self) -> list[str]:
        """The keys the remote side holds because this side sent them: what to remove there on leaving."""
        return sorted(self._local)

    def _differences(self, updates: Mapping[str, Any], removals: Iterable[str], *, local: bool) -> StateChange | None:
        new_updates = {}
        for key, value in updates.items():
            if self._agreed.get(key, _ABSENT) != value:
                self._agreed[key] = value
                new_updates[key] = value
                if local:
                    self._local.add(key)
                else:
                    self._local.discard(key)
        new_removals = [key for key in removals if self._agreed.pop(key, _ABSENT) is not _ABSENT]
        self._local.difference_update(new_removals)
        if not new_updates and not new_removals:
            return None
        return {"updates": new_updates, "removals": new_removals}
