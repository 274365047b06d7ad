"""Co-pilot latency: frame published -> the co-pilot's interaction for it in the shared state, p50/p99.

    .venv/bin/python bench/copilot_latency.py [--seconds 15] [--rounds 2] [--frame-rate 30] [--out FILE.json]

A nanotube ``CosteerServer`` in this process (NanoVer's pacing: 5 steps a frame, 30
frames/s), the shipped policy in ``apply``. Two arms, alternated ``--rounds`` times (the
machine drifts), each on a fresh server for ``--seconds`` after the co-pilot's first pull:

| arm | the co-pilot |
|---|---|
| in process | ``serve --copilot``'s: its own thread and hub subscription, writes straight into the state |
| WebSocket | ``costeer copilot`` in its own process, a NanoVer client of the server on 127.0.0.1 |

The co-pilot's interaction names the frame it acted on (``frame.index``); the hub stamps each
frame with ``server.timestamp`` (``time.monotonic()``) as it publishes it, and a state listener
on the server notes when each interaction arrives, on the same clock. Target: p99 <= one frame
interval at 30 frames/s (33.3 ms). Prints a markdown table and writes every latency as JSON
under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from costeer.agent.copilot import COPILOT_INTERACTION_KEY  # noqa: E402
from costeer.core import keys  # noqa: E402
from costeer.core.frame import unpack_frame  # noqa: E402

ARMS = ("in process", "WebSocket")


class Timings:
    """When each frame was published and when the co-pilot's pull for it reached the state."""

    def __init__(self, server: Any) -> None:
        self.published: dict[int, float] = {}
        self.arrived: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        self._subscription = server.hub.subscribe()
        threading.Thread(target=self._frames, daemon=True).start()
        server.state.add_listener(self._on_state)

    def _frames(self) -> None:
        while (packed := self._subscription.wait(None)) is not None:
            frame = unpack_frame(packed)
            if keys.SERVER_TIMESTAMP in frame:
                with self._lock:
                    self.published[int(frame[keys.FRAME_INDEX])] = float(frame[keys.SERVER_TIMESTAMP])

    def _on_state(self, updates: Any, removals: Any) -> None:
        pull = updates.get(COPILOT_INTERACTION_KEY)
        if pull is not None and keys.FRAME_INDEX in pull:
            now = time.monotonic()
            with self._lock:
                self.arrived.append((int(pull[keys.FRAME_INDEX]), now))

    def window(self, since: float) -> tuple[list[float], int, int]:
        """Latencies (ms) of the pulls that arrived since ``since``; frames published since; how many of those got a pull."""
        with self._lock:
            published = {index for index, stamp in self.published.items() if stamp >= since}
            timed = [(index, arrived) for index, arrived in self.arrived if arrived >= since and index in self.published]
        latencies = [(arrived - self.published[index]) * 1000 for index, arrived in timed]
        return latencies, len(published), len(published & {index for index, _ in timed})

    def first_pull(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.arrived:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the co-pilot did not pull within {timeout} s")
            time.sleep(0.05)


def _server(frame_rate: float) -> Any:
    from costeer.engine.loading import from_built
    from costeer.engine.openmm_simulation import OpenMMSimulation
    from costeer.server.app import CosteerServer
    from costeer.tasks import build_task_system

    simulation = OpenMMSimulation(from_built(build_task_system("nanotube")), source="task:nanotube", steps_per_frame=5,
                                  include_energies=False, platform="CPU", cpu_threads=1)
    server = CosteerServer([simulation], port=0, frame_rate=frame_rate)
    server.start()
    return server


def measure(arm: str, *, seconds: float, frame_rate: float, checkpoint: Path) -> dict[str, Any]:
    """One window of ``arm`` on a fresh server; its latencies (ms) and frame count."""
    server = _server(frame_rate)
    timings = Timings(server)
    process = None
    try:
        if arm == "in process":
            from costeer.agent.checkpoint import load_policy
            from costeer.agent.copilot import CopilotSettings
            from costeer.agent.copilot.inprocess import attach_copilot

            attach_copilot(server, load_policy(checkpoint), settings=CopilotSettings(mode="apply"), policy_name=checkpoint.name)
        else:
            command = [sys.executable, "-m", "costeer.cli.main", "copilot", "--server", f"ws://127.0.0.1:{server.port}",
                       "--policy", str(checkpoint), "--mode", "apply"]
            process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        timings.first_pull(60.0)
        since = time.monotonic()
        time.sleep(seconds)
        latencies, frames, acted_on = timings.window(since)
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        server.close()
    return {"arm": arm, "latencies_ms": latencies, "frames": frames, "acted_on": acted_on, "seconds": seconds}


def summarise(windows: list[dict[str, Any]], *, frame_rate: float) -> list[dict[str, Any]]:
    rows = []
    for arm in ARMS:
        latencies = np.concatenate([window["latencies_ms"] for window in windows if window["arm"] == arm] or [[]])
        frames = sum(window["frames"] for window in windows if window["arm"] == arm)
        acted_on = sum(window["acted_on"] for window in windows if window["arm"] == arm)
        if not len(latencies):
            rows.append({"arm": arm, "samples": 0})
            continue
        rows.append({
            "arm": arm, "samples": int(len(latencies)), "frames": frames,
            "acted_on": round(acted_on / frames, 3) if frames else None,
            "p50_ms": round(float(np.percentile(latencies, 50)), 2), "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "max_ms": round(float(latencies.max()), 2), "target_ms": round(1000 / frame_rate, 1),
            "met": bool(np.percentile(latencies, 99) <= 1000 / frame_rate),
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| co-pilot | pulls timed | frames acted on | p50 | p99 | max | p99 <= one frame interval |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if not row["samples"]:
            lines.append(f"| {row['arm']} | 0 | - | - | - | - | - |")
            continue
        lines.append(f"| {row['arm']} | {row['samples']} | {row['acted_on']:.0%} | {row['p50_ms']:.1f} ms | "
                     f"{row['p99_ms']:.1f} ms | {row['max_ms']:.1f} ms | {'yes' if row['met'] else 'no'} ({row['target_ms']} ms) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per window (default 15)")
    parser.add_argument("--rounds", type=int, default=2, help="windows per arm, alternated (default 2)")
    parser.add_argument("--frame-rate", type=float, default=30.0, help="server frames/s (default 30)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="policy (default: the shipped nanotube one)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/copilot-latency-TIME.json)")
    args = parser.parse_args(argv)
    import torch

    from costeer.agent.checkpoint import shipped_checkpoint

    torch.set_num_threads(1)
    checkpoint = args.checkpoint or shipped_checkpoint("nanotube")
    windows = []
    for number in range(args.rounds):
        for arm in ARMS if number % 2 == 0 else ARMS[::-1]:
            window = measure(arm, seconds=args.seconds, frame_rate=args.frame_rate, checkpoint=checkpoint)
            print(f"round {number + 1} {arm}: {len(window['latencies_ms'])} pulls in {window['frames']} frames", flush=True)
            windows.append(window)
    rows = summarise(windows, frame_rate=args.frame_rate)
    print(table(rows))
    out = args.out or RESULTS / f"copilot-latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args) | {"checkpoint": str(checkpoint), "out": str(out)}, "summary": rows,
                               "windows": windows, "cpus": os.cpu_count()}, indent=1, default=str))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
