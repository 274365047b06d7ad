"""``PeerConnection``: one peer's session over a WebSocket, a subclass changing only its hooks."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from costeer.core.message import encode_message
from costeer.server.state import SharedState
from costeer.server.transport import SessionParts
from costeer.server.websocket.peer import PeerConnection


class Greeted(PeerConnection):
    """A peer told hello before anything else."""

    def _opening_messages(self) -> list[bytes]:
        return [encode_message({"hello": self.session.connection_id})]


def test_a_peer_gets_its_opening_messages_then_state_and_frames_and_its_keys_go_when_it_leaves():
    state = SharedState()
    state.update({"simulation.name": "fake"})
    parts = SessionParts.standalone(state=state)
    left = asyncio.Event()

    async def handle(connection: Any) -> None:
        await Greeted(parts, connection, "peer-1", max_bytes=2**20).run()
        left.set()

    async def until_frame(client: Any) -> list[dict[str, Any]]:
        received = []
        while "frame" not in (received[-1] if received else {}):
            received.append(msgpack.unpackb(await asyncio.wait_for(client.recv(), 5)))
        return received

    async def scenario() -> list[dict[str, Any]]:
        async with serve(handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", compression=None) as client:
                received = [msgpack.unpackb(await asyncio.wait_for(client.recv(), 5)) for _ in range(2)]
                await client.send(msgpack.packb({"state": {"updates": {"avatar.u1": {"name": "p"}}, "removals": []}}))
                while "avatar.u1" not in state.snapshot():
                    await asyncio.sleep(0.01)
                parts.hub.send_frame({"particle.count": 3})
                received += await until_frame(client)
            await asyncio.wait_for(left.wait(), 5)
        return received

    received = asyncio.run(scenario())
    assert received[0] == {"hello": "peer-1"}
    assert received[1]["state"]["updates"]["simulation.name"] == "fake"
    assert received[-1]["frame"]["particle.count"] == 3
    assert "avatar.u1" not in state.snapshot()


def test_a_malformed_message_is_refused_and_the_peer_stays_connected():
    parts = SessionParts.standalone()

    async def handle(connection: Any) -> None:
        await PeerConnection(parts, connection, "peer-1", max_bytes=2**20).run()

    async def scenario() -> dict[str, Any]:
        async with serve(handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", compression=None) as client:
                await client.send(b"\xc1")  # never valid msgpack
                await client.send(msgpack.packb({"command": {"request": {"name": "commands/list", "id": 7}}}))
                while True:
                    message = msgpack.unpackb(await asyncio.wait_for(client.recv(), 5))
                    if "command" in message:
                        return message["command"]

    reply = asyncio.run(scenario())
    assert reply["request"]["id"] == 7 and "response" in reply


def test_a_peer_says_when_a_frame_is_sent_so_a_simulation_waiting_for_its_readers_steps_on():
    parts = SessionParts.standalone(state=SharedState())

    async def handle(connection: Any) -> None:
        await PeerConnection(parts, connection, "peer-1", max_bytes=2**20).run()

    def publish_and_wait() -> bool:
        parts.hub.send_frame({"particle.count": 4})
        return parts.hub.wait_for_readers(5.0)

    async def scenario() -> tuple[bool, dict[str, Any]]:
        async with serve(handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", compression=None) as client:
                parts.hub.send_frame({"particle.count": 3})
                await asyncio.wait_for(client.recv(), 5)
                await asyncio.sleep(0.05)  # the peer is idle: waiting for the next frame
                all_back = await asyncio.to_thread(publish_and_wait)
                return all_back, msgpack.unpackb(await asyncio.wait_for(client.recv(), 5))

    all_back, message = asyncio.run(scenario())
    assert all_back is True
    assert message["frame"]["particle.count"] == 4


class Counted(PeerConnection):
    """A peer counting how often its send loop's task looked for something to send."""

    looks = 0

    def _next_message(self) -> Any:
        Counted.looks += 1
        return super()._next_message()


def test_frames_for_a_waiting_peer_are_written_without_waking_its_send_loop_and_state_still_wakes_it():
    state = SharedState()
    parts = SessionParts.standalone(state=state)

    async def handle(connection: Any) -> None:
        await Counted(parts, connection, "peer-1", max_bytes=2**20).run()

    async def receive(client: Any, key: str) -> dict[str, Any]:
        while key not in (message := msgpack.unpackb(await asyncio.wait_for(client.recv(), 5))):
            pass
        return message[key]

    async def scenario() -> tuple[list[int], int, int, dict[str, Any]]:
        async with serve(handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", compression=None) as client:
                parts.hub.send_frame({"particle.count": 0})
                await receive(client, "frame")
                await asyncio.sleep(0.05)  # the send loop is waiting
                looks_before = Counted.looks
                counts = []
                for count in (1, 2, 3):
                    parts.hub.send_frame({"particle.count": count})
                    counts.append((await receive(client, "frame"))["particle.count"])
                looks_after_frames = Counted.looks
                state.update({"scene": {"scale": 2}})
                return counts, looks_before, looks_after_frames, await receive(client, "state")

    counts, looks_before, looks_after_frames, change = asyncio.run(scenario())
    assert counts == [1, 2, 3]
    assert looks_after_frames == looks_before  # written where the wake-up landed
    assert change["updates"]["scene"] == {"scale": 2}
