"""``costeer demo``: serve the built-in nanotube task, pull the methane through it, record it.

Starts a server on 127.0.0.1, connects a scripted NanoVer client that grabs the methane
and drags it through the tube for ~20 s, records the session and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..core import keys

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="serve the built-in nanotube task, pull the methane through, record it",
        description="A 20-second tour: server + scripted client + recording, then a summary.",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of pulling (default 20)")
    parser.add_argument("--output", type=Path, default=None, help="recording path (default out/demo-<time>.nanover.zip)")
    parser.add_argument("--scale", type=float, default=100.0, help="spring strength sent with the interaction (default 100, as headsets send)")
    parser.set_defaults(run=run)


def methane_and_tube(frame: dict[str, Any]) -> tuple[int, np.ndarray]:
    """The methane carbon (a carbon with four hydrogens) and the tube atoms (carbons bonded to carbons)."""
    elements = np.asarray(frame[keys.PARTICLE_ELEMENTS])
    bonds = np.unique(np.sort(np.asarray(frame[keys.BOND_PAIRS]).reshape(-1, 2), axis=1), axis=0)
    carbon = elements == 6
    hydrogen_neighbours = np.zeros(len(elements), dtype=int)
    carbon_neighbours = np.zeros(len(elements), dtype=int)
    for a, b in (bonds, bonds[:, ::-1]):
        np.add.at(hydrogen_neighbours, a, elements[b] == 1)
        np.add.at(carbon_neighbours, a, elements[b] == 6)
    methane = np.flatnonzero(carbon & (hydrogen_neighbours == 4))
    tube = np.flatnonzero(carbon & (carbon_neighbours > 0))
    if len(methane) != 1 or len(tube) == 0:
        raise ValueError("the system has no single methane beside a carbon tube")
    return int(methane[0]), tube


def tube_frame(positions: np.ndarray, tube: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Centre, axis (pointing away from ``start``), half-length and radius of the tube."""
    atoms = positions[tube]
    centre = atoms.mean(axis=0)
    _, _, vt = np.linalg.svd(atoms - centre)
    axis = vt[0]
    if np.dot(start - centre, axis) > 0:
        axis = -axis
    along = (atoms - centre) @ axis
    radial = np.linalg.norm((atoms - centre) - np.outer(along, axis), axis=1)
    return centre, axis, float(np.abs(along).max()), float(radial.mean())


async def _drive(url: str, duration: float, scale: float) -> dict[str, Any]:
    from ..client import NanoverSession
    from ..client.pull import drag_along

    async with NanoverSession.connect(url) as session:
        frame = await session.wait_for_frame(lambda f: keys.PARTICLE_POSITIONS in f and keys.BOND_PAIRS in f)
        positions = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=float)
        methane, tube = methane_and_tube(frame)
        start = positions[methane]
        centre, axis, half_length, radius = tube_frame(positions, tube, start)
        waypoints = np.array([start, centre - axis * (half_length + 0.3), centre + axis * (half_length + 0.6)])
        time_start = float(frame.get(keys.SIMULATION_TIME, 0.0))
        wall_start = time.monotonic()
        track = await drag_along(session, atom=methane, waypoints=waypoints, duration=duration, scale=scale)
        await asyncio.sleep(0.5)
        wall = time.monotonic() - wall_start
        time_end = float(session.frame.get(keys.SIMULATION_TIME, 0.0))
        path = np.array(track.positions) if track.positions else start[None, :]
        along = (path - centre) @ axis
        radial = np.linalg.norm((path - centre) - np.outer(along, axis), axis=1)
        inside = (np.abs(along) < half_length) & (radial < radius)
        return {
            "frames": session.frames_received,
            "frames_per_s": len(track.times) / duration,
            "simulated_ps": time_end - time_start,
            "wall_s": wall,
            "methane": methane,
            "start_along_nm": float(along[0]),
            "end_along_nm": float(along[-1]),
            "tube_half_length_nm": half_length,
            "was_inside": bool(inside.any()),
            "threaded": bool(inside.any() and along[0] < -half_length and along[-1] > half_length),
            "user_force_frames": track.user_force_frames,
            "user_energy_max": track.user_energy_max,
        }


def run(args: argparse.Namespace) -> int:
    from ..engine.loading import from_built
    from ..engine.openmm_simulation import OpenMMSimulation
    from ..server.app import CosteerServer
    from ..tasks import build_task_system

    output = args.output or Path("out") / f"demo-{datetime.now():%Y%m%d-%H%M%S}.nanover.zip"
    output.parent.mkdir(parents=True, exist_ok=True)
    loaded = from_built(build_task_system("nanotube"))
    timestep_ps = loaded.integrator.getStepSize()._value
    simulation = OpenMMSimulation(loaded, source="task:nanotube")
    info = {"server": "costeer", "systems": [{"task": "nanotube"}], "labels": {"origin": "scripted", "run": "demo"}}
    print(f"costeer demo: serving the built-in nanotube task, recording to {output}", flush=True)
    with CosteerServer([simulation], address="127.0.0.1", port=0, record=output, session_info=info) as server:
        summary = asyncio.run(_drive(f"ws://127.0.0.1:{server.port}", args.duration, args.scale))
    steps_per_s = summary["simulated_ps"] / timestep_ps / summary["wall_s"]
    print(
        "\n".join(
            [
                "costeer demo summary",
                f"  frames received      {summary['frames']} ({summary['frames_per_s']:.1f}/s while pulling)",
                f"  MD steps/s           {steps_per_s:,.0f} (paced: 5 steps x 30 frames/s)",
                f"  frames with the pull {summary['user_force_frames']} (max user energy {summary['user_energy_max']:.1f} kJ/mol)",
                f"  methane (atom {summary['methane']}) along the tube axis: {summary['start_along_nm']:+.2f} nm -> "
                f"{summary['end_along_nm']:+.2f} nm (tube ends at +/-{summary['tube_half_length_nm']:.2f} nm)",
                f"  threaded through the tube: {'yes' if summary['threaded'] else 'no'}",
                f"  recording            {output} ({output.stat().st_size / 1e6:.1f} MB)",
            ]
        )
    )
    return 0
