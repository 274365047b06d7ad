"""``costeer dagger``: improve a policy where it goes wrong, with the synthetic person correcting it (HG-DAgger)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import output_folder
from .numbers import nanometres, seconds, seed

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "dagger",
        help="HG-DAgger rounds: the policy drives, the synthetic person corrects it, retrain, evaluate",
        description="Each round the policy drives EPISODES rollouts while the task's synthetic person watches "
        "and takes over wherever it would pull elsewhere; its corrections are added to a copy of the "
        "dataset (tagged origin=dagger, label=correction), the policy is retrained on it and evaluated. "
        "Writes OUTPUT/round-N/policy.pt, OUTPUT/dataset/, OUTPUT/dagger.json and OUTPUT/dagger.png.",
    )
    parser.add_argument("--policy", type=Path, required=True, metavar="CKPT", help="the starting checkpoint")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR", help="the dataset it was trained on")
    parser.add_argument("--task", default="nanotube", help="task name or task file (default nanotube)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="an empty folder for the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--episodes", type=int, default=20, help="corrected rollouts per round (default 20)")
    parser.add_argument("--rollouts", type=int, default=20, help="evaluation rollouts per round (default 20)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs per round (default 50)")
    parser.add_argument("--seed", type=seed, default=0, help="seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="evaluation worker processes (default 1)")
    parser.add_argument("--max-seconds", type=seconds, default=40.0, help="time limit per rollout, person's seconds (default 40)")
    parser.add_argument("--gate-nm", type=nanometres, default=0.3, help="the person takes over when targets differ by more (default 0.3)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..agent.dagger import run_dagger

    if not args.policy.is_file():
        raise FileNotFoundError(f"--policy {args.policy}: no such checkpoint; make one with `costeer train`")
    if not (args.dataset / "meta" / "info.json").is_file():
        raise FileNotFoundError(f"--dataset {args.dataset}: not a dataset folder (no meta/info.json); build one with `costeer dataset build`")
    output_folder(args.output, option="-o/--output")
    history = run_dagger(
        args.policy, task=args.task, dataset=args.dataset, output=args.output, rounds=args.rounds,
        episodes=args.episodes, rollouts=args.rollouts, epochs=args.epochs, seed=args.seed,
        max_s=args.max_seconds, workers=args.workers, gate_nm=args.gate_nm,
    )
    print(f"{'round':>5} {'success':>8} {'95% CI':>13} {'corrected steps':>16} {'training steps':>15}")
    for item in history:
        low, high = item.success_interval
        print(f"{item.round:5d} {item.success_rate:8.0%} {low:6.0%}-{high:<6.0%} {item.corrected_steps:16d} {item.dataset_steps:15d}")
    print(f"wrote {args.output / 'dagger.json'} and {args.output / 'dagger.png'}")
    return 0
