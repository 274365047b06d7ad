"""Policy checkpoints: everything needed to act, loadable without the dataset, refused with a reason.

A checkpoint is a ``torch.save`` of plain values only (tensors, str, int, float, bool, lists and
dicts), so it loads with ``torch.load(weights_only=True)`` and no code in it ever runs:
weights, the policy's name and config, normalisation, observation and action names, the task,
the dataset's fingerprint, costeer's version, the format version and how it was trained.

    save_checkpoint("cnn.pt", policy, normaliser, observation_names=names, task="nanotube", fingerprint=f)
    runner = load_policy("cnn.pt", expect_task="nanotube")
"""

from __future__ import annotations

import pickle
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any, Sequence

import torch

from costeer import __version__
from costeer.agent.normalise import Normaliser
from costeer.agent.policies import Policy, get_policy_class
from costeer.agent.runner import PolicyRunner

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "load_policy",
    "read_checkpoint",
    "save_checkpoint",
    "shipped_checkpoint",
]

CHECKPOINT_FORMAT = "costeer-policy"
CHECKPOINT_VERSION = 1
"""Raised when the layout changes in a way older readers cannot follow."""


SHIPPED = Path(__file__).resolve().parent / "checkpoints"
"""Small trained checkpoints that ship with costeer, one per built-in task (``<task>.pt``); how
each was made is in the folder's README and in the checkpoint's own ``training`` entry."""


class CheckpointError(ValueError):
    """A file that is not a checkpoint this costeer can use; the message says why and what to do."""


def shipped_checkpoint(task: str) -> Path:
    """The checkpoint that ships for ``task`` (the co-pilot's default), or a ``CheckpointError`` saying how to make one."""
    path = SHIPPED / f"{task}.pt"
    if not path.is_file():
        known = sorted(item.stem for item in SHIPPED.glob("*.pt"))
        raise CheckpointError(f"no checkpoint ships for task {task!r} (shipped: {', '.join(known) or 'none'}): "
                              "train one with `costeer train` and give its path")
    return path


def save_checkpoint(path: str | Path, policy: Policy, normaliser: Normaliser, *, observation_names: Sequence[str],
                    task: str, fingerprint: str, training: dict[str, Any] | None = None) -> Path:
    """Write ``policy`` (its weights on CPU) and everything needed to run it to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "costeer_version": __version__,
        "policy": policy.name,
        "config": policy.config.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in policy.state_dict().items()},
        "normaliser": normaliser.to_dict(),
        "observation_names": list(observation_names),
        "action_names": list(normaliser.layout.names),
        "task": task,
        "dataset_fingerprint": fingerprint,
        "training": training or {},
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(content, partial)
    partial.replace(path)  # a crash leaves the old checkpoint, never half a new one
    return path


_REFUSED = re.compile(r"WeightsUnpickler error: (.*?)(?: Please use| Check the documentation|$)")


def _unreadable(error: BaseException) -> str:
    """Why torch could not read a file, in a line: for what its weights-only loader refused, only
    what it met (torch's own advice is to load it unsafely, which costeer never does)."""
    text = " ".join(str(error).split())
    refused = _REFUSED.search(text)
    if refused is not None:
        return f"torch's weights-only loader refused it, nothing in it was run: {refused.group(1)[:160]}"
    return text[:200]


def _check_crcs(path: Path) -> None:
    """Refuse a checkpoint whose bytes fail the CRC-32s stored with them: ``torch.load`` does not
    check them, and would read a damaged weight as it is. A file that is not a zip is left to it."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except zipfile.BadZipFile:
        return
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise CheckpointError(f"{path}: corrupt ({error}); train it again with `costeer train`") from None
    if damaged is not None:
        raise CheckpointError(f"{path}: corrupt: {damaged} fails its CRC check; train it again with `costeer train` "
                              "(or copy it again from where it was written)")


def read_checkpoint(path: str | Path, *, expect_task: str | None = None) -> dict[str, Any]:
    """The checkpoint's contents, checked: format, version and (with ``expect_task``) task."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file: train one with `costeer train`")
    _check_crcs(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt, cut short or not a torch file: "
                              f"{_unreadable(error)}); train it again with `costeer train`") from None
    if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a costeer policy checkpoint (no format {CHECKPOINT_FORMAT!r}): "
                              "load checkpoints written by `costeer train`")
    version = content.get("format_version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version} (costeer {content.get('costeer_version')}), this costeer "
                              f"{__version__} reads format {CHECKPOINT_VERSION}: retrain it or use the costeer that wrote it")
    if expect_task is not None and content.get("task") != expect_task:
        raise CheckpointError(f"{path}: a policy for task {content.get('task')!r}, not {expect_task!r}: "
                              f"use a checkpoint trained on a {expect_task} dataset")
    return content


def load_policy(path: str | Path, *, device: str = "cpu", expect_task: str | None = None, seed: int = 0) -> PolicyRunner:
    """A :class:`PolicyRunner` for the checkpoint at ``path`` (``seed``: a sampling policy's random numbers)."""
    content = read_checkpoint(path, expect_task=expect_task)
    try:
        cls = get_policy_class(content["policy"])
        policy = cls(cls.config_class.from_dict(content["config"]))
        policy.load_state_dict(content["state_dict"])
        normaliser = Normaliser.from_dict(content["normaliser"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:300]
        raise CheckpointError(f"{path}: cannot rebuild its policy ({reason}): retrain it with this costeer") from None
    from costeer.agent.distributed import resolve_device

    return PolicyRunner(policy, normaliser, observation_names=content["observation_names"], task_name=content["task"],
                        device=resolve_device(device), seed=seed, metadata=content)
