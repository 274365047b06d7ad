"""NanoVer's official client pulls until the server recovers from a blow-up; prints what it saw as JSON.

Runs inside NanoVer's side venv. Grabs ``--atom`` with a stiff spring ``--distance`` nm away
and keeps updating the same interaction (as a headset does while the grab is held) until
``costeer.recovery`` appears in the shared state, then for ``--hold`` more seconds; reports
the notice, whether its interaction is still in the state, and whether every frame it got
was finite.

    python recovery_client.py --url ws://127.0.0.1:PORT [--atom 60 --distance 20 --scale 1e6]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
from nanover.imd import ParticleInteraction
from observer import ObservingClient

RECOVERY = "costeer.recovery"
POSITIONS = "particle.positions"
SIM_TIME = "system.simulation.time"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--atom", type=int, default=60)
    parser.add_argument("--distance", type=float, default=20.0)
    parser.add_argument("--scale", type=float, default=1e6)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--hold", type=float, default=1.0)
    args = parser.parse_args(argv)

    with ObservingClient.connect(args.url) as client:
        first = client.wait_frame(lambda frame: POSITIONS in frame, merged=True, timeout=15)
        start = np.asarray(first.merged[POSITIONS], dtype=float)[args.atom]
        grab = ParticleInteraction(
            position=[float(x) for x in start + [args.distance, 0.0, 0.0]],
            particles=[args.atom], interaction_type="spring", scale=args.scale, max_force=math.inf,
        )
        key = client.start_interaction(grab)
        deadline = time.monotonic() + args.timeout
        while RECOVERY not in client.state_view() and time.monotonic() < deadline:
            client.update_interaction(key, grab)
            time.sleep(1 / 30)
        recovered = client.frame_count()
        until = time.monotonic() + args.hold
        while time.monotonic() < until:
            client.update_interaction(key, grab)
            time.sleep(1 / 30)
        state = client.state_view()
        frames = client.frames_since(0)
        after = [frame.data[SIM_TIME] for frame in frames[recovered:] if SIM_TIME in frame.data]
        result = {
            "interaction": key,
            "notice": state.get(RECOVERY),
            "interaction_in_state": key in state,
            "frames": len(frames),
            "frames_after_recovery": len(after),
            "times_after_recovery_increase": after == sorted(after),
            "all_finite": all(np.isfinite(np.asarray(frame.data[POSITIONS])).all() for frame in frames if POSITIONS in frame.data),
            "largest_coordinate": max(float(np.abs(np.asarray(frame.data[POSITIONS])).max()) for frame in frames if POSITIONS in frame.data),
            "exceptions": [frame.data["system.simulation.exception"] for frame in frames if "system.simulation.exception" in frame.data],
        }
        client.stop_interaction(key)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
