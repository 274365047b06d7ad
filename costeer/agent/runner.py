"""Run a trained policy one step at a time: its own observation history and queue of planned actions.

    runner = load_policy("cnn.pt")
    runner.reset()
    action = runner.act(observation)     # (obs_dim,) in the dataset's units -> (6,) in action_names order

At an episode's first step the history is the first observation repeated; a policy that
predicts chunks plans ``chunk`` actions and carries out ``execute`` of them before it looks again.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np
import torch

from costeer.agent.normalise import Normaliser
from costeer.agent.policies import Policy
from costeer.tasks.encoding import ACTION_LAG

__all__ = ["PolicyRunner"]


class PolicyRunner:
    """A policy in evaluation mode with its normalisation, acting on one observation at a time."""

    def __init__(self, policy: Policy, normaliser: Normaliser, *, observation_names: Sequence[str], task_name: str,
                 device: torch.device | str = "cpu", seed: int = 0, metadata: dict[str, Any] | None = None) -> None:
        self.policy = policy.to(device).eval()
        self.normaliser = normaliser
        self.observation_names = list(observation_names)
        self.action_names = list(normaliser.layout.names)
        self.task_name = task_name
        self.metadata = {key: value for key, value in (metadata or {}).items() if key != "state_dict"}
        """The checkpoint's other contents (config, fingerprint, versions, training)."""
        self.lead_frames = int(self.metadata.get("training", {}).get("options", {}).get("lead_frames", ACTION_LAG))
        """Frames from an observation to the recorded action it learned (``costeer train --lead-frames``; older
        checkpoints: :data:`~costeer.tasks.encoding.ACTION_LAG`). Acting needs nothing else: the action is applied at once."""
        self.device = torch.device(device)
        self.seed = seed
        self._generator = torch.Generator(device=self.device)
        self._history: deque[np.ndarray] = deque(maxlen=policy.config.history)
        self._queue: deque[np.ndarray] = deque()
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the episode (history and planned actions); reseed a sampling policy (``None``: the same seed again)."""
        self.seed = self.seed if seed is None else seed
        self._generator.manual_seed(self.seed)
        self._history.clear()
        self._queue.clear()

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The next action, ``(6,)`` float64 in ``action_names`` order (zeros but type/on when off)."""
        observation = np.asarray(observation, dtype=np.float64)
        if observation.shape != (len(self.observation_names),):
            raise ValueError(f"observation of shape {observation.shape}: this policy needs ({len(self.observation_names)},) "
                             f"({self.observation_names[0]} .. {self.observation_names[-1]}), the task {self.task_name!r} observes")
        if not np.isfinite(observation).all():
            raise ValueError("observation has NaN or infinite values: pass the task's observation of finite positions")
        normalised = self.normaliser.observation(observation)
        if not self._history:
            self._history.extend([normalised] * self._history.maxlen)
        else:
            self._history.append(normalised)
        if not self._queue:
            self._queue.extend(self._plan())
        return self._queue.popleft()

    @torch.inference_mode()
    def _plan(self) -> list[np.ndarray]:
        window = torch.from_numpy(np.stack(self._history))[None].to(self.device)
        predicted = self.policy.predict(window, generator=self._generator)[0, : self.policy.config.execute]
        return list(self.normaliser.unnormalise(predicted.cpu().numpy()))
