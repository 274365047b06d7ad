"""The interaction gate: only valid ``interaction.*`` entries enter the state and the simulation.

Installed as a filter on the shared state, it checks each ``interaction.<id>`` a client
writes with ``Interaction.from_state``; an invalid one is dropped (with a warning naming
the client and the reason) and never reaches the runner. It also caps how many
interactions one client and everyone together may hold. After each change it hands the
full set of live interactions to ``on_change`` (the runner's ``set_interactions``), under
its lock, so ``on_change`` must be quick and must not call back into the gate.

After a blow-up the server ``release``s the interactions that were live: from then on the
client that wrote one may not write that key again (a headset re-sends the same
interaction id for as long as the grab is held; a new grab gets a new id), and the first
refusal of each key is logged. The refusal lasts as long as that connection does (its id
is never reused); the gate remembers the last ``MAX_RELEASED_REMEMBERED`` released keys.

    gate = InteractionGate(particle_count=lambda: runner.particle_count,
                           on_change=runner.set_interactions)
    gate.install(state)
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping

from costeer.core import keys
from costeer.core.interaction import Interaction, InvalidInteractionError

from .state import SharedState

__all__ = ["InteractionGate", "MAX_INTERACTIONS_PER_CLIENT", "MAX_INTERACTIONS_TOTAL", "MAX_RELEASED_REMEMBERED"]

MAX_INTERACTIONS_PER_CLIENT = 64
MAX_INTERACTIONS_TOTAL = 256
MAX_RELEASED_REMEMBERED = 1024
"""Released interaction keys whose writers are refused; the oldest are forgotten first."""

_log = logging.getLogger(__name__)


class InteractionGate:
    """Validates, caps and tracks the live interactions of a shared state.

        gate = InteractionGate(particle_count=lambda: 65, on_change=print)
        gate.install(state)
        gate.interactions   # {"interaction.abc": Interaction(...)}
    """

    def __init__(
        self,
        *,
        particle_count: Callable[[], int | None],
        on_change: Callable[[dict[str, Interaction]], None] | None = None,
        max_per_client: int = MAX_INTERACTIONS_PER_CLIENT,
        max_total: int = MAX_INTERACTIONS_TOTAL,
    ) -> None:
        self._particle_count = particle_count
        self._on_change = on_change
        self._max_per_client = max_per_client
        self._max_total = max_total
        self._lock = threading.Lock()
        self._interactions: dict[str, Interaction] = {}
        self._writers: dict[str, str | None] = {}
        self._released: OrderedDict[str, str] = OrderedDict()
        """Released key -> the connection that wrote it, refused from writing it again."""
        self._refusal_logged: set[str] = set()

    @property
    def interactions(self) -> dict[str, Interaction]:
        """A copy of the live interactions by state key."""
        with self._lock:
            return dict(self._interactions)

    def install(self, state: SharedState) -> None:
        """Filter ``state``'s updates through this gate and follow its removals."""
        state.add_filter(self.filter)
        state.add_listener(self._on_state_changed)

    def filter(self, updates: dict[str, Any], origin: str | None, content: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the updates that are not interactions, and the interactions that are valid."""
        if not any(key.startswith(keys.INTERACTION_PREFIX) for key in updates):
            return updates
        particle_count = self._particle_count()
        kept: dict[str, Any] = {}
        refused: dict[str, list[str]] = {}
        with self._lock:
            for key, value in updates.items():
                if not key.startswith(keys.INTERACTION_PREFIX):
                    kept[key] = value
                    continue
                if origin is not None and self._released.get(key) == origin:
                    self._log_released_refusal(key, origin)
                    continue
                reason = self._refusal(key, origin)
                if reason is None:
                    try:
                        interaction = Interaction.from_state(value, particle_count=particle_count)
                    except InvalidInteractionError as error:
                        reason = str(error)
                if reason is not None:
                    refused.setdefault(reason, []).append(key)
                    continue
                self._interactions[key] = interaction
                self._writers[key] = origin
                kept[key] = value
        for reason, refused_keys in refused.items():
            what = refused_keys[0] if len(refused_keys) == 1 else f"{len(refused_keys)} interactions ({refused_keys[0]}, ...)"
            _log.warning("ignored %s from %s: %s", what, origin or "the server", reason)
        return kept

    def release(self, released: Iterable[str]) -> dict[str, str | None]:
        """Drop these interactions and refuse their writers further writes to them.

        Returns each key's writer (connection id; ``None`` if the server wrote it or it had
        gone already). The state keys are the caller's to remove.
        """
        with self._lock:
            writers: dict[str, str | None] = {}
            for key in released:
                self._interactions.pop(key, None)
                writer = writers[key] = self._writers.pop(key, None)
                if writer is None:
                    continue
                self._released[key] = writer
                self._released.move_to_end(key)
                self._refusal_logged.discard(key)
            while len(self._released) > MAX_RELEASED_REMEMBERED:
                forgotten, _ = self._released.popitem(last=False)
                self._refusal_logged.discard(forgotten)
            self._publish()
        return writers

    def clear(self) -> None:
        """Forget every interaction (the state keys are the caller's to remove)."""
        with self._lock:
            self._interactions.clear()
            self._writers.clear()
            self._publish()

    def _log_released_refusal(self, key: str, origin: str) -> None:
        if key in self._refusal_logged:
            _log.debug("ignored %s from %s: released after a blow-up", key, origin)
            return
        self._refusal_logged.add(key)
        _log.warning(
            "ignored %s from %s: this interaction was released when the simulation blew up; "
            "let go and grab again to start a new one (further refusals of it are not logged)",
            key, origin,
        )

    def _refusal(self, key: str, origin: str | None) -> str | None:
        if key in self._interactions:
            return None
        if len(self._interactions) >= self._max_total:
            return f"the server already holds {self._max_total} interactions (the most allowed)"
        held = sum(1 for writer in self._writers.values() if writer == origin)
        if origin is not None and held >= self._max_per_client:
            return f"this client already holds {self._max_per_client} interactions (the most allowed per client)"
        return None

    def _on_state_changed(self, updates: Mapping[str, Any], removals: frozenset[str]) -> None:
        touched = any(key.startswith(keys.INTERACTION_PREFIX) for key in (*updates, *removals))
        if not touched:
            return
        with self._lock:
            for key in removals:
                self._interactions.pop(key, None)
                self._writers.pop(key, None)
            self._publish()

    def _publish(self) -> None:
        """Hand the live set to ``on_change``; called under the lock, so hand-overs keep
        their order and the last one is always the latest set."""
        if self._on_change is not None:
            self._on_change(dict(self._interactions))
