"""Training windows over an episode dataset: observation histories and action chunks within episodes.

Sample ``t`` of an episode sees observations ``t-history+1 .. t`` (the first repeated before the
episode starts) and learns the actions recorded at ``t+lead .. t+lead+chunk-1`` (``lead``: by
default :data:`~costeer.tasks.encoding.ACTION_LAG`, the step at which what was chosen on seeing
``t`` is recorded; a larger ``lead`` learns what the person will do that many frames on, so
the policy leads the person; steps past the episode's end are masked). Steps whose action is not known
(``action.valid`` False, or NaN) are never learned: they start no sample and are masked in
other samples' chunks; an observation with NaN is never seen. Each sample carries its episode's
``weight`` in the loss (1 unless ``weights`` says otherwise).

    windows = EpisodeWindows("dataset/", normaliser, history=2, chunk=8, episodes=[0, 1, 2], weights={2: 10.0})
    batch = windows[[0, 5, 9]]    # observation (3, 2, D), action (3, 8, 5), mask (3, 8), weight (3,)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import torch

from costeer.agent.normalise import Normaliser
from costeer.datasets.reading import read_info, read_steps
from costeer.tasks.encoding import ACTION_LAG

__all__ = ["EpisodeWindows", "dataset_fingerprint", "split_episodes"]


class EpisodeWindows(torch.utils.data.Dataset):
    """Normalised windows of one dataset's steps, indexed by a list of sample numbers (a whole batch at once)."""

    def __init__(self, directory: str | Path, normaliser: Normaliser, *, history: int, chunk: int,
                 episodes: Sequence[int] | None = None, lead: int = ACTION_LAG,
                 weights: Mapping[int, float] | None = None) -> None:
        if not isinstance(lead, int) or lead < ACTION_LAG:
            raise ValueError(f"lead of {lead!r} frames: use an int >= {ACTION_LAG} (the action chosen on seeing a frame "
                             f"is recorded {ACTION_LAG} frame later, so no policy can learn an earlier one)")
        features = read_info(directory)["features"]
        columns = ["episode_index", "observation.state", "action"] + (["action.valid"] if "action.valid" in features else [])
        steps = read_steps(directory, columns=columns)
        episode = steps.column("episode_index").to_numpy()
        state = _matrix(steps, "observation.state")
        action = _matrix(steps, "action")
        seen = np.isfinite(state).all(axis=1)
        known = np.isfinite(action).all(axis=1)
        if "action.valid" in features:
            known &= steps.column("action.valid").to_numpy(zero_copy_only=False).astype(bool)
        self.observation = torch.from_numpy(np.nan_to_num(normaliser.observation(state)))
        self.action = torch.from_numpy(np.nan_to_num(normaliser.action(action)))
        starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]])
        ends = np.r_[starts[1:], len(episode)]
        chosen = {int(e) for e in (episode[starts] if episodes is None else episodes)}
        weights = weights or {}
        history_index, chunk_index, chunk_mask, sample_weight = [], [], [], []
        for start, end in zip(starts, ends):
            if int(episode[start]) not in chosen:
                continue
            rows = np.arange(start, end)
            past = np.maximum(rows[:, None] - np.arange(history - 1, -1, -1), start)
            ahead = rows[:, None] + lead + np.arange(chunk)
            inside = ahead < end
            ahead = np.minimum(ahead, end - 1)
            usable = inside[:, 0] & known[ahead[:, 0]] & seen[past].all(axis=1)
            history_index.append(past[usable])
            chunk_index.append(ahead[usable])
            chunk_mask.append((inside & known[ahead])[usable])
            sample_weight.append(np.full(int(usable.sum()), weights.get(int(episode[start]), 1.0)))
        self.history_index = torch.from_numpy(_joined(history_index, (0, history), np.int64))
        self.chunk_index = torch.from_numpy(_joined(chunk_index, (0, chunk), np.int64))
        self.chunk_mask = torch.from_numpy(_joined(chunk_mask, (0, chunk), bool))
        self.weight = torch.from_numpy(_joined(sample_weight, (0,), np.float32))

    def __len__(self) -> int:
        return len(self.history_index)

    def __getitem__(self, samples: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        samples = torch.as_tensor(samples, dtype=torch.long)
        return {
            "observation": self.observation[self.history_index[samples]],
            "action": self.action[self.chunk_index[samples]],
            "mask": self.chunk_mask[samples],
            "weight": self.weight[samples],
        }


def split_episodes(count: int, *, validation_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Episode numbers for training and validation (seeded shuffle; none held out from fewer than 2 episodes)."""
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation fraction {validation_fraction}: use a number in [0, 1), e.g. 0.2")
    order = np.random.default_rng(seed).permutation(count)
    held = 0 if count < 2 or validation_fraction == 0 else max(1, int(round(validation_fraction * count)))
    return sorted(order[held:].tolist()), sorted(order[:held].tolist())


def dataset_fingerprint(directory: str | Path) -> str:
    """SHA-256 over the dataset's metadata (info, stats, tasks and episodes tables): the data a policy learned from."""
    directory = Path(directory)
    read_info(directory)
    digest = hashlib.sha256()
    for path in sorted((directory / "meta").rglob("*")):
        if path.is_file() and path.suffix in (".json", ".parquet"):
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _matrix(steps: pa.Table, name: str) -> np.ndarray:
    column = steps.column(name).combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1).astype(np.float64)


def _joined(parts: list[np.ndarray], empty: tuple[int, int], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(empty, dtype)
