"""Clients that stop reading never slow the simulation or the other clients, nor grow memory.

A NanoVer client watches frames for 5 s, then four raw WebSocket clients connect and never
read for 10 s. The watcher's frame rate and the simulation's MD steps/s (from
``system.simulation.time``) must drop by less than 30%, and the server's RSS must stay
bounded. A server held up by its stalled clients stops (the rates fall to nothing); the
margin is for the machine itself, whose speed drifts by that much within a run when other
work shares its two cores (seen here: 38 -> 33 frames/s, steps/s falling alike, during a
training run). costeer serves villin (584 atoms) with velocities and forces at 60 frames/s so an
unbounded per-client queue would show as tens of MB; NanoVer's own server, held to the
same rates, serves the nanotube at its fixed 30 frames/s.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

BASELINE = (1.0, 5.0)
"""Seconds after the watcher is ready: the window measured before the stall."""
STALL_START, STALL_SECONDS = 5.5, 10.0
STALLED_CLIENTS = 4
MAX_DROP = 0.30
MAX_RSS_GROWTH_MB = 40.0
MAX_LATE_RSS_GROWTH_MB = 15.0
"""Growth allowed between 2 s into the stall (kernel buffers full) and its end."""


def _stalled_client(port: int) -> socket.socket:
    """Open a WebSocket (handshake by hand) with a tiny receive buffer and never read it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(1)
        assert chunk, "server closed the connection during the handshake"
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 101"), f"handshake refused: {reply[:80]!r}"
    return sock


def _rates(frames: list[dict[str, Any]], start: float, end: float, dt: float) -> tuple[float, float]:
    window = [f for f in frames if start <= f["wall"] <= end and f["time"] is not None]
    assert len(window) >= 10, f"only {len(window)} frames between {start:.1f} and {end:.1f}"
    seconds = window[-1]["wall"] - window[0]["wall"]
    frames_per_s = (len(window) - 1) / seconds
    steps_per_s = (window[-1]["time"] - window[0]["time"]) / dt / seconds
    return frames_per_s, steps_per_s


def _run(server, nanover_python: Path, nanover_side: Path, dt: float) -> None:
    watcher = subprocess.Popen(
        [
            str(nanover_python),
            str(nanover_side / "nanover_client.py"),
            "watch",
            "--url",
            server.url,
            "--duration",
            str(STALL_START + STALL_SECONDS + 1.0),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready_line = watcher.stderr.readline()
    assert ready_line, f"watcher failed: {watcher.stderr.read()}"
    ready = json.loads(ready_line)["ready"]
    process = psutil.Process(server.pid)
    rss: list[tuple[float, float]] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            rss.append((time.time(), sum(p.memory_info().rss for p in [process, *process.children(True)]) / 2**20))
            stop_sampling.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    time.sleep(max(0.0, ready + STALL_START - time.time()))
    stall_begin = time.time()
    stalled = [_stalled_client(server.port) for _ in range(STALLED_CLIENTS)]
    time.sleep(max(0.0, stall_begin + STALL_SECONDS - time.time()))
    stall_end = time.time()
    stop_sampling.set()
    sampler.join()
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, f"watcher failed: {err[-3000:]}"
    assert server.process.poll() is None, f"server died during the stall:\n{server.output()}"
    for sock in stalled:
        sock.close()

    frames = json.loads(out)["frames"]
    base_fps, base_steps = _rates(frames, ready + BASELINE[0], ready + BASELINE[1], dt)
    stall_fps, stall_steps = _rates(frames, stall_begin + 0.5, stall_end, dt)
    before = [m for t, m in rss if t <= stall_begin]
    during = [(t, m) for t, m in rss if t > stall_begin]
    settled = [m for t, m in during if t >= stall_begin + 2.0]
    summary = (
        f"frames/s {base_fps:.1f} -> {stall_fps:.1f}, steps/s {base_steps:.0f} -> {stall_steps:.0f}, "
        f"RSS {before[-1]:.0f} MB before, max {max(m for _, m in during):.0f} MB during the stall"
    )
    print(summary)
    assert stall_fps >= (1 - MAX_DROP) * base_fps, f"the reading client's frame rate dropped: {summary}"
    assert stall_steps >= (1 - MAX_DROP) * base_steps, f"the simulation slowed down: {summary}"
    growth = max(m for _, m in during) - before[-1]
    assert growth < MAX_RSS_GROWTH_MB, f"server memory grew {growth:.0f} MB: {summary}"
    late = max(settled) - settled[0]
    assert late < MAX_LATE_RSS_GROWTH_MB, f"server memory kept growing ({late:.0f} MB in the stall's last 8 s): {summary}"


@pytest.mark.slow
def test_nanover_reference_ignores_stalled_clients(nanover_server, nanover_python, nanover_side, nanotube_xml):
    server = nanover_server("--omm", str(nanotube_xml), "--include-velocities", "--include-forces")
    _run(server, nanover_python, nanover_side, dt=0.0005)


@pytest.mark.slow
def test_costeer_ignores_stalled_clients(costeer_server, nanover_python, nanover_side, villin_pdb):
    server = costeer_server(
        "--pdb", str(villin_pdb), "--forcefield", "amber14-all.xml", "--strip-water",
        "--frame-rate", "60", "--include-velocities", "--include-forces",
    )  # fmt: skip
    _run(server, nanover_python, nanover_side, dt=0.002)
