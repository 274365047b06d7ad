"""``costeer evaluate``: closed-loop success of a policy and the baselines, its agreement with a person,
or (``--with-person synthetic``) the synthetic person alone and with the policy as co-pilot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .files import output_file, output_folder, readable_recording
from .numbers import seconds, seed

__all__ = ["add_parser"]

DEFAULT_BASELINES = "none,scripted,demonstrator"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="seeded closed-loop rollouts of a policy and the baselines: success with 95%% intervals",
        description="Run a trained policy (and the baselines none, scripted, demonstrator) in the task's "
        "system, in-process with the server's engine and force code, rollout i on seed SEED+i; report "
        "success with its Wilson interval, time to success, interaction work and peak force. With "
        "--against, compare the policy's actions with a person's, step by step, instead. With --with-person "
        "synthetic, run the task's synthetic person alone and then with the policy as co-pilot (--mode, "
        "--blend) on the same seeds, and compare time to success, success and the person's work.",
    )
    parser.add_argument("--policy", type=Path, metavar="CKPT", help="a checkpoint from `costeer train`")
    parser.add_argument("--task", default="nanotube", help="task name or task file (default nanotube)")
    parser.add_argument("--rollouts", "--episodes", dest="rollouts", type=int, default=50,
                        help="rollouts per actor, or seeds with --with-person (default 50)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the first rollout (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--max-seconds", type=seconds, default=40.0, help="time limit per rollout, person's seconds (default 40)")
    parser.add_argument(
        "--baselines", default=DEFAULT_BASELINES, metavar="NAMES",
        help=f"comma-separated baselines to run beside the policy, or '' for none (default {DEFAULT_BASELINES})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure and per-rollout entry as JSON")
    parser.add_argument("--plot", type=Path, metavar="DIR",
                        help="write success.png and paths.png (with --with-person: costeering.png, or this file if it ends .png)")
    parser.add_argument("--against", type=Path, metavar="RECORDING", nargs="+",
                        help="compare with the person in these recordings instead of rolling out")
    parser.add_argument("--with-person", choices=("synthetic",), metavar="synthetic",
                        help="co-steering: the task's synthetic person alone, then with the policy as co-pilot")
    parser.add_argument("--mode", default="assist",
                        help="with --with-person: the co-pilot's mode (assist, the default: it pulls beside the person)")
    parser.add_argument("--blend", type=float, metavar="A",
                        help="with --with-person: share the person's pull, the co-pilot's weight at most A (0 < A < 1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.json:  # written after the rollouts: refused before them
        output_file(args.json, option="--json")
    if args.plot:
        (output_file if args.with_person and args.plot.suffix == ".png" else output_folder)(args.plot, option="--plot")
    if args.against:
        return _run_against(args)
    if args.with_person:
        return _run_with_person(args)
    from ..agent.evaluation import BASELINES, evaluate, plot_evaluations

    baselines = [name.strip() for name in args.baselines.split(",") if name.strip()]
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(unknown)}: choose from {', '.join(BASELINES)}")
    actors = ([str(_checkpoint(args.policy))] if args.policy else []) + baselines
    if not actors:
        raise ValueError("nothing to evaluate: give --policy CKPT and/or --baselines")
    evaluations = []
    for actor in actors:
        evaluation = evaluate(actor, task=args.task, rollouts=args.rollouts, seed=args.seed,
                              workers=args.workers, max_s=args.max_seconds)
        evaluations.append(evaluation)
        print(_line(evaluation.summary()), flush=True)
    if args.json:
        _write_json(args.json, _json(evaluations))
    if args.plot:
        for path in plot_evaluations(evaluations, args.plot):
            print(f"wrote {path}")
    return 0


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float))
    print(f"wrote {path}")


def _run_against(args: argparse.Namespace) -> int:
    from ..agent.checkpoint import load_policy
    from ..agent.evaluation import compare_with_recording

    if not args.policy:
        raise ValueError("--against compares a policy with a person: give --policy CKPT too")
    for recording in args.against:
        readable_recording(recording, option="--against", cut_short_ok=True)
    runner = load_policy(_checkpoint(args.policy), expect_task=args.task)
    results = []
    for recording in args.against:
        comparison = compare_with_recording(runner, recording, task=args.task)
        results.append(comparison.to_json())
        if comparison.pulling_steps:
            print(
                f"{recording.name}: direction cosine {comparison.direction_cosine:.3f} over {comparison.pulling_steps} "
                f"pulling steps, on/off accuracy {comparison.on_accuracy:.1%}, target error "
                f"{comparison.target_error_nm:.3f} nm (median)"
            )
        else:
            print(
                f"{recording.name}: the person never pulls with a recorded target here (pulls whose interaction is not "
                f"in the recorded state are left out), so there is no direction or target to compare; on/off accuracy "
                f"{comparison.on_accuracy:.1%} over {comparison.steps} steps"
            )
    if args.json:
        _write_json(args.json, {"policy": str(args.policy), "against": results})
    return 0


def _run_with_person(args: argparse.Namespace) -> int:
    from ..agent.evaluation.costeering import evaluate_costeering
    from ..agent.evaluation.plot import plot_costeering

    if not args.policy:
        raise ValueError("--with-person runs the person beside a co-pilot: give --policy CKPT too")
    result = evaluate_costeering(_checkpoint(args.policy), task=args.task, episodes=args.rollouts, seed=args.seed,
                                 mode=args.mode, blend=args.blend, workers=args.workers, max_s=args.max_seconds)
    summary = result.summary()
    for name, arm in (("person alone", summary["alone"]), ("with co-pilot", summary["with_copilot"])):
        low, high = arm["success_interval"]
        time, (time_low, time_high) = arm["time_to_success_s_median"], arm["time_to_success_s_interval"]
        work, (work_low, work_high) = arm["person_work_median"], arm["person_work_interval"]
        print(f"{name:>14s}: threaded {arm['successes']}/{arm['episodes']} = {arm['success_rate']:.0%} "
              f"(95% CI {low:.0%}-{high:.0%}), median time to success "
              f"{'-' if time is None else f'{time:.1f} s ({time_low:.1f}-{time_high:.1f})'}, "
              f"person's work {'-' if work is None else f'{work:.0f} kJ/mol ({work_low:.0f}-{work_high:.0f})'}")
    for name, ratio in summary["ratios"].items():
        low, high = ratio["interval"]
        value = "-" if ratio["median"] is None else f"{ratio['median']:.2f} (95% CI {low:.2f}-{high:.2f})"
        print(f"{'with/alone':>14s}: {name.replace('_', ' ')} {value} over {ratio['pairs']} paired seeds")
    verdict = "met" if summary["target_met"] else "not met"
    print(f"{'target':>14s}: time with the co-pilot <= {summary['time_ratio_target']:.0%} of alone: {verdict}")
    if args.json:
        _write_json(args.json, result.to_json())
    if args.plot:
        target = args.plot if args.plot.suffix == ".png" else args.plot / "costeering.png"
        print(f"wrote {plot_costeering(result, target)}")
    return 0


def _checkpoint(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"--policy {path}: no such checkpoint; make one with `costeer train`")
    return path


def _json(evaluations: list) -> dict:
    first = evaluations[0]
    return {"task": first.task, "settings": first.settings, "actors": [evaluation.to_json() for evaluation in evaluations]}


def _line(summary: dict) -> str:
    low, high = summary["success_interval"]
    time = summary["time_to_success_s_median"]
    work = summary["work_median"]
    return (
        f"{Path(summary['actor']).name:>16s}: success {summary['successes']}/{summary['rollouts']} = "
        f"{summary['success_rate']:.0%} (95% CI {low:.0%}-{high:.0%}), median time to success "
        f"{'-' if time is None else f'{time:.1f} s'}, median work {'-' if work is None else f'{work:.0f} kJ/mol'}"
    )
