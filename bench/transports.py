"""Transports bench: steps/s and frames/s with WebSocket, gRPC and IMD clients at once, against WebSocket alone.

    .venv/bin/python bench/transports.py [--pairs 6] [--seconds 4] [--systems nanotube villin] [--out FILE.json]

A ``CosteerServer`` in this process, free-running (frames sampled at 30 frames/s), on the
built-in nanotube task (and villin: OpenMM's ``test.pdb``, amber14, water removed). Two
arms, each on a fresh server, interleaved over ``--pairs`` rounds (A, B, then B, A...):

| arm | server | clients |
|---|---|---|
| A | WebSocket only | 1 WebSocket client |
| B | WebSocket + gRPC + IMD v3 | 1 WebSocket, 1 gRPC (stubs from our protos, ``nanover`` namespace), 1 IMD v3 (raw socket) |

The WebSocket client is this process's (``clients.py``); the gRPC and IMD clients run in a
process of their own, as a legacy app would (``--clients-in-process``: threads of this one,
sharing the server's GIL). Arrivals are timed on ``time.monotonic()``, one clock for both.

Steps/s come from ``system.simulation.time`` in the WebSocket client's frames; frames/s
are each client's frames over the same window. The ratio B/A of steps/s is taken within
each round: its median and range. Target: B >= 95% of A, and 30 frames/s to every client.
Prints a markdown table and writes every window as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from interleave import interleave, paired_ratio, rate_between  # noqa: E402  (bench/, beside this script)

__all__ = ["main"]

RESULTS = REPO / "bench" / "results"
SYSTEMS = ("nanotube", "villin")
ARMS = ("A", "B")
FRAME_RATE = 30.0
WARMUP = 1.0
"""Seconds every client reads before the window counts (connections, the IMD handshake)."""
TARGET_RATIO = 0.95


class GrpcFrames:
    """A legacy gRPC client (our protos) reading every latest frame; notes when each arrived."""

    def __init__(self, port: int) -> None:
        import grpc

        from costeer.server.grpc.generate import protocol

        modules = protocol("nanover")
        self.arrivals: list[float] = []
        self._grpc = grpc
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = modules.trajectory_grpc.TrajectoryServiceStub(self._channel)
        self._stream = stub.SubscribeLatestFrames(modules.trajectory.GetFrameRequest(frame_interval=0.0))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for _ in self._stream:
                self.arrivals.append(time.monotonic())
        except self._grpc.RpcError:
            pass

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()
        self._thread.join(timeout=5)


class ImdFrames:
    """An IMD v3 client over a plain socket: handshake, GO, then every packet read; notes each frame's coordinates."""

    _BODY = {1: 40, 12: 24, 13: 36}  # ENERGIES, TIME, BOX; coordinates, velocities and forces: 12 bytes an atom

    def __init__(self, port: int) -> None:
        from costeer.server.imd.codec import HEADER_BYTES, MessageType, header, read_handshake, read_session_info

        self.arrivals: list[float] = []
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        version, _ = read_handshake(self._exact(HEADER_BYTES))
        if version != 3:
            raise RuntimeError(f"expected an IMD v3 handshake, got version {version}")
        read_session_info(self._exact(HEADER_BYTES + 7))
        self._sock.sendall(header(MessageType.GO))
        self._coordinates = int(MessageType.FCOORDS)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the IMD server closed the connection")
            data += chunk
        return data

    def _read(self) -> None:
        try:
            while True:
                kind, slot = struct.unpack("!ii", self._exact(8))
                self._exact(self._BODY.get(kind, 12 * slot))
                if kind == self._coordinates:
                    self.arrivals.append(time.monotonic())
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout=5)


class LegacyClients:
    """The gRPC and IMD clients of arm B: in a process of their own (default), or threads of this one."""

    def __init__(self, grpc_port: int, imd_port: int, *, in_process: bool) -> None:
        self._process = None
        self._clients: dict[str, Any] = {}
        if in_process:
            self._clients = {"gRPC": GrpcFrames(grpc_port), "IMD": ImdFrames(imd_port)}
            return
        command = [sys.executable, str(Path(__file__).resolve()), "--legacy-clients", str(grpc_port), str(imd_port)]
        self._process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "connected":
            self._process.kill()
            raise RuntimeError("the gRPC and IMD clients' process did not connect (see its error above)")

    def close(self) -> dict[str, list[float]]:
        """Stop reading; every frame's arrival (``time.monotonic()``) by client."""
        if self._process is None:
            for client in self._clients.values():
                client.close()
            return {name: client.arrivals for name, client in self._clients.items()}
        output, _ = self._process.communicate("", timeout=30)  # EOF on its stdin: it stops and reports
        return json.loads(output)


def _legacy_clients(grpc_port: int, imd_port: int) -> int:
    """``--legacy-clients``: a gRPC and an IMD client until stdin closes, then their arrivals as JSON on stdout."""
    legacy = {"gRPC": GrpcFrames(grpc_port), "IMD": ImdFrames(imd_port)}
    print("connected", flush=True)
    sys.stdin.read()
    for client in legacy.values():
        client.close()
    print(json.dumps({name: client.arrivals for name, client in legacy.items()}), flush=True)
    return 0


def _simulation(system: str, platform: str | None) -> tuple[Any, float]:
    """A fresh simulation of ``system`` (serve's defaults; platform ``None``: timed at load) and its timestep in ps."""
    from openmm import unit

    from costeer.engine.loading import from_built, load_pdb_system
    from costeer.engine.openmm_simulation import OpenMMSimulation

    if system == "nanotube":
        from costeer.tasks import build_task_system

        loaded, source = from_built(build_task_system("nanotube")), "task:nanotube"
    else:
        import openmm.app

        pdb = Path(openmm.app.__file__).parent / "data" / "test.pdb"
        loaded, source = load_pdb_system(pdb, forcefields=("amber14-all.xml",), strip_water=True), str(pdb)
    simulation = OpenMMSimulation(loaded, source=source, platform=platform)
    return simulation, loaded.integrator.getStepSize().value_in_unit(unit.picosecond)


def measure(system: str, arm: str, *, seconds: float, platform: str | None = None, clients_in_process: bool = False) -> dict[str, Any]:
    """One window of ``arm`` on a fresh free-running server: steps/s and every client's frames/s."""
    import clients  # bench/clients.py, beside this script

    from costeer.server.app import CosteerServer

    transports = []
    if arm == "B":
        from costeer.server.grpc.server import grpc_transport
        from costeer.server.imd.server import imd_transport

        transports = [grpc_transport(port=0), imd_transport(port=0, version=3)]
    simulation, timestep_ps = _simulation(system, platform)
    server = CosteerServer([simulation], port=0, frame_rate=FRAME_RATE, free_run=True, transports=transports)
    server.start()
    legacy = None
    try:
        if arm == "B":
            ports = {transport.name: transport.port for transport in server.transports[1:]}
            legacy = LegacyClients(ports["grpc"], ports["imd"], in_process=clients_in_process)
        start = time.monotonic() + WARMUP
        rates = clients.stream(f"ws://127.0.0.1:{server.port}", clients=1, seconds=seconds, timestep_ps=timestep_ps,
                               warmup=WARMUP)
        end = time.monotonic()
    finally:
        arrivals = legacy.close() if legacy is not None else {}
        server.close()
    frames = {"WebSocket": rates.frames_per_second[0]}
    frames |= {name: rate_between(times, start, end) for name, times in arrivals.items()}
    return {"system": system, "arm": arm, "steps_per_second": rates.steps_per_second, "frames_per_second": frames,
            "seconds": seconds, "platform": str(simulation.platform_candidate)}


def summarise(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per system: each arm's median steps/s and minimum frames/s per client, and the paired ratio B/A."""
    rows = []
    for system in dict.fromkeys(window["system"] for window in windows):
        mine = [window for window in windows if window["system"] == system]
        by_arm = {arm: [window for window in mine if window["arm"] == arm] for arm in ARMS}
        steps = {arm: [window["steps_per_second"] for window in by_arm[arm]] for arm in ARMS}
        ratio = paired_ratio(steps["B"], steps["A"])
        frames = {arm: {name: min(window["frames_per_second"][name] for window in by_arm[arm])
                        for name in by_arm[arm][0]["frames_per_second"]} for arm in ARMS}
        slowest = min(min(per_client.values()) for per_client in frames.values())
        rows.append({
            "system": system, "steps_per_second": {arm: statistics.median(steps[arm]) for arm in ARMS},
            "ratio": ratio, "min_frames_per_second": frames,
            "met": bool(ratio["median"] >= TARGET_RATIO and slowest >= 0.95 * FRAME_RATE),
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| system | arm | steps/s (median) | frames/s per client (lowest window) | B/A steps/s (median, range) | target met |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = row["ratio"]
        for arm in ARMS:
            per_client = ", ".join(f"{name} {rate:.1f}" for name, rate in row["min_frames_per_second"][arm].items())
            paired = (f"{ratio['median']:.1%} ({ratio['min']:.1%}–{ratio['max']:.1%}, {ratio['pairs']} pairs)"
                      if arm == "B" else "")
            met = ("yes" if row["met"] else "no") if arm == "B" else ""
            lines.append(f"| {row['system']} | {arm} | {row['steps_per_second'][arm]:,.0f} | {per_client} | {paired} | {met} |")
    return "\n".join(lines)


def _print_round(number: int, windows: dict[str, dict[str, Any]]) -> None:
    for arm, window in windows.items():
        rates = ", ".join(f"{name} {rate:.1f}" for name, rate in window["frames_per_second"].items())
        print(f"{window['system']} round {number} {arm} ({window['platform']}): "
              f"{window['steps_per_second']:,.0f} steps/s; frames/s {rates}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="rounds of one window per arm (default 6)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds a window counts, after 1 s warm-up (default 4)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=["nanotube"], help="default nanotube")
    parser.add_argument("--platform", default=None, help="OpenMM platform (default: timed at each server's load, as serve does)")
    parser.add_argument("--clients-in-process", action="store_true",
                        help="arm B's gRPC and IMD clients as threads of this process (default: a process of their own)")
    parser.add_argument("--legacy-clients", nargs=2, type=int, metavar=("GRPC_PORT", "IMD_PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/transports-TIME.json)")
    args = parser.parse_args(argv)
    if args.legacy_clients:
        return _legacy_clients(*args.legacy_clients)
    load_before = os.getloadavg()
    windows = []
    for system in args.systems:
        arms = {arm: (lambda arm=arm, system=system: measure(system, arm, seconds=args.seconds, platform=args.platform,
                                                             clients_in_process=args.clients_in_process))
                for arm in ARMS}
        by_arm = interleave(arms, args.pairs, on_round=_print_round)
        windows += [window for arm in ARMS for window in by_arm[arm]]
    rows = summarise(windows)
    load_after = os.getloadavg()
    print(table(rows))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}; {os.cpu_count()} CPUs")
    out = args.out or RESULTS / f"transports-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args) | {"out": str(out), "frame_rate": FRAME_RATE}, "summary": rows,
                               "windows": windows, "cpus": os.cpu_count(),
                               "load_average": {"before": load_before, "after": load_after}}, indent=1, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
