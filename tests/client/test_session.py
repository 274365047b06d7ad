"""NanoverSession against a tiny scripted NanoVer-protocol server on loopback."""

from __future__ import annotations

import asyncio

import msgpack
import numpy as np
import pytest
import websockets

from costeer.client import CommandError, NanoverSession
from costeer.client.pull import along_waypoints, drag
from costeer.core import keys
from costeer.core.frame import pack_frame


class ScriptedServer:
    """Sends what a test queues; answers commands; remembers what the client sent."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(self, websocket) -> None:
        async def send_loop() -> None:
            while True:
                await websocket.send(await self.outbox.get())

        sender = asyncio.create_task(send_loop())
        try:
            async for data in websocket:
                message = msgpack.unpackb(data)
                self.received.append(message)
                request = message.get("command", {}).get("request")
                if request is not None:
                    if request["name"] == "echo":
                        reply = {"request": request, "response": request["arguments"]}
                    else:
                        reply = {"request": request, "exception": f"unknown command {request['name']!r}"}
                    await websocket.send(msgpack.packb({"command": reply}))
        finally:
            sender.cancel()

    def send(self, message: dict | bytes) -> None:
        self.outbox.put_nowait(message if isinstance(message, bytes) else msgpack.packb(message))


def run_with_server(scenario):
    async def main():
        server = ScriptedServer()
        async with websockets.serve(server.handle, "127.0.0.1", 0) as listening:
            port = listening.sockets[0].getsockname()[1]
            async with NanoverSession.connect(f"ws://127.0.0.1:{port}") as session:
                return await scenario(server, session)

    return asyncio.run(main())


def full_frame(x: float) -> dict:
    return pack_frame({
        keys.FRAME_INDEX: 0,
        keys.PARTICLE_ELEMENTS: np.array([6, 1]),
        keys.PARTICLE_POSITIONS: np.full((2, 3), x),
    })


def test_frames_merge_and_state_follows_updates_and_removals():
    async def scenario(server, session):
        server.send({"frame": full_frame(1.0), "state": {"updates": {"scene": [1], "avatar.a": 2}, "removals": []}})
        server.send({"frame": pack_frame({keys.FRAME_INDEX: 1, keys.PARTICLE_POSITIONS: np.full((2, 3), 2.0)})})
        server.send({"state": {"updates": {}, "removals": ["avatar.a"]}})
        await session.wait_for_frame(lambda f: keys.PARTICLE_POSITIONS in f and f[keys.PARTICLE_POSITIONS][0, 0] == 2.0)
        await session.wait_for_state(lambda s: "avatar.a" not in s and "scene" in s)
        return session

    session = run_with_server(scenario)
    assert session.frame[keys.PARTICLE_ELEMENTS].tolist() == [6, 1]
    assert session.frame[keys.PARTICLE_POSITIONS][0].tolist() == [2.0, 2.0, 2.0]
    assert session.frames_received == 2 and session.state == {"scene": [1]}


def test_a_malformed_server_message_is_skipped_and_the_session_goes_on():
    async def scenario(server, session):
        server.send(b"\xc1 not msgpack")
        server.send({"frame": {keys.PARTICLE_POSITIONS: b"\x00" * 5}})  # not a float32 array
        server.send({"frame": full_frame(3.0)})
        await session.wait_for_frame()
        return await session.run_command("echo", value=7)

    assert run_with_server(scenario) == {"value": 7}


def test_commands_return_responses_and_raise_server_exceptions():
    async def scenario(server, session):
        assert await session.run_command("echo", a=1) == {"a": 1}
        with pytest.raises(CommandError, match="unknown command 'nope'"):
            await session.run_command("nope")
        return True

    assert run_with_server(scenario)


def test_drag_moves_the_interaction_along_the_hand_and_releases_it():
    async def scenario(server, session):
        server.send({"frame": full_frame(0.0)})
        await session.wait_for_frame()
        hand = along_waypoints(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), times=[0.0, 0.3])
        await drag(session, particles=[0], hand=hand, duration=0.3, interaction_id="interaction.test")
        await asyncio.sleep(0.1)
        return server.received

    received = run_with_server(scenario)
    updates = [m["state"] for m in received if "state" in m]
    positions = [u["updates"]["interaction.test"]["position"][0] for u in updates if u["updates"]]
    assert len(positions) >= 5 and positions == sorted(positions) and positions[-1] > 0.6
    sent = updates[0]["updates"]["interaction.test"]
    assert sent["particles"] == [0] and sent["interaction_type"] == "spring" and sent["max_force"] == float("inf")
    assert updates[-1]["removals"] == ["interaction.test"]
