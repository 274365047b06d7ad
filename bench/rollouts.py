"""Rollout throughput: the headless environment's frames/s against raw OpenMM stepping the same system.

Interleaved pairs (A, B, A, B, ...), as everywhere in bench/: in each round the environment
runs one window (``env.step`` with a spring on the grabbed atoms, so the interactive-force
code works as in a rollout, or with no pull) and raw OpenMM runs one window of the same
steps per frame on a context of the same System, integrator and platform (``Reference``,
as rollouts use by default; ``--platform CPU`` for the other). Reported: the median paired
ratio of steps/s and its range, and the environment's frames/s.

    .venv/bin/python bench/rollouts.py --task nanotube --pairs 5 --seconds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import openmm

from costeer.core.interaction import Interaction
from costeer.engine.loading import from_built
from costeer.rollout import TaskEnvironment

RESULTS = Path(__file__).resolve().parent / "results"


def environment_rate(env: TaskEnvironment, *, seconds: float, pull: bool) -> float:
    """Frames per second of ``env.step`` over one window, from a fresh reset."""
    env.reset(seed=int(time.time()))
    target = env.initial_positions[env.selection.grabbed].mean(axis=0) + [0.0, 0.0, 0.3]
    interaction = Interaction(target, env.selection.grabbed, "spring", scale=1201.1) if pull else None
    frames, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        env.step(interaction)
        frames += 1
    return frames / elapsed


class RawStepping:
    """The task's system on a plain context: ``integrator.step(steps_per_frame)`` in a loop."""

    def __init__(self, task: str, *, platform: str, steps_per_frame: int) -> None:
        from costeer.tasks import resolve_task

        loaded = from_built(resolve_task(task).build_system())
        self.integrator = loaded.integrator
        self.context = openmm.Context(loaded.system, self.integrator, openmm.Platform.getPlatformByName(platform))
        self.context.setPositions(loaded.positions)
        self.steps_per_frame = steps_per_frame
        self.integrator.step(steps_per_frame)

    def rate(self, *, seconds: float) -> float:
        """Frames (of ``steps_per_frame`` steps) per second over one window."""
        frames, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            self.integrator.step(self.steps_per_frame)
            frames += 1
        return frames / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="nanotube")
    parser.add_argument("--platform", default="Reference")
    parser.add_argument("--steps-per-frame", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    env = TaskEnvironment(args.task, steps_per_frame=args.steps_per_frame, platform=args.platform)
    raw = RawStepping(args.task, platform=args.platform, steps_per_frame=args.steps_per_frame)
    rounds = []
    for number in range(args.pairs):
        arms = [("raw", lambda: raw.rate(seconds=args.seconds)),
                ("pulling", lambda: environment_rate(env, seconds=args.seconds, pull=True)),
                ("idle", lambda: environment_rate(env, seconds=args.seconds, pull=False))]
        arms = arms[number % 3:] + arms[:number % 3]  # a different arm goes first each round
        rounds.append({name: measure() for name, measure in arms})
    ratios = {arm: [round[arm] / round["raw"] for round in rounds] for arm in ("pulling", "idle")}
    report = {
        "task": args.task, "platform": args.platform, "steps_per_frame": args.steps_per_frame,
        "rounds": rounds,
        "frames_per_s": {arm: statistics.median(round[arm] for round in rounds) for arm in ("raw", "pulling", "idle")},
        "ratio_median": {arm: statistics.median(values) for arm, values in ratios.items()},
        "ratio_range": {arm: [min(values), max(values)] for arm, values in ratios.items()},
    }
    print(f"| {args.task} ({args.platform}, {args.steps_per_frame} steps/frame) | frames/s | of raw OpenMM (median, range) |")
    print("|---|---|---|")
    print(f"| raw OpenMM | {report['frames_per_s']['raw']:.0f} | 100% |")
    for arm in ("pulling", "idle"):
        low, high = report["ratio_range"][arm]
        print(f"| environment, {arm} | {report['frames_per_s'][arm]:.0f} | {report['ratio_median'][arm]:.0%} "
              f"({low:.0%}-{high:.0%}) |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"rollouts-{args.task}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1, default=float))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
