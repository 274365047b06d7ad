"""NanoVer's official client on a hub that a publisher feeds (``costeer serve --remote``); prints JSON.

Runs inside NanoVer's side venv, connected to the hub only (NanoVer's own server with no
simulation), never to the publisher. It waits for the publisher's frames and state, pulls
one atom (``nanover_client``'s ``pull`` scenario, through the hub), then pauses and plays the
publisher's simulation with commands sent to the hub.

    python remote.py --url ws://127.0.0.1:HUB_PORT [--atom 60 --frames 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from nanover_client import SIM_TIME, scenario_pull
from observer import ObservingClient

__all__ = ["main"]

SESSION_KEY = "costeer.session"


def _latest_time(client: ObservingClient) -> float:
    frames = client.frames_since(0)
    return float(frames[-1].merged[SIM_TIME])


def _time_advance(client: ObservingClient, seconds: float) -> float:
    """How far the simulation time moved in the frames of the next ``seconds``."""
    before = _latest_time(client)
    time.sleep(seconds)
    return _latest_time(client) - before


def _commands(url: str, settle: float) -> dict[str, Any]:
    with ObservingClient.connect(url) as client:
        client.wait_frame(lambda frame: SIM_TIME in frame, merged=True, timeout=15)
        state = client.wait_state(lambda state: SESSION_KEY in state, timeout=15)
        client.run_command_blocking("playback/pause")
        time.sleep(settle)  # frames already on their way
        paused = _time_advance(client, 1.0)
        client.run_command_blocking("playback/play")
        time.sleep(settle)
        played = _time_advance(client, 1.0)
        return {
            "session_server": state[SESSION_KEY].get("server"),
            "simulation_name": state.get("simulation.name"),
            "paused_advance": paused,
            "played_advance": played,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the hub's WebSocket URL")
    parser.add_argument("--atom", type=int, default=60)
    parser.add_argument("--distance", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=1000.0)
    parser.add_argument("--frames", type=int, default=30, help="frames to hold the pull for")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds to hold it at most")
    parser.add_argument("--settle", type=float, default=0.5)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.type = "spring"
    result = {"commands": _commands(args.url, args.settle), "pull": scenario_pull(args)}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
