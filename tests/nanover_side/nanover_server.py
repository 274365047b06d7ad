"""Run NanoVer's own server on 127.0.0.1 (no discovery) for differential tests and the bench.

Runs inside NanoVer's side venv (Python 3.13, nanover-server 0.1.3018). Prints one JSON
line ``{"port": PORT, "url": "ws://127.0.0.1:PORT"}`` on stdout once clients may connect,
then serves until stdin closes or the process gets SIGTERM/SIGINT.

    .venv-nanover/bin/python tests/nanover_side/nanover_server.py --omm nanotube.xml \\
        [--port 0] [--platform CPU] [--steps-per-frame 5] [--play-interval 0]
    .venv-nanover/bin/python tests/nanover_side/nanover_server.py     # no --omm: a hub for --remote

The server is assembled by hand instead of ``OmniRunner.with_basic_server``: that one
builds an ESSD ``DiscoveryServer`` (UDP broadcasts on the LAN) and its WebSocket server
binds 0.0.0.0 whatever ``address`` says. Here the application has ``discovery=None`` and
the WebSocket server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from nanover.app import NanoverImdApplication, OmniRunner
from nanover.openmm import OpenMMSimulation
from nanover.websocket.server import WebSocketServer

__all__ = ["main"]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omm", nargs="+", default=[], help="NanoVer OpenMM XML file(s); none: an empty hub that a publisher (--remote) feeds")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--platform", default=None, help="OpenMM platform (Reference, CPU, ...)")
    parser.add_argument("--steps-per-frame", type=int, default=5)
    parser.add_argument(
        "--play-interval",
        type=float,
        default=1 / 30,
        help="seconds between runner iterations (NanoVer: 1/30); 0 runs unpaced",
    )
    parser.add_argument("--include-velocities", action="store_true")
    parser.add_argument("--include-forces", action="store_true")
    return parser.parse_args(argv)


def _build_runner(args: argparse.Namespace) -> tuple[OmniRunner, int]:
    app = NanoverImdApplication(name="nanover-baseline", address="127.0.0.1", discovery=None)
    assert app.discovery is None, "NanoVer application must not broadcast"
    websocket = WebSocketServer(app)
    server = websocket.serve(host="127.0.0.1", port=args.port, service="ws")
    app._server_ws = websocket  # so app.close() shuts the WebSocket server down
    port = server.socket.getsockname()[1]

    runner = OmniRunner(app)
    for path in args.omm:
        simulation = OpenMMSimulation.from_xml_path(path)
        simulation.platform_name = args.platform
        simulation.frame_interval = args.steps_per_frame
        simulation.include_velocities = args.include_velocities
        simulation.include_forces = args.include_forces
        runner.add_simulation(simulation)
    if not args.omm:
        return runner, port
    runner.load(0)
    runner.runner.play_step_interval = args.play_interval
    return runner, port


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    runner, port = _build_runner(args)
    # pacing must survive playback/load and playback/next, which build a new InternalRunner
    runner.simulation_changed.add_callback(
        lambda **_: setattr(runner.runner, "play_step_interval", args.play_interval)
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    print(json.dumps({"port": port, "url": f"ws://127.0.0.1:{port}"}), flush=True)
    stop.wait()
    runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
