"""Normalisation between a dataset's units and a policy's: observations, and actions both ways.

From ``meta/stats.json`` (mean and std per component). An ``isotropic`` normaliser (for
policies that must see rotations as rotations) uses no offset and one scale for all positions
(one for all velocities, one for the target), so rotating and translating the atoms in nm is
rotating and translating them in normalised units. The action's components are found by name
(``target_x/y/z``, ``strength`` — ``scale`` in older datasets —, ``type``, ``on``).

    normaliser = Normaliser.from_stats(stats, observation_names, action_names)
    normaliser.observation(state)            # (..., obs_dim)
    normaliser.action(action)                # (..., 6) -> (..., 5): target, strength, on
    normaliser.unnormalise(predicted)        # (..., 5) with on as a logit -> (..., 6) in action_names order
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["SPRING_TYPE", "ActionLayout", "Normaliser"]

SPRING_TYPE = 2.0
"""The ``type`` code a policy's pull gets (INTERACTION_TYPE_CODES["spring"])."""


@dataclass(frozen=True)
class ActionLayout:
    """Where target, strength, type and on sit in a dataset's action vector."""

    names: tuple[str, ...]
    target: tuple[int, int, int]
    strength: int
    type: int
    on: int

    @classmethod
    def from_names(cls, names: Sequence[str]) -> "ActionLayout":
        names = tuple(names)
        index = {name: number for number, name in enumerate(names)}
        strength = next((name for name in ("strength", "scale") if name in index), None)
        needed = ["target_x", "target_y", "target_z", "type", "on"]
        missing = [name for name in needed if name not in index] + ([] if strength else ["strength"])
        if missing:
            raise ValueError(f"the action names {list(names)} lack {missing}: rebuild the dataset with `costeer dataset build`")
        return cls(names, (index["target_x"], index["target_y"], index["target_z"]), index[strength], index["type"], index["on"])

    @property
    def regressed(self) -> list[int]:
        """Target x/y/z and strength, in the policy's order."""
        return [*self.target, self.strength]


@dataclass(frozen=True)
class Normaliser:
    """Means and scales of the observation and of the action's target and strength (policy order)."""

    observation_mean: np.ndarray
    observation_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray
    layout: ActionLayout

    @classmethod
    def from_stats(cls, stats: dict[str, Any], observation_names: Sequence[str], action_names: Sequence[str],
                   *, isotropic: bool = False) -> "Normaliser":
        """From ``meta/stats.json``'s ``observation.state`` and ``action``; zero or unknown spreads become 1."""
        layout = ActionLayout.from_names(action_names)
        try:
            observation, action = stats["observation.state"], stats["action"]
            obs_mean, obs_std = _finite(observation["mean"], 0.0), _finite(observation["std"], 1.0)
            act_mean = _finite(action["mean"], 0.0)[layout.regressed]
            act_std = _finite(action["std"], 1.0)[layout.regressed]
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"meta/stats.json lacks observation.state or action statistics ({error!r}): rebuild the dataset") from None
        if len(obs_mean) != len(observation_names):
            raise ValueError(f"meta/stats.json has {len(obs_mean)} observation components, info.json names {len(observation_names)}: rebuild the dataset")
        if isotropic:
            kinds = np.array([name.rsplit(".", 1)[-1].startswith("v") for name in observation_names])
            for kind in (False, True):
                if kind in kinds:
                    obs_std[kinds == kind] = _rms(obs_mean[kinds == kind], obs_std[kinds == kind])
            obs_mean[:] = 0.0
            act_std[:3] = _rms(act_mean[:3], act_std[:3])
            act_mean[:3] = 0.0
        obs_std[obs_std <= 0] = 1.0
        act_std[act_std <= 0] = 1.0
        return cls(obs_mean.astype(np.float32), obs_std.astype(np.float32), act_mean.astype(np.float32),
                   act_std.astype(np.float32), layout)

    def observation(self, state: np.ndarray) -> np.ndarray:
        """``(..., obs_dim)`` in the dataset's units -> normalised float32."""
        return ((np.asarray(state, np.float32) - self.observation_mean) / self.observation_std).astype(np.float32)

    def action(self, action: np.ndarray) -> np.ndarray:
        """``(..., 6)`` dataset actions -> ``(..., 5)``: normalised target and strength, on as 0 or 1."""
        action = np.asarray(action, np.float32)
        regressed = (action[..., self.layout.regressed] - self.action_mean) / self.action_std
        on = (action[..., self.layout.on] >= 0.5).astype(np.float32)
        return np.concatenate([regressed, on[..., None]], axis=-1).astype(np.float32)

    def unnormalise(self, predicted: np.ndarray) -> np.ndarray:
        """``(..., 5)`` (on as a logit) -> ``(..., 6)`` actions in ``layout.names`` order; zeros when off."""
        predicted = np.asarray(predicted, np.float64)
        on = predicted[..., 4] > 0.0
        action = np.zeros((*predicted.shape[:-1], len(self.layout.names)))
        action[..., self.layout.regressed] = (predicted[..., :4] * self.action_std + self.action_mean) * on[..., None]
        action[..., self.layout.type] = np.where(on, SPRING_TYPE, 0.0)
        action[..., self.layout.on] = on.astype(np.float64)
        return action

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for a checkpoint."""
        return {"observation_mean": self.observation_mean.tolist(), "observation_std": self.observation_std.tolist(),
                "action_mean": self.action_mean.tolist(), "action_std": self.action_std.tolist(),
                "action_names": list(self.layout.names)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Normaliser":
        return cls(*(np.asarray(values[key], np.float32) for key in ("observation_mean", "observation_std", "action_mean", "action_std")),
                   ActionLayout.from_names(values["action_names"]))


def _finite(values: Sequence[float | None], default: float) -> np.ndarray:
    array = np.array([default if value is None else value for value in values], np.float64)
    array[~np.isfinite(array)] = default
    return array


def _rms(mean: np.ndarray, std: np.ndarray) -> float:
    """Root mean square about zero of components with these means and spreads."""
    return float(np.sqrt(np.mean(mean**2 + std**2)))
