"""Scripted sessions of NanoVer's official client against any server; prints what it saw as JSON.

Runs inside NanoVer's side venv. Each scenario connects with ``ObservingClient`` (NanoVer's
``NanoverImdClient`` plus a raw message log), does one scripted thing and prints a single
JSON object on stdout. Tests compare these observations between costeer and NanoVer's own
server, or assert on them directly.

    python nanover_client.py pull    --url ws://127.0.0.1:PORT [--atom 60 --distance 1]
    python nanover_client.py session --url ws://127.0.0.1:PORT
    python nanover_client.py cleanup --url ws://127.0.0.1:PORT
    python nanover_client.py forces  --url ws://127.0.0.1:PORT --xml SYSTEM.xml
    python nanover_client.py watch   --url ws://127.0.0.1:PORT --duration 10
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from nanover.imd import ParticleInteraction
from nanover.imd.imd_force import calculate_imd_force
from nanover.imd.imd_state import interaction_to_dict
from openmm import XmlSerializer
from observer import ObservedFrame, ObservingClient, describe_frame, describe_state

__all__ = ["main"]

POSITIONS = "particle.positions"
FRAME_INDEX = "frame.index"
SIM_TIME = "system.simulation.time"
SIM_COUNTER = "system.simulation.counter"
USER_INDEX = "forces.user.index"
USER_SPARSE = "forces.user.sparse"
USER_ENERGY = "energy.user.total"


def _has_positions(frame: dict[str, Any]) -> bool:
    return POSITIONS in frame


def _user_index(frame: dict[str, Any]) -> list[int] | None:
    value = frame.get(USER_INDEX)
    return None if value is None else [int(i) for i in value]


# --- pull: frames, topology and a spring on one atom ---------------------------------------


def scenario_pull(args: argparse.Namespace) -> dict[str, Any]:
    with ObservingClient.connect(args.url) as client:
        client.wait_until_minimum_usable_frame(timeout=15)
        first = client.wait_frame(_has_positions, merged=True, timeout=15)
        topology = first.merged
        positions = np.asarray(topology[POSITIONS], dtype=float)
        atom = args.atom
        others = np.delete(positions, atom, axis=0)
        direction = positions[atom] - others.mean(axis=0)
        direction /= np.linalg.norm(direction)
        target = positions[atom] + args.distance * direction

        interaction = ParticleInteraction(
            position=[float(x) for x in target],
            particles=[atom],
            interaction_type=args.type,
            scale=args.scale,
            mass_weighted=True,
            max_force=math.inf,
        )
        start_log = client.frame_count()
        started = time.monotonic()
        client.start_interaction(interaction)
        if args.frames:  # a fixed stretch of MD, however loaded the machine; --duration at most
            client.wait_for_frames(start_log, args.frames, key=POSITIONS, timeout=args.duration)
        else:
            time.sleep(args.duration)
        frames = client.frames_since(start_log)

        track = [
            {
                "t": frame.received - started,
                "index": frame.data.get(FRAME_INDEX),
                "position": [float(x) for x in frame.data[POSITIONS][atom]],
                "distance": float(np.linalg.norm(frame.data[POSITIONS][atom] - target)),
                "user_index": _user_index(frame.data),
                "user_energy": frame.data.get(USER_ENERGY),
            }
            for frame in frames
            if POSITIONS in frame.data
        ]
        client.stop_all_interactions()
        return {
            "particle_count": int(topology["particle.count"]),
            "elements": [int(e) for e in topology["particle.elements"]],
            "bonds": sorted(sorted(int(i) for i in pair) for pair in topology["bond.pairs"]),
            "position_count": len(positions),
            "target": [float(x) for x in target],
            "start_distance": float(np.linalg.norm(positions[atom] - target)),
            "track": track,
        }


# --- session: the differential script ------------------------------------------------------


def _summary(frame: ObservedFrame) -> dict[str, Any]:
    return {
        "index": frame.data.get(FRAME_INDEX),
        "time": frame.data.get(SIM_TIME),
        "counter": frame.data.get(SIM_COUNTER),
        "keys": sorted(frame.raw),
    }


def _latest(client: ObservingClient, key: str) -> Any:
    """The newest value of a frame key this client knows (merged over deltas)."""
    frames = client.frames_since(0)
    if not frames or key not in frames[-1].merged:
        raise AssertionError(f"server never sent {key!r} in a frame")
    return frames[-1].merged[key]


def scenario_session(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with ObservingClient.connect(args.url) as client:
        connect_frame = client.wait_frame(timeout=15)
        out["connect_frame"] = describe_frame(connect_frame.raw)
        out["connect_frame_index"] = connect_frame.data.get(FRAME_INDEX)
        time.sleep(1.0)
        connect_updates: dict[str, Any] = {}
        for _, change in client.observed_states:
            connect_updates.update(change.get("updates", {}))
        out["connect_state"] = describe_state(connect_updates)
        deltas = [f for f in client.frames_since(1) if f.data.get(FRAME_INDEX, 0) > 0]
        out["delta_frame"] = describe_frame(deltas[-1].raw) if deltas else None
        running = [_summary(f) for f in client.frames_since(0)]
        out["running_frames"] = running

        out["commands"] = sorted(client.run_command_blocking("commands/list")["list"])
        out["playback_list"] = client.run_command_blocking("playback/list")

        client.run_pause()
        time.sleep(0.5)  # frames already on their way
        before_step = float(_latest(client, SIM_TIME))
        out["frames_while_paused"] = [_summary(f) for f in client.frames_during(1.5)]

        steps = []
        for _ in range(2):
            position = client.frame_count()
            client.run_step()
            stepped = client.wait_frame(lambda f: SIM_TIME in f, start=position, timeout=5)
            after = float(stepped.data[SIM_TIME])
            settle = client.frames_during(0.7)
            steps.append(
                {
                    "time_before": before_step,
                    "time_after": after,
                    "frames_after_step": 1 + len(settle),
                }
            )
            before_step = float(_latest(client, SIM_TIME))
        out["steps"] = steps

        counter_before = _latest(client, SIM_COUNTER)
        position = client.frame_count()
        client.run_reset()
        reset_frame = client.wait_frame(lambda f: f.get(FRAME_INDEX) == 0, start=position, timeout=10)
        after_reset = client.frames_during(1.5)
        merged = after_reset[-1].merged if after_reset else reset_frame.merged
        out["reset"] = {
            "counter_before": counter_before,
            "frame": _summary(reset_frame),
            "frame_description": describe_frame(reset_frame.raw),
            "following_paused": [_summary(f) for f in after_reset],
            "merged_index": merged.get(FRAME_INDEX),
            "merged_time": merged.get(SIM_TIME),
            "merged_counter": merged.get(SIM_COUNTER),
            "merged_has_topology": "particle.elements" in merged and "bond.pairs" in merged,
        }

        client.run_play()
        played = client.frames_during(1.5)
        out["after_play"] = [_summary(f) for f in played]
    return out


# --- cleanup: what stays in the shared state when a client leaves --------------------------


def scenario_cleanup(args: argparse.Namespace) -> dict[str, Any]:
    user = str(uuid.uuid4())
    interaction_key = f"interaction.{uuid.uuid4()}"
    unowned_key = f"interaction.{uuid.uuid4()}"
    spring = interaction_to_dict(ParticleInteraction(position=[0.0, 0.0, 0.0], particles=[0], scale=0.0))
    written = {
        f"avatar.{user}": {"components": [], "playerid": user, "name": "A"},
        f"playarea.{user}": {"A": [0, 0, 0], "B": [1, 0, 0], "C": [1, 0, 1], "D": [0, 0, 1]},
        f"update.index.{user}": 7,
        interaction_key: {**spring, "owner.id": user, "label": "A's hand"},
        unowned_key: {**spring, "label": "nobody's"},
        "scene": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
    }
    with ObservingClient.connect(args.url) as observer_b:
        observer_b.wait_frame(timeout=15)
        client_a = ObservingClient.connect(args.url)
        client_a.wait_frame(timeout=15)
        for key, value in written.items():
            client_a.set_shared_value(key, value)
        seen = observer_b.wait_state(lambda state: all(key in state for key in written))
        before = {key: key in seen for key in written}
        client_a._local_interaction_ids.clear()  # leave like a headset: nothing removed by hand
        client_a.close()
        time.sleep(args.settle)
        state = observer_b.state_view()
    return {
        "user": user,
        "written": sorted(written),
        "seen_before": before,
        "remaining": sorted(key for key in written if key in state),
        "removed": sorted(key for key in written if key not in state),
        "extra_keys_after": sorted(set(state) - set(written)),
        "roles": {
            "avatar": f"avatar.{user}",
            "playarea": f"playarea.{user}",
            "update_index": f"update.index.{user}",
            "owned_interaction": interaction_key,
            "unowned_interaction": unowned_key,
            "scene": "scene",
        },
    }


# --- forces: forces.user.sparse vs calculate_imd_force at the frame's positions ------------


def _masses(xml_path: Path) -> np.ndarray:
    text = xml_path.read_text()
    match = re.search(r"<System\b.*?</System>", text, re.S)
    if match is None:
        raise SystemExit(f"{xml_path}: no <System> element")
    system = XmlSerializer.deserialize(match.group(0))
    return np.array([system.getParticleMass(i)._value for i in range(system.getNumParticles())])


def _random_cases(count: int, particle_count: int, seed: int) -> list[ParticleInteraction]:
    rng = np.random.default_rng(seed)
    kinds = ["spring", "gaussian", "constant"]
    cases = []
    for number in range(count):
        size = int(rng.integers(1, 4))
        particles = sorted(int(i) for i in rng.choice(particle_count, size=size, replace=False))
        scale = float(rng.uniform(5.0, 300.0))
        # a finite cap of 0.3-1.5 x scale bites on most raw forces (magnitudes ~0.5-3)
        max_force = math.inf if number % 2 == 0 else float(rng.uniform(0.3, 1.5)) * scale
        cases.append(
            ParticleInteraction(
                position=[0.0, 0.0, 0.0],  # placed near the particles once positions are known
                particles=particles,
                interaction_type=kinds[number % len(kinds)],
                scale=scale,
                mass_weighted=bool(number % 4 < 2),
                max_force=max_force,
            )
        )
    return cases


def scenario_forces(args: argparse.Namespace) -> dict[str, Any]:
    masses = _masses(Path(args.xml))
    rng = np.random.default_rng(args.seed + 1)
    results = []
    with ObservingClient.connect(args.url) as client:
        client.wait_frame(_has_positions, merged=True, timeout=15)
        for case in _random_cases(args.cases, len(masses), args.seed):
            current = client.wait_frame(_has_positions, start=client.frame_count(), timeout=5)
            centre = current.data[POSITIONS][case.particles].mean(axis=0)
            case.position = [float(x) for x in centre + rng.uniform(-1.0, 1.0, size=3)]
            wanted = sorted(int(i) for i in case.particles)
            key = client.start_interaction(case)
            position, _ = client.find_frame(
                lambda f: _user_index(f) == wanted, start=client.frame_count(), timeout=5
            )
            checked = []
            while len(checked) < args.frames_per_case:
                position, frame = client.find_frame(start=position + 1, timeout=5)
                if POSITIONS not in frame.data or USER_SPARSE not in frame.data:
                    continue
                positions = np.asarray(frame.data[POSITIONS], dtype=np.float64)
                energy, forces = calculate_imd_force(positions, masses, [case])
                checked.append(
                    {
                        "frame_index": frame.data.get(FRAME_INDEX),
                        "sent_index": _user_index(frame.data),
                        "sent_sparse": np.asarray(frame.data[USER_SPARSE]).tolist(),
                        "reference_sparse": forces[case.particles].tolist(),
                        "sent_energy": frame.data.get(USER_ENERGY),
                        "reference_energy": float(energy),
                    }
                )
            client.stop_interaction(key)
            client.wait_frame(lambda f: not _user_index(f), start=position, timeout=5, merged=True)
            results.append({"interaction": interaction_to_dict(case), "frames": checked})
    return {"cases": results}


# --- watch: frame arrival times for rate measurements --------------------------------------


def scenario_watch(args: argparse.Namespace) -> dict[str, Any]:
    """Log frame arrivals for ``--duration`` s (``--interact``: while pulling atom ``--atom``).

    Survives the server going away (the SIGKILL test): the log so far is still printed.
    """
    client = ObservingClient.connect(args.url)
    client.wait_frame(_has_positions, merged=True, timeout=15)
    if args.interact:
        positions = client.wait_frame(_has_positions, merged=True).merged[POSITIONS]
        target = [float(x) + 0.5 for x in positions[args.atom]]
        client.start_interaction(
            ParticleInteraction(position=target, particles=[args.atom], interaction_type="spring", scale=50.0)
        )
    print(json.dumps({"ready": time.time()}), file=sys.stderr, flush=True)
    offset = time.time() - time.monotonic()
    time.sleep(args.duration)
    frames = client.frames_since(0)
    try:
        client.close()
    except Exception:  # the server may be gone on purpose
        pass
    return {
        "frames": [
            {
                "wall": frame.received + offset,
                "index": frame.data.get(FRAME_INDEX),
                "time": frame.data.get(SIM_TIME),
                "server_timestamp": frame.data.get("server.timestamp"),
                "user_index": _user_index(frame.data),
            }
            for frame in frames
        ]
    }


SCENARIOS = {
    "pull": scenario_pull,
    "session": scenario_session,
    "cleanup": scenario_cleanup,
    "forces": scenario_forces,
    "watch": scenario_watch,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--atom", type=int, default=60)
    parser.add_argument("--distance", type=float, default=1.0, help="nm from the atom")
    parser.add_argument("--scale", type=float, default=1000.0)
    parser.add_argument("--type", default="spring")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds (pull: at most, with --frames)")
    parser.add_argument("--frames", type=int, default=0, help="pull: hold it for this many frames with positions")
    parser.add_argument("--interact", action="store_true", help="watch: pull --atom meanwhile")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after a client leaves")
    parser.add_argument("--xml", help="system XML (forces: particle masses)")
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--frames-per-case", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2018)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    result = SCENARIOS[args.scenario](args)
    print(json.dumps(result, default=_json_default), flush=True)
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
