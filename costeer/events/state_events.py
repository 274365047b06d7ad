"""``StateEvents``: shared-state changes as events (interactions started / updated / stopped, the co-pilot).

No I/O and no clock of its own: feed it each change taken from a state subscription with
``change(updates, removals, now=...)`` and ask ``due(now=...)`` for throttled events whose
time has come; both return ``(kind, payload)`` pairs (the payload without the envelope).

- ``interaction/started`` when an ``interaction.*`` key appears, ``interaction/updated`` when it
  changes (at most ``update_interval`` apart per interaction, the latest change winning: 10 a
  second by default), ``interaction/stopped`` when it goes (a held update is dropped then). Who:
  its ``owner.id``, the connection that wrote it (``writer_of``), and whether its ``label`` is an
  agent's (``keys.AGENT_LABELS``).
- ``copilot/mode`` whenever ``costeer.copilot`` is written with another mode, blend, acting or
  error than last published (the co-pilot writes it only on such changes), or removed.
- ``copilot/suggestion``: ``costeer.copilot.suggestion`` is written every frame in suggest mode;
  its latest value goes out at most every ``suggestion_interval`` (5 a second by default), and
  its removal at once (``active: false``).

A key created and removed between two takes of a subscription never reaches it (the state's
merging rule), so an interaction shorter than the gap between takes is not reported.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from costeer.core import keys

from .throttle import Throttle

__all__ = ["StateEvents", "Event", "plain"]

Event = tuple[str, dict[str, Any]]
"""(kind, payload): the kind is the topic's last part(s)."""

_SUGGESTION = "suggestion"
_STATUS_FIELDS = ("mode", "blend", "acting", "error")
"""Changes of these make a ``copilot/mode`` event."""


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: numpy to lists and numbers, tuples to lists, non-finite numbers to ``None``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


class _Live:
    """What is remembered of one live interaction."""

    __slots__ = ("who", "started", "updates")

    def __init__(self, who: dict[str, Any], started: float) -> None:
        self.who = who
        self.started = started
        self.updates = 0


class StateEvents:
    """Turns shared-state changes into interaction and co-pilot events (see the module docstring).

        events = StateEvents(writer_of=state.ownership.last_writers().get)
        for kind, payload in events.change(change["updates"], change["removals"], now=time.monotonic()): ...
    """

    def __init__(
        self,
        *,
        writer_of: Callable[[str], str | None] = lambda key: None,
        update_interval: float = 0.1,
        suggestion_interval: float = 0.2,
    ) -> None:
        self._writer_of = writer_of
        self._live: dict[str, _Live] = {}
        self._updates: Throttle[Event] = Throttle(update_interval)
        self._suggestions: Throttle[Event] = Throttle(suggestion_interval)
        self._copilot: dict[str, Any] | None = None
        """The co-pilot status last published."""

    @property
    def live_interactions(self) -> int:
        """Interactions in the state as last seen."""
        return len(self._live)

    def change(self, updates: Mapping[str, Any], removals: Iterable[str], *, now: float) -> list[Event]:
        """The events of one state change (removals first, as the state applies them)."""
        events: list[Event] = []
        for key in removals:
            if key.startswith(keys.INTERACTION_PREFIX):
                events += self._stopped(key, now)
            elif key == keys.STATE_COPILOT:
                events += self._copilot_status(None)
            elif key == keys.STATE_COPILOT_SUGGESTION:
                self._suggestions.forget(_SUGGESTION)
                events.append(("copilot/suggestion", _suggestion(None)))
        for key, value in updates.items():
            if key.startswith(keys.INTERACTION_PREFIX):
                events += self._interaction(key, value, now)
            elif key == keys.STATE_COPILOT:
                events += self._copilot_status(value)
            elif key == keys.STATE_COPILOT_SUGGESTION:
                event = self._suggestions.offer(_SUGGESTION, ("copilot/suggestion", _suggestion(value)), now=now)
                events += [event] if event is not None else []
        return events

    def due(self, *, now: float) -> list[Event]:
        """Held updates and suggestions whose time has come."""
        return self._updates.due(now=now) + self._suggestions.due(now=now)

    def next_due(self) -> float | None:
        """When the earliest held event may go, or ``None``."""
        times = [t for t in (self._updates.next_due(), self._suggestions.next_due()) if t is not None]
        return min(times) if times else None

    def _interaction(self, key: str, value: Any, now: float) -> list[Event]:
        if not isinstance(value, Mapping):
            return []
        live = self._live.get(key)
        if live is None:
            label = value.get("label")
            owner = value.get("owner.id")
            who = {
                "key": key,
                "owner_id": None if owner is None else str(owner),
                "connection": self._writer_of(key),
                "agent": label in keys.AGENT_LABELS,
                "label": None if label is None else str(label),
            }
            self._live[key] = _Live(who, now)
            self._updates.mark(key, now=now)  # the start counts: updates wait their turn after it
            return [("interaction/started", {**who, **_pull(value)})]
        live.updates += 1
        event = self._updates.offer(key, ("interaction/updated", {**live.who, **_pull(value)}), now=now)
        return [] if event is None else [event]

    def _stopped(self, key: str, now: float) -> list[Event]:
        live = self._live.pop(key, None)
        self._updates.forget(key)
        if live is None:
            return []
        return [("interaction/stopped", {**live.who, "duration_s": max(0.0, now - live.started), "updates": live.updates})]

    def _copilot_status(self, value: Any) -> list[Event]:
        previous = self._copilot
        if value is None:
            if previous is None:
                return []
            self._copilot = None
            status = {"mode": "off", "blend": None, "acting": False, "error": None,
                      "policy": previous.get("policy"), "task": previous.get("task"), "max_force": None}
            return [("copilot/mode", {**status, "previous_mode": previous["mode"], "present": False})]
        if not isinstance(value, Mapping):
            return []
        status = {
            "mode": str(value.get("mode", "off")),
            "blend": plain(value.get("blend")),
            "acting": bool(value.get("acting", False)),
            "error": None if value.get("error") is None else str(value.get("error")),
            "policy": None if value.get("policy") is None else str(value.get("policy")),
            "task": None if value.get("task") is None else str(value.get("task")),
            "max_force": plain(value.get("max_force")),
        }
        if previous is not None and all(previous[field] == status[field] for field in _STATUS_FIELDS):
            return []
        self._copilot = status
        return [("copilot/mode", {**status, "previous_mode": None if previous is None else previous["mode"], "present": True})]


def _pull(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "particles": [int(i) for i in plain(value.get("particles", []))],
        "position": plain(value.get("position", [0.0, 0.0, 0.0])),
        "interaction_type": str(value.get("interaction_type", value.get("type", "gaussian"))),
        "scale": plain(value.get("scale", 1.0)),
    }


def _suggestion(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {"active": False, "position": None, "particles": None, "interaction_type": None,
                "scale": None, "confidence": None, "frame_index": None}
    frame_index = value.get("frame.index")
    return {
        "active": True,
        "position": plain(value.get("position")),
        "particles": [int(i) for i in plain(value.get("particles", []))],
        "interaction_type": str(value.get("interaction_type", "gaussian")),
        "scale": plain(value.get("scale")),
        "confidence": plain(value.get("confidence")),
        "frame_index": None if frame_index is None else int(frame_index),
    }
