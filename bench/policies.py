"""Policies on CPU: step latency at batch 1 with one torch thread, training time per epoch, peak memory.

    .venv/bin/python bench/policies.py [--episodes 100] [--length 300] [--epochs 2] [--steps 2000]
                                       [--policies mlp cnn flow equivariant] [--out FILE.json]

A synthetic dataset of the nanotube task's size (5 observed atoms, ``--episodes`` episodes of
``--length`` steps, random walks with pulls) is written once; each policy then trains in its own
process (so its peak RSS is its own) with one torch thread for ``--epochs`` epochs, and the
checkpoint it wrote is loaded and stepped ``--steps`` times through ``PolicyRunner.act`` (the
co-pilot's path: normalise, history, network or action queue, un-normalise). Latency target:
p99 <= 5 ms, so a co-pilot keeps up with 90 frames/s while OpenMM has the other core. Prints a
markdown table and writes every number as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
POLICIES = ("mlp", "cnn", "flow", "equivariant")
ATOMS = 5


def write_synthetic(directory: Path, *, episodes: int, length: int, seed: int = 0) -> Path:
    """Random-walk episodes of ``ATOMS`` atoms with pulls while the first atom is low, as a dataset."""
    from costeer.datasets.episodes import ACTION_NAMES, Episode
    from costeer.datasets.lerobot import write_dataset

    rng = np.random.default_rng(seed)
    made = []
    for number in range(episodes):
        positions = np.cumsum(rng.normal(scale=0.01, size=(length, ATOMS, 3)), axis=0) + rng.normal(scale=0.3, size=(ATOMS, 3))
        on = positions[:, 0, 2] < 0.0
        action = np.zeros((length, 6), np.float32)
        action[on] = [0.0, 0.0, 0.5, 1201.1, 2.0, 1.0]
        action[on, 0] = -positions[on, 0, 0]
        steps = {"observation.state": positions.reshape(length, -1).astype(np.float32), "action": action}
        names = {"observation.state": [f"atom{60 + a}.{axis}" for a in range(ATOMS) for axis in "xyz"], "action": list(ACTION_NAMES)}
        made.append(Episode(steps, names, {"source": f"synthetic-{number}", "frame_interval_s": 1 / 30, "system_hash": "bench"}))
    return write_dataset(made, directory, task="bench")


def measure(policy: str, dataset: Path, workdir: Path, *, epochs: int, steps: int) -> dict:
    """In this process: train ``policy`` (one thread), then time ``act`` on its checkpoint."""
    import torch

    from costeer.agent.checkpoint import load_policy
    from costeer.agent.training import TrainOptions, train_policy
    from costeer.datasets.reading import read_steps

    torch.set_num_threads(1)
    rss_start = _rss_mib()
    options = TrainOptions(epochs=epochs, patience=epochs, threads=1, progress=False)
    result = train_policy(dataset, policy, workdir / f"{policy}.pt", options=options)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runner = load_policy(workdir / f"{policy}.pt")
    column = read_steps(dataset, columns=["observation.state"]).column(0).combine_chunks()
    observations = column.flatten().to_numpy().reshape(len(column), -1)[: steps + 100].astype(np.float64)
    for observation in observations[:100]:
        runner.act(observation)  # warm up
    latencies = []
    for observation in observations[100:]:
        started = time.perf_counter()
        runner.act(observation)
        latencies.append(time.perf_counter() - started)
    ms = np.array(latencies) * 1000
    planned = ms[:: runner.policy.config.execute]
    return {
        "policy": policy, "parameters": sum(p.numel() for p in runner.policy.parameters()),
        "config": runner.metadata["config"], "act_p50_ms": float(np.percentile(ms, 50)),
        "act_p99_ms": float(np.percentile(ms, 99)), "plan_p50_ms": float(np.percentile(planned, 50)),
        "plan_p99_ms": float(np.percentile(planned, 99)), "steps": len(ms), "train_windows": result.samples,
        "epoch_s": result.epoch_seconds, "epoch_s_median": float(np.median(result.epoch_seconds)),
        "rss_before_training_mib": rss_start, "peak_rss_mib": peak, "train_loss": result.train_loss,
        "validation_loss": result.validation_loss,
    }


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _table(rows: list[dict]) -> str:
    lines = ["| policy | parameters | act p50 / p99 (ms) | network call p50 / p99 (ms) | epoch (s) | peak RSS (MiB) |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['policy']} | {row['parameters']:,} | {row['act_p50_ms']:.3f} / {row['act_p99_ms']:.3f} | "
                     f"{row['plan_p50_ms']:.3f} / {row['plan_p99_ms']:.3f} | {row['epoch_s_median']:.1f} | {row['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2000, help="act calls timed per policy")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", metavar="POLICY", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.dataset, args.workdir, epochs=args.epochs, steps=args.steps)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="costeer-bench-policies-") as work:
        dataset = write_synthetic(Path(work) / "dataset", episodes=args.episodes, length=args.length)
        for policy in args.policies:
            command = [sys.executable, __file__, "--child", policy, "--dataset", str(dataset), "--workdir", work,
                       "--epochs", str(args.epochs), "--steps", str(args.steps)]
            environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
            done = subprocess.run(command, capture_output=True, text=True, env=environment)
            if done.returncode != 0:
                raise RuntimeError(f"{policy} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{policy}: act p99 {rows[-1]['act_p99_ms']:.3f} ms, epoch {rows[-1]['epoch_s_median']:.1f} s", flush=True)
    print(f"\n{args.episodes} episodes x {args.length} steps, {args.epochs} epochs, one torch thread\n")
    print(_table(rows))
    report = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "options": {k: str(v) for k, v in vars(args).items()}, "policies": rows}
    out = args.out or RESULTS / f"policies-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
