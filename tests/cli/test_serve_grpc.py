"""``costeer serve --grpc-port``: a legacy gRPC client and a WebSocket client on the built-in task."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.client import NanoverSession  # noqa: E402
from costeer.core import keys  # noqa: E402
from costeer.core.frame import merge_frames  # noqa: E402
from costeer.server.grpc.codec import decode_frame  # noqa: E402
from costeer.server.grpc.generate import protocol  # noqa: E402

pytestmark = pytest.mark.slow


def test_serve_with_grpc_port_serves_the_same_system_to_both_protocols(costeer_server):
    server = costeer_server("--grpc-port", "0")
    port = int(server.printed(r"serving grpc on \S+:(\d+)").group(1))
    stubs = protocol("narupa")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream = stubs.trajectory_grpc.TrajectoryServiceStub(channel).SubscribeLatestFrames(
            stubs.trajectory.GetFrameRequest(frame_interval=1 / 30), timeout=60
        )
        frame: dict = {}
        for response in stream:
            frame = merge_frames(frame, decode_frame(response))
            if keys.PARTICLE_POSITIONS in frame and keys.BOND_PAIRS in frame:
                break
        stream.cancel()

    async def websocket_frame() -> dict:
        async with NanoverSession.connect(server.url) as session:
            return dict(await session.wait_for_frame(lambda f: keys.BOND_PAIRS in f and keys.PARTICLE_POSITIONS in f))

    seen = asyncio.run(websocket_frame())
    assert frame[keys.PARTICLE_COUNT] == seen[keys.PARTICLE_COUNT]
    np.testing.assert_array_equal(frame[keys.PARTICLE_ELEMENTS], np.asarray(seen[keys.PARTICLE_ELEMENTS]))
    np.testing.assert_array_equal(frame[keys.BOND_PAIRS], np.asarray(seen[keys.BOND_PAIRS]))
    assert frame[keys.PARTICLE_POSITIONS].shape == (frame[keys.PARTICLE_COUNT], 3)
