"""How much time could any co-pilot save the synthetic person? An oracle beside them, seed by seed.

The shipped co-pilot imitates people, so beside the synthetic person it moves at a person's
pace (README "Co-steering": 0.91 of the time with ``assist --blend 0.5``). This bench puts an
oracle in its place, which needs no learning: it reads the tube's axis from the positions
(the task frame), brings methane round to the axis before the near end (the scripted
baseline's point), pushes it along the axis with its target ``lead`` nm ahead, and leans
against methane's drift as people do. It
acts by the co-pilot's own rule (``arbitrate`` in ``assist`` with a blend: its scale capped
at ``blend / (1 - blend)`` times the person's) and force cap, in the same headless episode
as ``costeer evaluate --with-person synthetic`` (``run_costeering_episode``, the same
seeds, the same person). An arm is a blend, the oracle's scale (a multiple of the person's:
at ``blend`` 0.5 a multiple of 1 is the whole share), its force cap and its lead.

Reported per arm, against the person alone on the same seeds: how many threaded (and how many
blew the simulation up), the time ratio with / alone (median over the seeds threaded both
ways, bootstrap 95 % interval), the person's work ratio, and on how many seeds the person's
own force did negative work: it held methane back, i.e. the co-pilot pulled against them.

    .venv/bin/python bench/costeering_bound.py --episodes 50 --workers 2    # ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costeer.agent.checkpoint import shipped_checkpoint
from costeer.agent.copilot import COPILOT_INTERACTION_KEY, COPILOT_LABEL
from costeer.agent.copilot.arbiter import arbitrate, person_pulling
from costeer.agent.copilot.settings import CopilotChange, CopilotSettings
from costeer.agent.evaluation.closed_loop import trained_pace
from costeer.agent.evaluation.costeering import CosteeringEpisode, run_costeering_episode
from costeer.agent.evaluation.intervals import median_interval, wilson_interval
from costeer.agent.evaluation.seeds import finite_median, map_seeds
from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.engine.frame_guard import SimulationBlowUpError
from costeer.rollout import TaskEnvironment
from costeer.tasks import resolve_task
from costeer.tasks.encoding import StepEncoder, grabbed_centres
from costeer.tasks.hand import human_scale
from costeer.tasks.hands.nanotube import BESIDE_CLEARANCE

RESULTS = Path(__file__).resolve().parent / "results"
ON_AXIS = 0.08
"""Methane this close to the axis (nm) before the near end is lined up: the oracle pushes."""
DAMPING_S = 0.9
"""How much the oracle leans against methane's drift, nm per nm/s (the persons' 0.7-1.1)."""
UNCAPPED = math.inf
"""An arm's force cap lifted (the environment's server-wide cap, 20,000 kJ/(mol nm), still applies)."""


@dataclass(frozen=True)
class Arm:
    """One oracle: its share, its scale (times the person's), its force cap and its lead."""

    blend: float
    strength: float
    max_force: float
    lead: float

    @property
    def name(self) -> str:
        cap = "cap lifted" if math.isinf(self.max_force) else f"cap {self.max_force:g}"
        return f"blend {self.blend:g}, scale x{self.strength:g}, {cap}, lead {self.lead:g} nm"


DEFAULT_ARMS = tuple(
    Arm(blend, strength, max_force, lead)
    for blend, strength, max_force, leads in (
        (0.5, 1.0, CopilotSettings.max_force, (0.5, 1.0, 2.0)),
        (0.75, 3.0, CopilotSettings.max_force, (0.5, 1.0, 2.0)),
        (0.9, 9.0, CopilotSettings.max_force, (0.5, 1.0, 2.0)),
        (0.9, 9.0, UNCAPPED, (0.5, 1.0)),
    )
    for lead in leads
)
"""The co-pilot's default force cap at growing shares, then the same without it."""


class AxisOracle:
    """A co-pilot that knows the way: the :class:`~costeer.agent.copilot.Copilot` interface, no policy.

    Usage: ``change = oracle.on_frame(positions, live_interactions, frame_index=i)``
    """

    def __init__(self, env: TaskEnvironment, arm: Arm) -> None:
        self.arm = arm
        self._selection = env.selection
        self._encoder = StepEncoder(env.task, env.selection, masses=env.masses)
        self._masses = env.masses
        self._hull = env.task.methane_path(env.initial_positions[None], env.selection)[1]
        self._entry = env.task.scripted_path(env.selection, env.initial_positions)[1]
        """Where methane is lined up: on the axis before the near end, the scripted baseline's point."""
        self._frame_interval_s = env.frame_interval_s
        self._scale = arm.strength * human_scale(env.chemistry, env.selection)
        self._last: np.ndarray | None = None

    def on_frame(self, positions: np.ndarray, interactions: dict[str, Interaction], *,
                 frame_index: int | None = None) -> CopilotChange:
        if frame_index == 0:
            self._encoder.reset()
            self._last = None
        self._encoder.observe(positions)
        frame = self._encoder.frame
        methane = frame.to_task(grabbed_centres(positions[None], self._selection.grabbed, self._masses))[0]
        drift = np.zeros(3) if self._last is None else (methane - self._last) / self._frame_interval_s
        self._last = methane
        aim = self._aim(methane) - DAMPING_S * drift
        proposal = Interaction(frame.to_lab(aim[None])[0], self._selection.grabbed, "spring", scale=self._scale,
                               max_force=self.arm.max_force,
                               properties={"owner.id": keys.COPILOT_OWNER, "label": COPILOT_LABEL})
        others = {key: value for key, value in interactions.items() if key != COPILOT_INTERACTION_KEY}
        applied = arbitrate("assist", proposal, person_pulling(others, self._selection.grabbed), blend=self.arm.blend)
        if applied is None:
            return CopilotChange(removals=[COPILOT_INTERACTION_KEY])
        return CopilotChange(updates={COPILOT_INTERACTION_KEY: applied.to_state()})

    def _aim(self, methane: np.ndarray) -> np.ndarray:
        """Task-frame target: round to the axis before the near end, then along it, ``lead`` ahead."""
        half_length, radius = self._hull.half_length, self._hull.radius
        radial = float(np.hypot(*methane[:2]))
        ahead = np.array([0.0, 0.0, methane[2] + self.arm.lead])
        if methane[2] < -(half_length + 0.15):  # before the near end: line up, then push
            return ahead if radial < ON_AXIS else self._entry
        if radial < radius + 0.1:  # in the tube's mouth or inside it
            return ahead
        outward = methane[:2] / radial * max(radial, BESIDE_CLEARANCE)  # beside it: round the outside, as people do
        return np.array([*outward, self._entry[2]])


_worker: dict[str, Any] = {}


def _start(task: str, arms: tuple[Arm, ...], max_s: float, steps_per_frame: int, *, own_process: bool = True) -> None:
    env = TaskEnvironment(resolve_task(task), steps_per_frame=steps_per_frame)
    _worker.update(env=env, arms=arms, max_s=max_s)


def _close() -> None:
    _worker.pop("env").close()


def _episode(copilot: AxisOracle | None, seed: int) -> dict[str, Any]:
    try:
        episode: CosteeringEpisode = run_costeering_episode(_worker["env"], seed, copilot=copilot,
                                                            max_s=_worker["max_s"])
    except SimulationBlowUpError:
        return {"seed": seed, "blew_up": True, "success": False}
    return {**asdict(episode), "blew_up": False}


def run_seed(seed: int) -> dict[str, Any]:
    """The person alone on ``seed``, then beside each arm's oracle."""
    env = _worker["env"]
    return {"alone": _episode(None, seed),
            "arms": [_episode(AxisOracle(env, arm), seed) for arm in _worker["arms"]]}


def summarise(arm: Arm, alone: list[dict[str, Any]], together: list[dict[str, Any]]) -> dict[str, Any]:
    """One arm against the person alone, paired by seed."""
    times = [t["time_to_success_s"] / a["time_to_success_s"] for a, t in zip(alone, together)
             if a["success"] and t["success"]]
    works = [t["person_work"] / a["person_work"] for a, t in zip(alone, together)
             if not t["blew_up"] and a["person_work"] > 0]
    threaded = sum(t["success"] for t in together)
    return {
        "arm": asdict(arm), "name": arm.name, "episodes": len(together), "threaded": threaded,
        "threaded_interval": list(wilson_interval(threaded, len(together))),
        "blew_up": sum(t["blew_up"] for t in together),
        "time_ratio": finite_median(times),
        "time_ratio_interval": list(median_interval(times, rng=np.random.default_rng(1))),
        "time_pairs": len(times),
        "person_work_ratio": finite_median(works),
        "person_work_interval": list(median_interval(works, rng=np.random.default_rng(2))),
        "person_held_back": sum(not t["blew_up"] and t["person_work"] < 0 for t in together),
    }


def table(alone: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """Markdown: the person alone, then one line per arm."""
    threaded = sum(a["success"] for a in alone)
    lines = [f"Person alone: {threaded}/{len(alone)} threaded, median time to success "
             f"{np.median([a['time_to_success_s'] for a in alone if a['success']]):.1f} s.", "",
             "| oracle beside the person | threaded | blew up | time with / alone | person's work with / alone | person held methane back |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        low, high = row["time_ratio_interval"]
        wlow, whigh = row["person_work_interval"]
        lines.append(
            f"| {row['name']} | {row['threaded']}/{row['episodes']} | {row['blew_up']} | "
            f"{_fmt(row['time_ratio'])} ({_fmt(low)} to {_fmt(high)}), {row['time_pairs']} seeds | "
            f"{_fmt(row['person_work_ratio'])} ({_fmt(wlow)} to {_fmt(whigh)}) | {row['person_held_back']} seeds |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}".replace("-0.00", "0.00")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="seeds seed .. seed + episodes - 1 (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--max-s", type=float, default=40.0, help="person's seconds per episode (default 40, as evaluate)")
    parser.add_argument("--json", type=Path, default=None, help="where to write every episode (default bench/results/)")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    # The frames the person and the oracle see are the shipped co-pilot's: the evaluation's pace.
    steps_per_frame = trained_pace(str(shipped_checkpoint("nanotube")), "nanotube")
    seeds = [args.seed + index for index in range(args.episodes)]
    results = map_seeds(run_seed, seeds, workers=args.workers, start=_start,
                        start_args=("nanotube", DEFAULT_ARMS, args.max_s, steps_per_frame), close=_close,
                        desc="oracle co-pilot", unit="seed")
    alone = [result["alone"] for result in results]
    rows = [summarise(arm, alone, [result["arms"][index] for result in results])
            for index, arm in enumerate(DEFAULT_ARMS)]
    print(table(alone, rows))
    path = args.json or RESULTS / f"costeering-bound-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seeds": seeds, "steps_per_frame": steps_per_frame, "max_s": args.max_s,
                                "arms": rows, "per_seed": results}, indent=1, default=float))
    print(f"every episode: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
