"""A gRPC client that stops reading holds one blocked send, never the simulation or other clients."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.server.app import CosteerServer  # noqa: E402
from costeer.server.grpc.generate import protocol  # noqa: E402
from costeer.server.grpc.server import grpc_transport  # noqa: E402

pytestmark = pytest.mark.slow

PARTICLES = 50_000  # 600 kB of positions a frame, far over HTTP/2's 64 kB window
FRAME_RATE = 30.0


def _read(stream, received: list[float]) -> None:
    try:
        for _ in stream:
            received.append(time.monotonic())
    except grpc.RpcError:
        pass


def test_a_stalled_grpc_client_costs_the_others_nothing(fake_simulation):
    stubs = protocol("nanover")
    request = stubs.trajectory.GetFrameRequest()
    with CosteerServer([fake_simulation("big", PARTICLES)], port=0, frame_rate=FRAME_RATE, transports=[grpc_transport(port=0)]) as server:
        port = server.transports[1].port
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", -1)]
        reader_channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        stalled_channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        received = []
        reader = stubs.trajectory_grpc.TrajectoryServiceStub(reader_channel).SubscribeFrames(request)
        thread = threading.Thread(target=_read, args=(reader, received), daemon=True)
        thread.start()
        try:
            # started, never read: its first frame fills the window and the server's send waits
            stalled = stubs.trajectory_grpc.TrajectoryServiceStub(stalled_channel).SubscribeFrames(request)
            deadline = time.monotonic() + 30
            while server.client_count < 2 or len(received) < 10:
                assert time.monotonic() < deadline, "the clients did not both connect"
                time.sleep(0.05)
            published, count, start = server.runner.frames_published, len(received), time.monotonic()
            time.sleep(3.0)
            elapsed = time.monotonic() - start
            reader_rate = (len(received) - count) / elapsed
            runner_rate = (server.runner.frames_published - published) / elapsed
            assert runner_rate >= 0.8 * FRAME_RATE, f"the simulation slowed to {runner_rate:.1f} frames/s"
            assert reader_rate >= 0.7 * runner_rate, f"the reading client got {reader_rate:.1f} of {runner_rate:.1f} frames/s"
            stalled.cancel()
            deadline = time.monotonic() + 10
            while server.client_count != 1:
                assert time.monotonic() < deadline, "the stalled client's stream was not let go"
                time.sleep(0.05)
        finally:
            reader.cancel()
            reader_channel.close()
            stalled_channel.close()
            thread.join(timeout=5)
