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

Each origin (writer) has a role (``OriginRole``): a person's by default; the server may
make an origin an agent's (``set_role``), and an interaction labelled as an agent's
(``keys.AGENT_LABELS``) is an agent's whatever its origin (declaring itself an agent only
restricts a client). An agent's interactions have their ``max_force`` capped, and people
win: an agent interaction that shares atoms with a person's is withheld from the runner
(kept in the state) while the person holds on, unless it carries ``"blend": ALPHA`` with
0 < ALPHA < 1; then its scale is capped at ``ALPHA/(1-ALPHA)`` times the person's, so the
person's weight in the combined pull never falls below 1-ALPHA. ``remove(origin)`` takes
every interaction an origin wrote out of the gate and the state at once.

    gate = InteractionGate(particle_count=lambda: runner.particle_count,
                           on_change=runner.set_interactions)
    gate.install(state)
    gate.set_role("costeer-copilot", OriginRole("agent", max_force=2000.0))
    gate.remove("costeer-copilot")   # ["interaction.costeer-copilot"]
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping

import numpy as np

from costeer.core import keys
from costeer.core.interaction import Interaction, InvalidInteractionError

from .mistakes import MistakeLog
from .state import SharedState

__all__ = [
    "InteractionGate",
    "OriginRole",
    "PERSON_ROLE",
    "AGENT_ROLE",
    "DEFAULT_AGENT_MAX_FORCE",
    "MAX_INTERACTIONS_PER_CLIENT",
    "MAX_INTERACTIONS_TOTAL",
    "MAX_RELEASED_REMEMBERED",
]

MAX_INTERACTIONS_PER_CLIENT = 64
MAX_INTERACTIONS_TOTAL = 256
MAX_RELEASED_REMEMBERED = 1024
"""Released interaction keys whose writers are refused; the oldest are forgotten first."""

DEFAULT_AGENT_MAX_FORCE = 2000.0
"""Cap on each force of an agent with no role of its own, kJ/(mol nm) (the co-pilot's default)."""


@dataclass(frozen=True)
class OriginRole:
    """What one writer's interactions may do.

        OriginRole("agent", max_force=2000.0, max_interactions=1)
    """

    kind: Literal["person", "agent"]
    max_force: float | None = None
    """Cap on each of its interactions' ``max_force``, kJ/(mol nm); ``None``: no cap of its own."""
    max_interactions: int | None = None
    """Most interactions it may hold at once (besides the gate's per-client cap); ``None``: no own cap."""
    yields_to_people: bool = True
    """An agent's interaction on atoms a person holds is withheld (or blended) while the person holds."""

    def __post_init__(self) -> None:
        if self.kind not in ("person", "agent"):
            raise ValueError(f"an origin's role kind is 'person' or 'agent', got {self.kind!r}")
        if self.max_force is not None and not (self.max_force >= 0):
            raise ValueError(f"max_force must be >= 0 or None, got {self.max_force}")
        if self.max_interactions is not None and self.max_interactions < 0:
            raise ValueError(f"max_interactions must be >= 0 or None, got {self.max_interactions}")


PERSON_ROLE = OriginRole("person")
"""The role of an origin the server said nothing about."""
AGENT_ROLE = OriginRole("agent", max_force=DEFAULT_AGENT_MAX_FORCE)
"""The role of an interaction labelled as an agent's from an origin with no agent role."""

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
        self._roles: dict[str, OriginRole] = {}
        self._agents: dict[str, OriginRole] = {}
        """Live interactions that are an agent's, with the role they were accepted under."""
        self._applied: dict[str, Interaction] = {}
        self._state: SharedState | None = None

    @property
    def interactions(self) -> dict[str, Interaction]:
        """A copy of the live interactions by state key."""
        with self._lock:
            return dict(self._interactions)

    @property
    def applied(self) -> dict[str, Interaction]:
        """A copy of the interactions last handed to the runner (people win, caps applied)."""
        with self._lock:
            return dict(self._applied)

    def set_role(self, origin: str, role: OriginRole) -> None:
        """Give ``origin`` a role; it holds for the interactions it writes from now on."""
        with self._lock:
            self._roles[origin] = role

    def role(self, origin: str | None) -> OriginRole:
        """The role of ``origin`` (a person's unless ``set_role`` said otherwise)."""
        with self._lock:
            return self._roles.get(origin, PERSON_ROLE) if origin is not None else PERSON_ROLE

    def remove(self, origin: str) -> list[str]:
        """Remove every interaction ``origin`` wrote, from the gate and the installed state.

        Returns the keys removed. The state is changed after the gate's lock is let go.
        """
        with self._lock:
            removed = [key for key, writer in self._writers.items() if writer == origin]
            for key in removed:
                self._forget(key)
            if removed:
                self._publish()
            state = self._state
        if removed and state is not None:
            state.update({}, removed)
        return removed

    def install(self, state: SharedState) -> None:
        """Filter ``state``'s updates through this gate and follow its removals."""
        self._state = state
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
                    else:
                        role = self._role_of(origin, interaction)
                        reason = self._role_refusal(key, origin, role)
                if reason is not None:
                    refused.setdefault(reason, []).append(key)
                    continue
                if role.max_force is not None and not interaction.max_force <= role.max_force:
                    interaction = dataclasses.replace(interaction, max_force=role.max_force)
                    value = {**value, "max_force": role.max_force}
                self._interactions[key] = interaction
                self._writers[key] = origin
                if role.kind == "agent":
                    self._agents[key] = role
                else:
                    self._agents.pop(key, None)
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
                writer = writers[key] = self._writers.get(key)
                self._forget(key)
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
            self._agents.clear()
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

    def _role_of(self, origin: str | None, interaction: Interaction) -> OriginRole:
        """The origin's role; an agent's label makes it an agent's (the default agent role)."""
        role = self._roles.get(origin, PERSON_ROLE) if origin is not None else PERSON_ROLE
        if role.kind != "agent" and interaction.properties.get("label") in keys.AGENT_LABELS:
            return AGENT_ROLE
        return role

    def _refusal(self, key: str, origin: str | None) -> str | None:
        if key in self._interactions:
            return None
        if len(self._interactions) >= self._max_total:
            return f"the server already holds {self._max_total} interactions (the most allowed)"
        held = sum(1 for writer in self._writers.values() if writer == origin)
        if origin is not None and held >= self._max_per_client:
            return f"this client already holds {self._max_per_client} interactions (the most allowed per client)"
        return None

    def _role_refusal(self, key: str, origin: str | None, role: OriginRole) -> str | None:
        if role.max_interactions is None or key in self._interactions:
            return None
        held = sum(1 for writer in self._writers.values() if writer == origin)
        if held >= role.max_interactions:
            return f"this {role.kind} may hold at most {role.max_interactions} interactions (its role's cap)"
        return None

    def _forget(self, key: str) -> None:
        """Drop one interaction; called under the lock."""
        self._interactions.pop(key, None)
        self._writers.pop(key, None)
        self._agents.pop(key, None)

    def _on_state_changed(self, updates: Mapping[str, Any], removals: frozenset[str]) -> None:
        touched = any(key.startswith(keys.INTERACTION_PREFIX) for key in (*updates, *removals))
        if not touched:
            return
        with self._lock:
            for key in removals:
                self._forget(key)
            self._publish()

    def _publish(self) -> None:
        """Hand the set to apply to ``on_change``; called under the lock, so hand-overs keep
        their order and the last one is always the latest set."""
        self._applied = _people_win(self._interactions, self._agents)
        if self._on_change is not None:
            self._on_change(dict(self._applied))


def _people_win(interactions: Mapping[str, Interaction], agents: Mapping[str, OriginRole]) -> dict[str, Interaction]:
    """The interactions to apply: each yielding agent's that shares atoms with a person's is
    left out, or, if it carries a valid ``blend``, kept with its scale capped."""
    people = [interaction for key, interaction in interactions.items() if key not in agents]
    applied: dict[str, Interaction] = {}
    for key, interaction in interactions.items():
        role = agents.get(key)
        if role is None or not role.yields_to_people or not people:
            applied[key] = interaction
            continue
        held = [person for person in people if np.intersect1d(person.particles, interaction.particles).size]
        if not held:
            applied[key] = interaction
            continue
        blend = _blend(interaction.properties.get("blend"))
        if blend is None:
            continue
        cap = blend / (1.0 - blend) * min(abs(person.scale) for person in held)
        if abs(interaction.scale) > cap:
            interaction = dataclasses.replace(interaction, scale=math.copysign(cap, interaction.scale))
        applied[key] = interaction
    return applied


def _blend(value: Any) -> float | None:
    """A usable ``blend`` property (0 < blend < 1), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return None
    blend = float(value)
    return blend if 0.0 < blend < 1.0 else None
