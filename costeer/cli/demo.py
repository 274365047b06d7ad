"""``costeer demo``: the co-steering demo, or (``--served``) a served, recorded tour of the nanotube task.

By default, headless and in-process: the nanotube task's synthetic person threads methane
through the tube alone, then again on the same seed with the shipped co-pilot beside them
(``assist``, sharing the pull with ``--blend``); it prints both times, whether each threaded
and the person's work (about half a minute).

With ``--served``: starts a server on 127.0.0.1, connects a scripted NanoVer client that grabs
the methane and steers it through the tube like a person (about 20-40 s), records the session
and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from openmm import unit

from ..core import keys
from ..tasks import Chemistry, get_task
from .files import new_recording
from .numbers import seconds, seed
from .serve import describe_session

__all__ = ["add_parser"]


DEFAULT_BLEND = 0.5


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="co-steering: the synthetic person threads methane alone, then with the shipped co-pilot",
        description="The nanotube task's synthetic person alone, then with the shipped co-pilot (assist) on the "
        "same seed, headless; prints both times and whether each threaded. --served: serve the task, pull the "
        "methane through with a scripted client, record it and summarise instead.",
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the synthetic person and the thermostat (default 0)")
    parser.add_argument("--blend", type=float, default=DEFAULT_BLEND, metavar="A",
                        help=f"the co-pilot's largest share of the pull beside the person (default {DEFAULT_BLEND}); "
                        "0: it yields, pulling only while the person does not")
    parser.add_argument("--max-seconds", type=seconds, default=40.0, help="time limit, person's seconds (default 40)")
    served = parser.add_argument_group("the served tour (--served)")
    served.add_argument("--served", action="store_true", help="serve, pull through with a scripted client, record")
    served.add_argument("--duration", type=seconds, default=40.0, help="longest pull in seconds; the hand lets go once the methane is through (default 40)")
    served.add_argument("--output", type=Path, default=None, help="recording path, or a folder for a new one (implies --served; default out/demo-<time>.nanover.zip)")
    served.add_argument("--steps-per-frame", type=int, default=5, help="MD steps per frame at 30 frames/s (default 5, as NanoVer)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.served or args.output is not None:
        return _run_served(args)
    return _run_costeering(args)


def _run_costeering(args: argparse.Namespace) -> int:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # OpenMM steps on the other core
    try:
        return _costeer(args)
    finally:
        torch.set_num_threads(threads)


def _costeer(args: argparse.Namespace) -> int:
    from ..agent.checkpoint import shipped_checkpoint
    from ..agent.copilot.settings import check_blend
    from ..agent.evaluation.costeering import costeer_one_seed

    blend = None if args.blend == 0 else check_blend(args.blend)
    policy = shipped_checkpoint("nanotube")
    sharing = "yielding to the person" if blend is None else f"sharing the pull, its weight at most {blend:g}"
    print(f"costeer demo: the nanotube task's synthetic person (seed {args.seed}) alone, then with the co-pilot "
          f"{policy.name} in assist, {sharing}", flush=True)
    alone, together = costeer_one_seed(policy, args.seed, mode="assist", blend=blend, max_s=args.max_seconds)
    for name, episode in (("person alone", alone), ("with the co-pilot", together)):
        outcome = f"threaded in {episode.time_to_success_s:.1f} s" if episode.success else \
            f"not threaded in {episode.duration_s:.1f} s"
        helped = f", co-pilot pulled {episode.copilot_pulled_s:.1f} s" if episode.with_copilot else ""
        print(f"  {name:<18s} {outcome}; person's work {episode.person_work:.0f} kJ/mol{helped}")
    if alone.success and together.success:
        print(f"  time with / alone  {together.time_to_success_s / alone.time_to_success_s:.2f}")
    return 0


async def _drive(url: str, duration: float, seed: int) -> dict[str, Any]:
    from ..client import NanoverSession
    from ..client.pull import drag
    from ..demonstrator import Persona, ThreadingHand, human_scale

    task = get_task("nanotube")
    async with NanoverSession.connect(url) as session:
        frame = await session.wait_for_frame(lambda f: keys.PARTICLE_POSITIONS in f and keys.BOND_PAIRS in f)
        positions = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=float)
        selection = task.select(Chemistry.from_frame(frame))
        methane = int(selection.grabbed[0])
        # a careful synthetic person, calibrated on the real VR sessions (costeer.demonstrator)
        rng = np.random.default_rng(seed)
        person = dataclasses.replace(Persona.sample(rng), sloppiness=0.0)
        hand = ThreadingHand(task, selection, positions, rng=rng, persona=person)
        scale = human_scale(Chemistry.from_frame(frame), selection)
        time_start = float(frame.get(keys.SIMULATION_TIME, 0.0))
        wall_start = time.monotonic()
        track = await drag(
            session, particles=selection.grabbed, hand=hand, duration=duration, scale=scale, until=lambda: hand.finished
        )
        await asyncio.sleep(0.5)
        wall = time.monotonic() - wall_start
        time_end = float(session.frame.get(keys.SIMULATION_TIME, 0.0))
    episode = np.array([positions, *track.positions])
    path, hull = task.methane_path(episode, selection)
    outcome = task.evaluate(episode, selection)
    return {
        "frames": session.frames_received,
        "frames_per_s": len(track.times) / max(track.times[-1], 1e-9) if track.times else 0.0,
        "simulated_ps": time_end - time_start,
        "wall_s": wall,
        "methane": methane,
        "start_z_nm": float(path[0, 2]),
        "end_z_nm": float(path[-1, 2]),
        "tube_half_length_nm": hull.half_length,
        "threaded": bool(outcome.success),
        "user_force_frames": track.user_force_frames,
        "user_energy_max": track.user_energy_max,
    }


def _run_served(args: argparse.Namespace) -> int:
    from ..engine.loading import from_built
    from ..engine.openmm_simulation import OpenMMSimulation
    from ..server.app import CosteerServer
    from ..tasks import build_task_system

    output = new_recording(args.output or Path("out") / f"demo-{datetime.now():%Y%m%d-%H%M%S}.nanover.zip",
                           option="--output")  # a folder: a new file in it
    output.parent.mkdir(parents=True, exist_ok=True)
    loaded = from_built(build_task_system("nanotube"))
    timestep_ps = loaded.integrator.getStepSize().value_in_unit(unit.picosecond)
    simulation = OpenMMSimulation(loaded, steps_per_frame=args.steps_per_frame, source="task:nanotube")
    info = describe_session(
        systems=[{"task": "nanotube"}],
        settings={"steps_per_frame": args.steps_per_frame, "frame_rate": 30.0, "free_run": False, "seed": args.seed},
        labels={"origin": "scripted", "run": "demo"},
    )
    print(f"costeer demo: serving the built-in nanotube task, recording to {output}", flush=True)
    with CosteerServer([simulation], address="127.0.0.1", port=0, record=output, session_info=info) as server:
        summary = asyncio.run(_drive(f"ws://127.0.0.1:{server.port}", args.duration, args.seed))
    steps_per_s = summary["simulated_ps"] / timestep_ps / summary["wall_s"]
    print(
        "\n".join(
            [
                "costeer demo summary",
                f"  frames received      {summary['frames']} ({summary['frames_per_s']:.1f}/s while pulling)",
                f"  MD steps/s           {steps_per_s:,.0f} (paced: {args.steps_per_frame} steps x 30 frames/s)",
                f"  frames with the pull {summary['user_force_frames']} (max user energy {summary['user_energy_max']:.1f} kJ/mol)",
                f"  methane (atom {summary['methane']}) along the tube axis: z {summary['start_z_nm']:+.2f} nm -> "
                f"{summary['end_z_nm']:+.2f} nm (tube ends at +/-{summary['tube_half_length_nm']:.2f} nm)",
                f"  threaded through the tube: {'yes' if summary['threaded'] else 'no'}",
                f"  recording            {output} ({output.stat().st_size / 1e6:.1f} MB)",
            ]
        )
    )
    return 0
