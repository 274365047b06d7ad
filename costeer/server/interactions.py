"""The interaction gate: only valid ``interaction.*`` entries enter the state and the simulation.

Installed as a filter on the shared state, it checks each ``interaction.<id>`` a client
writes with ``Interaction.from_state``; an invalid one is dropped (with a warning naming
the client and the reason) and never reaches the runner. It also caps how many
interactions one client and everyone together may hold. After each change it hands the
full set of live interactions to ``on_change`` (the runner's ``set_interactions``), under
its lock, so ``on_change`` must be quick and must not call back into the gate.

After a blow-up the server ``release``s the interactions that were live: from then on the
client that wrote one may not write that key again (a headset re-sends the same
interaction id for as long as the grab is held; a new grab gets a new id). The refusal ends
when that client removes the key (it let go) or leaves; the gate remembers at most the last
``MAX_RELEASED_REMEMBERED`` released keys. Refused interactions are logged once per client
and kind of refusal (``MistakeLog``), not on every write.

    gate = InteractionGate(particle_count=lambda: runner.particle_count,
                           on_change=runner.set_interactions)
    gate.install(state)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping

from costeer.core import keys
from costeer.core.interaction import Interaction, InvalidInteractionError

from .mistakes import MistakeLog
from .state import SharedState

__all__ = ["InteractionGate", "MAX_INTERACTIONS_PER_CLIENT", "MAX_INTERACTIONS_TOTAL", "MAX_RELEASED_REMEMBERED"]

MAX_INTERACTIONS_PER_CLIENT = 64
MAX_INTERACTIONS_TOTAL = 256
MAX_RELEASED_REMEMBERED = 1024
"""Released interaction keys whose writers are refused; the oldest are forgotten first."""

_RELEASED = (
    "this interaction was released when the simulation blew up; let go (remove it) and grab again "
    "to start a new one"
)


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
        self._mistakes: dict[str | None, MistakeLog] = {}
        """Refusals logged, by writer (``None``: the server, e.g. a recording played back)."""

    @property
    def interactions(self) -> dict[str, Interaction]:
        """A copy of the live interactions by state key."""
        with self._lock:
            return dict(self._interactions)

    def install(self, state: SharedState) -> None:
        """Filter ``state``'s updates through this gate and follow its removals."""
        state.add_filter(self.filter)
        state.add_listener(self._on_state_changed)
        state.add_removal_request_listener(self._on_removal_requested)
        state.add_writer_left_listener(self.forget_client)

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
                    refused.setdefault(_RELEASED, []).append(key)
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
        if refused:
            self._log_refusals(origin, refused)
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
            while len(self._released) > MAX_RELEASED_REMEMBERED:
                self._released.popitem(last=False)
            self._publish()
        return writers

    def clear(self) -> None:
        """Forget every interaction (the state keys are the caller's to remove)."""
        with self._lock:
            self._interactions.clear()
            self._writers.clear()
            self._publish()

    def forget_client(self, origin: str) -> None:
        """``origin`` left: its released keys are no longer refused, its logged refusals forgotten."""
        with self._lock:
            for key in [key for key, writer in self._released.items() if writer == origin]:
                del self._released[key]
            self._mistakes.pop(origin, None)

    @property
    def released(self) -> dict[str, str]:
        """Released keys still refused to their writers, with the writer."""
        with self._lock:
            return dict(self._released)

    def _on_removal_requested(self, origin: str, removals: frozenset[str]) -> None:
        """The writer of a released key removed it (it let go): it may write the key again."""
        with self._lock:
            for key in removals:
                if self._released.get(key) == origin:
                    del self._released[key]

    def _log_refusals(self, origin: str | None, refused: Mapping[str, list[str]]) -> None:
        """Log each kind of refusal once per writer; called outside the lock."""
        with self._lock:
            mistakes = self._mistakes.get(origin)
            if mistakes is None:
                mistakes = self._mistakes[origin] = MistakeLog(origin or "the server")
        for reason, refused_keys in refused.items():
            what = refused_keys[0] if len(refused_keys) == 1 else f"{len(refused_keys)} interactions ({refused_keys[0]}, ...)"
            mistakes.note(f"sent {what}, ignored: {reason}", kind=reason)

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
