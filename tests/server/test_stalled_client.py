"""A client that stops reading must not slow the simulation or the other clients: it drops frames instead."""

from __future__ import annotations

import socket
import time

import msgpack
import psutil
import pytest
from websockets.sync.client import connect

from costeer.server.app import CosteerServer

pytestmark = pytest.mark.slow

PARTICLES = 50_000  # 600 kB of positions a frame: 36 MB/s at 60 frames/s
FRAME_RATE = 60.0


def measure(server: CosteerServer, reader, seconds: float) -> tuple[float, float]:
    """(frames/s the reader got, frames/s the runner published) over ``seconds``."""
    while reader.receive(timeout=0.01):
        pass
    received, published = reader.frame_count, server.runner.frames_published
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        reader.receive(timeout=0.1)
    elapsed = time.monotonic() - start
    return (reader.frame_count - received) / elapsed, (server.runner.frames_published - published) / elapsed


def lagging(server: CosteerServer) -> list:
    """Clients the server is holding a merged frame back for (they read slower than it sends)."""
    return [client for client in server.transports[0]._clients.values() if client._frames._pending is not None]


def drained_indices(connection, seconds: float) -> list[int]:
    """``frame.index`` of every frame the connection reads within ``seconds`` (its backlog, then live frames)."""
    indices = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = msgpack.unpackb(connection.recv(timeout=left))
        except TimeoutError:
            break
        if "frame" in message:
            indices.append(message["frame"]["frame.index"])
    return indices


@pytest.mark.parametrize("fills_cores", [False, True], ids=["overlapped", "waiting-for-readers"])
def test_a_stalled_client_drops_frames_and_costs_the_others_nothing(fake_simulation, connect_client, fills_cores):
    process = psutil.Process()
    simulation = fake_simulation("big", PARTICLES)
    simulation.fills_cores = fills_cores  # True: the runner waits for each frame's readers, never for this one
    with CosteerServer([simulation], port=0, frame_rate=FRAME_RATE) as server:
        url = f"ws://127.0.0.1:{server.port}"
        reader = connect_client(url, max_kept=2)
        reader.wait_for(lambda: reader.frame_count > 10)
        base_received, base_published = measure(server, reader, 3.0)

        # Reads nothing after the handshake: its 1-message queue fills, then TCP pushes back.
        connected_at = server.runner.frames_published
        stalled = connect(url, max_size=None, max_queue=1, compression=None, close_timeout=0.5).__enter__()
        try:
            deadline = time.monotonic() + 30
            while not lagging(server):  # the kernel buffers are full: the server holds frames back for it
                assert time.monotonic() < deadline, "the stalled client never fell behind: the test did not stall it"
                reader.receive(timeout=0.1)
            rss_before = process.memory_info().rss
            stall_received, stall_published = measure(server, reader, 5.0)
            rss_growth = process.memory_info().rss - rss_before
            still_lagging = lagging(server)
            indices = drained_indices(stalled, 1.0)[1:]  # after its first frame, the aggregate (frame.index 0)
            published = server.runner.frames_published - connected_at
        finally:
            stalled.close()
    skipped = sum(later - earlier - 1 for earlier, later in zip(indices, indices[1:]))

    print(f"reader {base_received:.1f} -> {stall_received:.1f} frames/s; "
          f"runner {base_published:.1f} -> {stall_published:.1f} frames/s; RSS +{rss_growth / 1e6:.1f} MB; "
          f"the stalled client got {len(indices) + 1} of {published} frames, {skipped} skipped")
    assert stall_received >= 0.9 * base_received
    assert stall_published >= 0.9 * base_published
    assert still_lagging, "the stalled client caught up: the test did not keep it stalled"
    assert skipped > 0 and len(indices) + 1 < published, "the stalled client was sent every frame: queued, not dropped"
    assert rss_growth < 50e6, f"server memory grew by {rss_growth / 1e6:.0f} MB while a client stalled"


def test_a_slow_reader_of_small_frames_gets_fresh_ones_not_a_backlog(fake_simulation):
    """With nanotube-sized frames the kernel would queue ~30 s of them before sending blocked;
    the backlog cap makes the server merge instead. The reader's own receive buffer is kept
    small, so what it drains is what the server queued."""
    with CosteerServer([fake_simulation("small", 65)], port=0, frame_rate=FRAME_RATE) as server:
        url = f"ws://127.0.0.1:{server.port}"
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        stalled = connect(url, sock=sock, max_size=None, max_queue=1, compression=None, close_timeout=0.5).__enter__()
        try:
            deadline = time.monotonic() + 10
            while not lagging(server):
                assert time.monotonic() < deadline, "the server was still queueing small frames for a stalled client after 10 s"
                time.sleep(0.05)
            time.sleep(8.0)
            published = server.runner.frames_published
            indices = drained_indices(stalled, 2.0)[1:]
        finally:
            stalled.close()
    stale = sum(1 for index in indices if index < published - FRAME_RATE)
    print(f"drained {len(indices)} frames; {stale} were more than 1 s old")
    assert stale < 2 * FRAME_RATE, f"{stale} frames more than 1 s old were still queued for the slow reader"
