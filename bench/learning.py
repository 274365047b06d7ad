"""The learning results in the README, made by the same commands a lab would type.

Each step is a `costeer` command, printed before it runs, and its output is kept in a work
folder so a step is skipped when its output exists (delete it to redo). Steps:

- ``data``: synthetic episodes (``costeer demonstrate --offline``), then a dataset of them and
  the human sessions in ``../shared/data/recordings`` (``costeer dataset build``);
- ``train``: each policy on that dataset (``costeer train``);
- ``evaluate``: each policy and the baselines, seeded closed-loop rollouts (``costeer evaluate``);
- ``loo``: leave-one-out on the human sessions: train on the synthetic episodes and the other
  session (``--loo-seeds N``: seeds 0 to N-1; each human weight of ``--loo-weights``: ``costeer train
  --weight human=W``), compare with the held-out person step by step (``costeer evaluate --against``);
- ``dagger``: from a weak start (a policy trained on a few episodes), HG-DAgger rounds;
- ``helix``: the second task: its synthetic person and a policy trained on its episodes.

Figures go to ``WORK/learning.json``; the table is printed as Markdown.

    .venv/bin/python bench/learning.py                          # everything (about an hour on 2 cores)
    .venv/bin/python bench/learning.py --steps data train evaluate --policies mlp --rollouts 20
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT.parent / "shared" / "data" / "recordings"
HUMAN = ["nanotube-methane-01", "nanotube-methane-02"]
POLICY_SETTINGS = {
    "mlp": ["--set", "history=8"],
    "cnn": ["--set", "history=8"],
    "flow": ["--set", "history=8"],
    "equivariant": ["--set", "history=4"],
}
"""Settings per policy (see ``costeer train --set``): a history long enough to see the drift."""
EPOCH_CAPS = {"equivariant": 6}
"""Policies whose epochs are slow on 2 cores (equivariant: 2-3 minutes each on this dataset) train for at most this many."""
STEPS = ("data", "train", "evaluate", "loo", "dagger", "helix")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "learning", help="work folder")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--episodes", type=int, default=200, help="synthetic nanotube episodes (default 200)")
    parser.add_argument("--policies", default="mlp,cnn,flow,equivariant")
    parser.add_argument("--rollouts", type=int, default=50, help="evaluation rollouts per actor (default 50)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--loo-seeds", type=int, default=3,
                        help="leave-one-out: trainings per held-out session, seeds 0 to N-1 (default 3: one seed's cosine varies by 0.2)")
    parser.add_argument("--loo-weights", type=lambda text: [float(item) for item in text.split(",")], default=[1.0, 10.0],
                        help="leave-one-out: loss weights of the human session (costeer train --weight human=W), "
                        "comma-separated (default 1,10: unweighted, and the weight chosen on methane-01)")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "learning.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    policies = [name for name in args.policies.split(",") if name]
    bench = Bench(work, args)
    for step in args.steps:
        started = time.monotonic()
        results[step] = getattr(bench, step)(policies)
        results[step + "_seconds"] = round(time.monotonic() - started, 1)
        results_path.write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"\nwrote {results_path}")
    return 0


class Bench:
    """The steps, sharing the work folder and the options."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.dataset = work / "dataset"

    def data(self, policies: list[str]) -> dict:
        synthetic = self.work / "synthetic"
        run(["demonstrate", "--offline", "--episodes", str(self.args.episodes), "--workers", str(self.args.workers),
             "--seed", "1000", "-o", str(synthetic)], skip_if=synthetic / f"episode-{self.args.episodes - 1:05d}.nanover.zip")
        humans = [str(SESSIONS / f"{name}.nanover.zip") for name in HUMAN] + [str(SESSIONS / "nanotube-example.nanover.zip")]
        run(["dataset", "build", *sorted(map(str, synthetic.glob("*.nanover.zip"))), *humans, "--task", "nanotube",
             "--origin", "human", "-o", str(self.dataset)], skip_if=self.dataset / "meta" / "info.json", show=3)
        return {"dataset": str(self.dataset), "episodes": self.args.episodes}

    def train(self, policies: list[str]) -> dict:
        trained = {}
        for name in policies:
            output = self.work / f"{name}.pt"
            started = time.monotonic()
            epochs = min(self.args.epochs, EPOCH_CAPS.get(name, self.args.epochs))
            run(["train", "--dataset", str(self.dataset), "--policy", name, "-o", str(output), "--epochs",
                 str(epochs), "--patience", "6", "--threads", "2",
                 *POLICY_SETTINGS.get(name, [])], skip_if=output)
            trained[name] = {"checkpoint": str(output), "seconds": round(time.monotonic() - started, 1)}
        return trained

    def evaluate(self, policies: list[str]) -> dict:
        output = self.work / "evaluation.json"
        checkpoints = [str(self.work / f"{name}.pt") for name in policies]
        evaluated = {}
        for actor in [*checkpoints, "none", "scripted", "demonstrator"]:
            name = Path(actor).stem
            part = self.work / f"evaluation-{name}.json"
            policy = ["--policy", actor, "--baselines", ""] if actor.endswith(".pt") else ["--baselines", actor]
            run(["evaluate", *policy, "--rollouts", str(self.args.rollouts), "--seed", "0", "--workers",
                 str(self.args.workers), "--json", str(part)], skip_if=part)
            evaluated[name] = {key: value for key, value in json.loads(part.read_text())["actors"][0].items()
                               if key != "per_rollout"}
        output.write_text(json.dumps(evaluated, indent=1))
        return evaluated

    def loo(self, policies: list[str]) -> dict:
        """For each held-out session and human weight: each seed's comparison, and the means over the seeds."""
        results: dict[str, dict] = {}
        synthetic = sorted(map(str, (self.work / "synthetic").glob("*.nanover.zip")))
        for held in HUMAN:
            others = [str(SESSIONS / f"{name}.nanover.zip") for name in HUMAN if name != held]
            dataset = self.work / f"loo-{held}"
            run(["dataset", "build", *synthetic, *others, "--task", "nanotube", "--origin", "human", "-o", str(dataset)],
                skip_if=dataset / "meta" / "info.json", show=3)
            for weight in self.args.loo_weights:
                weighting = ["--weight", f"human={weight:g}"] if weight != 1 else []
                runs = []
                for seed in range(self.args.loo_seeds):
                    name = f"loo-{held}-human{weight:g}-seed{seed}"
                    checkpoint, part = self.work / f"{name}.pt", self.work / f"{name}.json"
                    run(["train", "--dataset", str(dataset), "--policy", "mlp", "-o", str(checkpoint), "--epochs",
                         str(self.args.epochs), "--patience", "6", "--threads", "2", "--seed", str(seed), *weighting,
                         *POLICY_SETTINGS["mlp"]], skip_if=checkpoint)
                    run(["evaluate", "--policy", str(checkpoint), "--against", str(SESSIONS / f"{held}.nanover.zip"),
                         "--json", str(part)], skip_if=part)
                    runs.append(json.loads(part.read_text())["against"][0])
                means = {f"{key}_mean": statistics.fmean(each[key] for each in runs)
                         for key in ("direction_cosine", "on_accuracy", "target_error_nm")}
                results.setdefault(held, {})[f"human x{weight:g}"] = {**means, "runs": runs}
        return results

    def dagger(self, policies: list[str]) -> dict:
        few = self.work / "few"
        synthetic = sorted(map(str, (self.work / "synthetic").glob("*.nanover.zip")))[:10]
        run(["dataset", "build", *synthetic, "--task", "nanotube", "-o", str(few)], skip_if=few / "meta" / "info.json", show=3)
        weak = self.work / "weak.pt"
        run(["train", "--dataset", str(few), "--policy", "mlp", "-o", str(weak), "--epochs", "20", "--threads", "2",
             *POLICY_SETTINGS["mlp"]], skip_if=weak)
        output = self.work / "dagger"
        run(["dagger", "--policy", str(weak), "--dataset", str(few), "-o", str(output), "--rounds", "3", "--episodes",
             "10", "--rollouts", "20", "--epochs", "20", "--workers", str(self.args.workers)],
            skip_if=output / "dagger.json")
        return {"rounds": json.loads((output / "dagger.json").read_text())}

    def helix(self, policies: list[str]) -> dict:
        episodes = self.work / "helix-synthetic"
        count = max(20, self.args.episodes // 4)
        run(["demonstrate", "--offline", "--task", "helix", "--episodes", str(count), "--workers",
             str(self.args.workers), "--seed", "2000", "-o", str(episodes)],
            skip_if=episodes / f"episode-{count - 1:05d}.nanover.zip")
        dataset, checkpoint = self.work / "helix-dataset", self.work / "helix-mlp.pt"
        run(["dataset", "build", *sorted(map(str, episodes.glob("*.nanover.zip"))), "--task", "helix", "-o", str(dataset)],
            skip_if=dataset / "meta" / "info.json", show=3)
        run(["train", "--dataset", str(dataset), "--policy", "mlp", "-o", str(checkpoint), "--epochs",
             str(self.args.epochs), "--patience", "6", "--threads", "2", *POLICY_SETTINGS["mlp"]],
            skip_if=checkpoint)
        part = self.work / "helix-evaluation.json"
        rollouts = max(10, self.args.rollouts // 2)
        run(["evaluate", "--task", "helix", "--policy", str(checkpoint), "--baselines", "none,demonstrator",
             "--rollouts", str(rollouts), "--workers", str(self.args.workers), "--json", str(part)], skip_if=part)
        return {actor["actor"]: {key: value for key, value in actor.items() if key != "per_rollout"}
                for actor in json.loads(part.read_text())["actors"]}


def run(arguments: list[str], *, skip_if: Path, show: int = 12) -> None:
    """Run ``costeer ARGUMENTS`` unless ``skip_if`` exists (printed either way, long file lists shortened)."""
    shown = [item for index, item in enumerate(arguments) if not item.endswith(".nanover.zip") or index < show]
    hidden = len(arguments) - len(shown)
    line = "costeer " + shlex.join(shown) + (f"  # and {hidden} more recordings" if hidden else "")
    if skip_if.exists():
        print(f"[kept] {line}", flush=True)
        return
    print(f"[run]  {line}", flush=True)
    subprocess.run([str(Path(sys.executable).with_name("costeer")), *arguments], check=True)


def table(results: dict) -> str:
    """The README's table: each policy and baseline on the nanotube task."""
    rows = ["| actor | success (50 seeded rollouts) | 95% interval | median time to success | median work |",
            "|---|---|---|---|---|"]
    for name, summary in results.get("evaluate", {}).items():
        low, high = summary["success_interval"]
        time_s, work = summary["time_to_success_s_median"], summary["work_median"]
        rows.append(f"| {name} | {summary['successes']}/{summary['rollouts']} = {summary['success_rate']:.0%} | "
                    f"{low:.0%}-{high:.0%} | {'-' if time_s is None else f'{time_s:.1f} s'} | "
                    f"{'-' if work is None else f'{work:.0f} kJ/mol'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
