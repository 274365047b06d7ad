"""Train a policy on an episode dataset: AdamW, validation split by episode, early stopping, DDP.

Runs alone or under ``torchrun --nproc-per-node N`` (see :mod:`costeer.agent.distributed`):
every process trains on its share of each epoch's batches (``DistributedSampler``), the
validation loss is averaged over all of them, and only rank 0 writes the checkpoint (the
weights of the epoch with the lowest validation loss) and the PNG of the loss curves.

    result = train_policy("dataset/", "cnn", "cnn.pt", options=TrainOptions(epochs=20))
    train_policy("dataset/", "mlp", "mlp.pt", options=TrainOptions(origin_weights={"human": 10.0}))
    result.best_epoch, result.validation_loss[-1], result.plot
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from costeer.agent.checkpoint import save_checkpoint
from costeer.agent.data import EpisodeWindows, dataset_fingerprint, split_episodes
from costeer.agent.distributed import Place
from costeer.agent.elements import observed_atoms
from costeer.agent.normalise import Normaliser
from costeer.agent.plot import plot_losses
from costeer.agent.policies import Policy, get_policy_class
from costeer.datasets.reading import read_episodes, read_info, read_stats
from costeer.tasks.encoding import ACTION_LAG

__all__ = ["TrainOptions", "TrainResult", "train_policy"]


@dataclass
class TrainOptions:
    """How to train (not what: the policy's own settings are its config)."""

    epochs: int = 100
    seed: int = 0
    device: str = "cpu"
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10
    """Stop after this many epochs without a lower validation loss."""
    validation_fraction: float = 0.2
    """Share of episodes held out (at least one when there are two or more)."""
    successful_only: bool = False
    """Learn only from episodes in which the task was done (filtered behaviour cloning)."""
    lead_frames: int = ACTION_LAG
    """Observation ``t`` learns the action recorded at ``t + lead_frames``: the default is the action
    chosen on seeing it; more learns where the person's hand will be, so the policy leads them."""
    origin_weights: dict[str, float] = field(default_factory=dict)
    """Loss weight of the episodes of each origin (``human``, ``synthetic``, ...; 1 for origins not named):
    a sample of weight ``w`` counts as ``w`` samples in its batch's loss, in training and validation."""
    threads: int | None = None
    """torch's CPU threads (``None``: torch's default)."""
    progress: bool | None = None
    """A progress bar on stderr (``None``: only when stderr is a terminal)."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: use a positive int")
        if not self.lr > 0 or not self.weight_decay >= 0:
            raise ValueError(f"--lr {self.lr} / weight decay {self.weight_decay}: use lr > 0 and weight decay >= 0")
        if not isinstance(self.lead_frames, int) or self.lead_frames < ACTION_LAG:
            raise ValueError(f"--lead-frames {self.lead_frames!r}: use an int >= {ACTION_LAG} "
                             f"({ACTION_LAG}: the action chosen on seeing each frame)")
        for origin, weight in self.origin_weights.items():
            if not origin or isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                    or not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"--weight {origin}={weight!r}: use ORIGIN=W with a positive number W, e.g. --weight human=10")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads {self.threads}: use a positive int")


@dataclass
class TrainResult:
    """Losses per epoch, the epoch kept, and what was written (``None`` on ranks other than 0)."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    """1-based."""
    samples: int = 0
    """Training windows (all processes together)."""
    checkpoint: Path | None = None
    plot: Path | None = None


def train_policy(dataset: str | Path, policy: str, output: str | Path, *, options: TrainOptions | None = None,
                 config: dict[str, Any] | None = None, command: Sequence[str] | None = None) -> TrainResult:
    """Train ``policy`` (a registered name, ``config`` its settings) on ``dataset``; write ``output`` and its PNG."""
    options = options or TrainOptions()
    if options.threads:
        torch.set_num_threads(options.threads)
    with Place.start(options.device) as place:
        torch.manual_seed(options.seed)
        info = read_info(dataset)
        model, normaliser = _build(Path(dataset), info, get_policy_class(policy), config or {})
        model.to(place.device)
        count = int(info["total_episodes"])
        train, held = split_episodes(count, validation_fraction=options.validation_fraction, seed=options.seed)
        if options.successful_only:
            train, held = _successful(Path(dataset), train), _successful(Path(dataset), held)
            if not train:
                raise ValueError(f"{dataset}: no training episode did the task, so --successful-only leaves nothing "
                                 "to learn from: drop it, or add successful demonstrations")
        weights = _episode_weights(Path(dataset), options.origin_weights)
        windows = EpisodeWindows(dataset, normaliser, history=model.config.history, chunk=model.config.chunk, episodes=train,
                                 lead=options.lead_frames, weights=weights)
        validation = EpisodeWindows(dataset, normaliser, history=model.config.history, chunk=model.config.chunk, episodes=held,
                                    lead=options.lead_frames, weights=weights) if held else None
        if not len(windows):
            raise ValueError(f"{dataset}: no training steps with a valid action in episodes {train}: build a dataset with pulls in it")
        torch.manual_seed(options.seed + place.rank)
        result = _fit(model, windows, validation, options, place)
        if place.leader:
            result.checkpoint = save_checkpoint(
                output, model, normaliser, observation_names=info["features"]["observation.state"]["names"],
                task=info.get("costeer", {}).get("task", ""), fingerprint=dataset_fingerprint(dataset),
                training={"command": list(command or []), "dataset": str(Path(dataset).resolve()), "episodes": train,
                          "validation_episodes": held, "best_epoch": result.best_epoch, "world_size": place.world,
                          "train_loss": result.train_loss, "validation_loss": result.validation_loss,
                          "simulation_interval_ps": _pace(Path(dataset), train),
                          "options": {key: value for key, value in vars(options).items() if key != "progress"}})
            curves = {"train": result.train_loss, "validation": result.validation_loss}
            result.plot = plot_losses(curves, Path(output).with_name(Path(output).stem + ".loss.png"),
                                      title=f"{policy} on {Path(dataset).name}", best_epoch=result.best_epoch)
        return result


def _pace(dataset: Path, episodes: list[int]) -> float | None:
    """The median simulated time between the training episodes' frames, ps (``None`` when unknown)."""
    table = read_episodes(dataset).to_pydict()
    intervals = [value for index, value in zip(table["episode_index"], table.get("simulation_interval_ps", []))
                 if index in set(episodes) and value is not None and value > 0]
    return float(np.median(intervals)) if intervals else None


def _episode_weights(dataset: Path, origin_weights: dict[str, float]) -> dict[int, float]:
    """Each episode's loss weight, by its origin (1 for origins not named); an origin no episode has is refused."""
    if not origin_weights:
        return {}
    table = read_episodes(dataset).to_pydict()
    origins = [origin or "unknown" for origin in table.get("origin", [None] * len(table["episode_index"]))]
    missing = sorted(set(origin_weights) - set(origins))
    if missing:
        raise ValueError(f"--weight {missing[0]}=...: no episode of {dataset} has origin {missing[0]!r} "
                         f"(its origins: {', '.join(sorted(set(origins)))})")
    return {int(index): float(origin_weights.get(origin, 1.0)) for index, origin in zip(table["episode_index"], origins)}


def _successful(dataset: Path, episodes: list[int]) -> list[int]:
    """The episodes among ``episodes`` in which the task was done."""
    table = read_episodes(dataset).to_pydict()
    done = {int(index) for index, success in zip(table["episode_index"], table["success"]) if success}
    return [episode for episode in episodes if episode in done]


def _build(dataset: Path, info: dict[str, Any], cls: type[Policy], config: dict[str, Any]) -> tuple[Policy, Normaliser]:
    """The policy sized to the dataset's observation, and the normaliser its kind needs."""
    names = info["features"]["observation.state"]["names"]
    action_names = info["features"]["action"]["names"]
    stats = read_stats(dataset)
    normaliser = Normaliser.from_stats(stats, names, action_names, isotropic=cls.isotropic)
    sized = {"observation_dim": len(names), "atom_features": len(names) // len(observed_atoms(names))}
    settings = {**sized, **cls.dataset_defaults(dataset), **config}
    return cls(cls.config_class.from_dict(settings)), normaliser


def _fit(model: Policy, windows: EpisodeWindows, validation: EpisodeWindows | None,
         options: TrainOptions, place: Place) -> TrainResult:
    if place.distributed:
        sampler = DistributedSampler(windows, num_replicas=place.world, rank=place.rank, shuffle=True, seed=options.seed)
    else:
        sampler = RandomSampler(windows, generator=torch.Generator().manual_seed(options.seed))
    loader = DataLoader(windows, sampler=BatchSampler(sampler, options.batch_size, drop_last=False), batch_size=None)
    trained = DistributedDataParallel(model, device_ids=[place.device.index] if place.device.type == "cuda" else None) \
        if place.distributed else model
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    result = TrainResult(samples=len(windows))
    best, best_state, waited = np.inf, None, 0
    disable = not place.leader or (None if options.progress is None else not options.progress)
    bar = tqdm(range(options.epochs), desc=f"train {model.name}", unit="epoch", disable=disable)
    for epoch in bar:
        if place.distributed:
            sampler.set_epoch(epoch)
        started = time.perf_counter()
        model.train()
        total = count = 0.0
        for batch in loader:
            batch = {key: value.to(place.device) for key, value in batch.items()}
            loss = trained(batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            total, count = total + loss.item() * len(batch["mask"]), count + len(batch["mask"])
        result.train_loss.append(place.mean(total, count))
        if validation is not None:
            result.validation_loss.append(_evaluate(model, validation, options.batch_size, place))
        result.epoch_seconds.append(time.perf_counter() - started)
        watched = (result.validation_loss or result.train_loss)[-1]
        bar.set_postfix(train=f"{result.train_loss[-1]:.4f}", validation=f"{watched:.4f}" if validation else "-")
        if watched < best:
            best, waited, result.best_epoch = watched, 0, epoch + 1
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        else:
            waited += 1
            if waited >= options.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


@torch.no_grad()
def _evaluate(model: Policy, windows: EpisodeWindows, batch_size: int, place: Place) -> float:
    """Mean loss over this process's share of ``windows``, averaged over every process."""
    model.eval()
    generator_state = torch.get_rng_state()
    torch.manual_seed(0)  # the same noise each epoch for a sampling policy's loss, so epochs compare
    mine = torch.arange(place.rank, len(windows), place.world)
    total = 0.0
    for start in range(0, len(mine), batch_size):
        batch = {key: value.to(place.device) for key, value in windows[mine[start:start + batch_size]].items()}
        total += float(model.loss(batch)) * len(batch["mask"])
    torch.set_rng_state(generator_state)
    return place.mean(total, float(len(mine)))
