"""``costeer train``: train a policy on an episode dataset and write a checkpoint (and a PNG of its losses)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .files import output_file
from .numbers import seed

__all__ = ["add_parser"]

POLICIES = ("cnn", "equivariant", "flow", "mlp")
"""For --help without importing torch; training checks the name against the registry."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train a policy on an episode dataset (also under torchrun --nproc-per-node N)",
        description="Train a policy (mlp, cnn, flow, equivariant) on a dataset from `costeer dataset build`; "
        "write a checkpoint that `costeer evaluate` and the co-pilot load, and CKPT's .loss.png.",
    )
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="episode dataset folder")
    parser.add_argument("--policy", required=True, metavar="NAME", help=f"policy: {', '.join(POLICIES)}")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="CKPT", help="checkpoint file to write (e.g. cnn.pt)")
    parser.add_argument("--epochs", type=int, default=100, help="most epochs (default 100; early stopping may end sooner)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the split, initial weights and batches (default 0)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to train (default cpu)")
    parser.add_argument("--batch-size", type=int, default=256, help="windows per batch and process (default 256)")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    parser.add_argument("--patience", type=int, default=10, help="stop after this many epochs without a lower validation loss (default 10)")
    parser.add_argument("--validation", type=float, default=0.2, metavar="FRACTION", help="share of episodes held out (default 0.2)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--successful-only", action="store_true",
                        help="learn only from episodes in which the task was done (filtered behaviour cloning)")
    parser.add_argument("--lead-frames", type=int, default=1, metavar="K",
                        help="learn the action recorded K frames after each observation (default 1: the one chosen on "
                        "seeing it); more: where the person's hand will be, so the co-pilot leads them")
    parser.add_argument("--weight", action="append", default=[], metavar="ORIGIN=W", dest="weights",
                        help="loss weight of the episodes of one origin (default 1), e.g. --weight human=10: a few human "
                        "sessions among many synthetic episodes count for more")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                        help="a policy setting, e.g. --set history=4 --set hidden=128 (values as JSON)")
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    try:
        from ..agent.training import TrainOptions, train_policy
    except ImportError as error:
        raise ImportError(f"costeer train needs torch ({error}): pip install 'costeer[agent]' (or `make setup`)") from None
    output_file(args.output, option="-o/--output")  # written after training: refused before it
    options = TrainOptions(epochs=args.epochs, seed=args.seed, device=args.device, batch_size=args.batch_size, lr=args.lr,
                           patience=args.patience, validation_fraction=args.validation, threads=args.threads,
                           successful_only=args.successful_only, lead_frames=args.lead_frames,
                           origin_weights=_weights(args.weights))
    result = train_policy(args.dataset, args.policy, args.output, options=options, config=_settings(args.settings),
                          command=_command(args))
    if result.checkpoint is not None:
        kept = result.validation_loss or result.train_loss
        print(f"wrote {result.checkpoint} (epoch {result.best_epoch} of {len(result.train_loss)}, "
              f"loss {kept[result.best_epoch - 1]:.4f}) and {result.plot}")
    return 0


def _command(args: argparse.Namespace) -> list[str]:
    """The command that repeats this training, every option spelled out (for the checkpoint)."""
    command = ["costeer", "train", "--dataset", str(args.dataset), "--policy", args.policy, "-o", str(args.output)]
    for option in ("epochs", "seed", "device", "batch_size", "lr", "patience", "validation", "threads"):
        if getattr(args, option) is not None:
            command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    command += ["--successful-only"] if args.successful_only else []
    command += ["--lead-frames", str(args.lead_frames)] if args.lead_frames != 1 else []
    command += [item for weight in args.weights for item in ("--weight", weight)]
    return command + [item for setting in args.settings for item in ("--set", setting)]


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--set {pair!r}: write KEY=VALUE, e.g. --set hidden=128")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _weights(pairs: list[str]) -> dict[str, float]:
    """``--weight ORIGIN=W`` pairs as ``{origin: W}`` (TrainOptions checks that each W is positive)."""
    weights: dict[str, float] = {}
    for pair in pairs:
        origin, _, value = pair.partition("=")
        try:
            weights[origin] = float(value)
        except ValueError:
            origin = ""
        if not origin:
            raise ValueError(f"--weight {pair!r}: write ORIGIN=W with a number W, e.g. --weight human=10")
    return weights
