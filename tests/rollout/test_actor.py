"""hand_actor: a Hand becomes a spring on the grabbed atoms, of the hand's strength, tagged synthetic."""

from __future__ import annotations

import numpy as np

from costeer.rollout import SYNTHETIC_OWNER, Actor, TaskEnvironment, hand_actor


class _Hand:
    strength = 321.0

    def __init__(self) -> None:
        self.calls: list[float] = []

    @property
    def finished(self) -> bool:
        return len(self.calls) >= 2

    def __call__(self, elapsed_s: float, positions: np.ndarray) -> np.ndarray:
        self.calls.append(elapsed_s)
        return positions[0] + 1.0


def test_a_hand_pulls_the_grabbed_atoms_with_its_strength(env: TaskEnvironment) -> None:
    hand = _Hand()
    actor = hand_actor(hand, env.selection)
    assert isinstance(actor, Actor) and not actor.finished
    interaction = actor.act(0.5, env.initial_positions)
    np.testing.assert_array_equal(interaction.position, env.initial_positions[0] + 1.0)
    np.testing.assert_array_equal(interaction.particles, env.selection.grabbed)
    assert (interaction.interaction_type, interaction.scale, interaction.mass_weighted) == ("spring", 321.0, True)
    assert interaction.properties == {"owner.id": SYNTHETIC_OWNER, "label": "synthetic"}
    actor.act(0.6, env.initial_positions)
    assert hand.calls == [0.5, 0.6] and actor.finished
