"""Normalisation: actions found by name, off means zeros, isotropic scales keep rotations."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.agent.normalise import ActionLayout, Normaliser

NAMES = [f"atom{a}.{axis}" for a in (60, 61) for axis in ("x", "y", "z", "vx", "vy", "vz")]
STATS = {"observation.state": {"mean": [1.0, 2.0, 3.0, 0.0, 0.0, 0.0] * 2, "std": [1.0, 2.0, 2.0, 4.0, 4.0, 4.0] * 2},
         "action": {"mean": [0.1, 0.2, 0.3, 500.0, 1.0, 0.5], "std": [1.0, 1.0, 2.0, 100.0, 1.0, None]}}


@pytest.mark.parametrize("strength", ["strength", "scale"])
def test_actions_round_trip_and_off_is_zero(strength: str) -> None:
    names = ["target_x", "target_y", "target_z", strength, "type", "on"]
    normaliser = Normaliser.from_stats(STATS, NAMES, names)
    action = np.array([[0.5, -0.2, 1.0, 1201.1, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    policy_action = normaliser.action(action)
    logits = policy_action.copy()
    logits[:, 4] = np.where(policy_action[:, 4] > 0.5, 3.0, -3.0)
    np.testing.assert_allclose(normaliser.unnormalise(logits), action, rtol=1e-5, atol=1e-5)
    assert Normaliser.from_dict(normaliser.to_dict()).to_dict() == normaliser.to_dict()


def test_isotropic_uses_one_scale_per_kind_and_no_offset() -> None:
    normaliser = Normaliser.from_stats(STATS, NAMES, ["target_x", "target_y", "target_z", "strength", "type", "on"], isotropic=True)
    assert (normaliser.observation_mean == 0).all()
    assert len(set(normaliser.observation_std[[0, 1, 2, 6, 7, 8]].tolist())) == 1
    assert normaliser.observation_std[3] == pytest.approx(4.0)
    assert normaliser.action_mean[:3].tolist() == [0, 0, 0] and len(set(normaliser.action_std[:3].tolist())) == 1


def test_missing_action_names_are_named() -> None:
    with pytest.raises(ValueError, match=r"lack \['on', 'strength'\]"):
        ActionLayout.from_names(["target_x", "target_y", "target_z", "type"])
