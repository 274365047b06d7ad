"""A classroom of NanoVer WebSocket clients in a process of its own (the classroom bench's clients).

    with Crowd(url, readers=32, stalled=1) as crowd:   # returns once every reader has a frame
        ...                                            # the server is measured meanwhile
    crowd.report.readers     # per reader, every frame's arrival (time.monotonic(), one clock for both processes)
    crowd.report.stalled     # per client that never read: frames received when it finally drained, and their indices
    crowd.report.cores       # the crowd's CPU time over its wall time while connected (1.0: one core busy)

Readers read every message as it comes (the server paces frames, 30 frames/s in the bench)
and decode it (msgpack), as a viewer would. A stalled client connects with a 4 KiB receive
buffer and a one-message queue and reads nothing until the crowd is closed; then it reads
its backlog up to the first frame published after it started reading, so its frame indices
show how many frames the server merged away rather than queued. Running the crowd in another process keeps its CPU time out
of the server's GIL (on a 2-core machine it still competes for the cores).

Run as a script it is the child: ``python bench/crowd.py URL READERS STALLED`` prints
``connected``, then reads until its stdin closes and prints the report as JSON.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgpack
import websockets

__all__ = ["Crowd", "CrowdReport"]

CONNECT_TIMEOUT = 60.0
DRAIN_TIMEOUT = 60.0
"""Longest a stalled client reads its backlog when the crowd closes (it stops at the first frame
published after it started reading: ``server.timestamp`` is ``time.monotonic()``, one clock)."""
STALLED_RECEIVE_BUFFER = 4096
CLOSE_TIMEOUT = 1.0
"""Seconds a connection waits for the server's answer to its close (a silent client's is queued behind its backlog)."""
STOP_TIMEOUT = DRAIN_TIMEOUT + 2 * CONNECT_TIMEOUT


@dataclass
class CrowdReport:
    """What the crowd saw: arrivals per reader, and what each stalled client got when it drained."""

    readers: list[list[float]] = field(default_factory=list)
    stalled: list[dict[str, Any]] = field(default_factory=list)
    """Per stalled client: ``{"indices": [frame.index of every frame it received], "closed": bool}``
    (closed: the server had closed the connection by the time it read)."""
    cores: float = 0.0
    """The crowd process's CPU seconds per wall second from ``connected`` to the close of its stdin."""
    on_cores: list[int] = field(default_factory=list)
    """The CPU cores the crowd's process was allowed to run on."""


class Crowd:
    """Starts the child process and collects its report on exit; see the module docstring."""

    def __init__(self, url: str, *, readers: int, stalled: int = 0, core: int | None = None) -> None:
        self.url, self.readers, self.stalled, self.core = url, readers, stalled, core
        """``core``: run the crowd's process on that CPU core only (``None``: wherever the scheduler puts it)."""
        self.report = CrowdReport()
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> "Crowd":
        command = [sys.executable, str(Path(__file__).resolve()), self.url, str(self.readers), str(self.stalled)]
        pin = None if self.core is None else functools.partial(os.sched_setaffinity, 0, {self.core})
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=pin)
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "connected":
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the crowd of {self.readers} clients did not connect to {self.url} (its error is above)")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process is not None
        try:
            # EOF on its stdin: it stops and reports
            output, _ = self._process.communicate("", timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the crowd on {self.url} did not stop within {STOP_TIMEOUT:.0f} s") from None
        if exc_info[0] is None:
            self.report = CrowdReport(**json.loads(output))


def _frame(data: bytes) -> dict | None:
    return msgpack.unpackb(data).get("frame")


async def _read(connection: websockets.ClientConnection, arrivals: list[float], first: asyncio.Event) -> None:
    async for data in connection:
        if _frame(data) is not None:
            arrivals.append(time.monotonic())
            first.set()


async def _stalled_connection(url: str) -> websockets.ClientConnection:
    address = urlparse(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RECEIVE_BUFFER)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (address.hostname, address.port))
    # no keepalive of its own (it would time out, unread); the server's may still close it
    return await websockets.connect(url, sock=sock, max_size=None, max_queue=1, compression=None, ping_interval=None,
                                    close_timeout=CLOSE_TIMEOUT)


async def _drain(connection: websockets.ClientConnection) -> dict[str, Any]:
    """``frame.index`` of every frame in the backlog, up to the first one published after now;
    and whether the server had closed the connection (its keepalive gets no answer from a client
    that reads nothing: websockets pings every 20 s and waits 20 s)."""
    indices = []
    closed = False
    started = time.monotonic()
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            async for data in connection:
                frame = _frame(data)
                if frame is not None:
                    indices.append(frame.get("frame.index", -1))
                    if frame.get("server.timestamp", 0.0) >= started:
                        break
    except TimeoutError:
        pass
    except websockets.ConnectionClosed:
        closed = True
    return {"indices": indices, "closed": closed or connection.close_code is not None}


async def _run(url: str, readers: int, stalled: int) -> CrowdReport:
    stalled_connections = [await _stalled_connection(url) for _ in range(stalled)]
    connections = [await websockets.connect(url, max_size=None, compression=None, close_timeout=CLOSE_TIMEOUT)
                   for _ in range(readers)]
    arrivals: list[list[float]] = [[] for _ in connections]
    firsts = [asyncio.Event() for _ in connections]
    tasks = [asyncio.create_task(_read(c, a, f)) for c, a, f in zip(connections, arrivals, firsts)]
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await asyncio.gather(*(first.wait() for first in firsts))
    print("connected", flush=True)
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    cores = (time.process_time() - cpu) / max(time.monotonic() - wall, 1e-9)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(connection.close() for connection in connections))
    drained = [await _drain(connection) for connection in stalled_connections]
    await asyncio.gather(*(connection.close() for connection in stalled_connections))
    return CrowdReport(readers=arrivals, stalled=drained, cores=cores, on_cores=sorted(os.sched_getaffinity(0)))


def main(argv: list[str]) -> int:
    url, readers, stalled = argv[0], int(argv[1]), int(argv[2])
    report = asyncio.run(_run(url, readers, stalled))
    print(json.dumps(report.__dict__), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
