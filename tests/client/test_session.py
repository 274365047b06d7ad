"""NanoverSession against a tiny scripted NanoVer-protocol server on loopback."""

from __future__ import annotations

import asyncio
import logging
import socket

import msgpack
import numpy as np
import pytest
import websockets

from costeer.client import CommandError, NanoverSession
from costeer.client.pull import along_waypoints, drag
from costeer.core import keys
from costeer.core.frame import pack_frame
from costeer.server.app import CosteerServer


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


def test_a_wait_ends_with_connection_error_when_the_server_goes_away():
    async def hang_up(websocket) -> None:
        await websocket.send(msgpack.packb({"frame": full_frame(1.0)}))
        await websocket.close()

    async def main() -> float:
        async with websockets.serve(hang_up, "127.0.0.1", 0) as listening:
            port = listening.sockets[0].getsockname()[1]
            async with NanoverSession.connect(f"ws://127.0.0.1:{port}") as session:
                started = asyncio.get_running_loop().time()
                with pytest.raises(ConnectionError, match="closed the connection"):
                    await session.wait_for_frame(lambda f: keys.USER_FORCES_INDEX in f, timeout=30)
                with pytest.raises(ConnectionError):
                    await session.wait_for_state(lambda s: "never" in s, timeout=30)
                assert keys.PARTICLE_POSITIONS in await session.wait_for_frame(timeout=1)  # already there
                return asyncio.get_running_loop().time() - started

    assert asyncio.run(main()) < 10


def test_connecting_to_no_server_or_to_a_non_address_is_one_clear_error():
    async def main() -> None:
        with socket.socket() as closed:  # a port nothing listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        with pytest.raises(ConnectionError, match=rf"cannot connect to ws://127.0.0.1:{port}: .*is the server running"):
            async with NanoverSession.connect(f"ws://127.0.0.1:{port}"):
                pass
        with pytest.raises(ValueError, match="'127.0.0.1:38801' is not a server address: give ws://HOST:PORT"):
            async with NanoverSession.connect("127.0.0.1:38801"):
                pass

    asyncio.run(main())


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


def test_a_frame_listener_that_raises_is_logged_and_the_session_keeps_receiving(caplog):
    seen = []

    def broken(delta, merged):
        seen.append(merged[keys.PARTICLE_POSITIONS][0, 0])
        raise RuntimeError("listener bug")

    async def scenario(server, session):
        session.add_frame_listener(broken)
        server.send({"frame": full_frame(1.0)})
        await session.wait_for_frame()
        server.send({"frame": full_frame(2.0)})
        await session.wait_for_frame(lambda f: f[keys.PARTICLE_POSITIONS][0, 0] == 2.0)
        return await session.run_command("echo", still="here")

    with caplog.at_level(logging.ERROR):
        assert run_with_server(scenario) == {"still": "here"}
    assert seen == [1.0, 2.0]
    assert "a frame listener failed" in caplog.text and "RuntimeError: listener bug" in caplog.text


def test_state_listeners_hear_each_change_and_one_that_raises_does_not_stop_the_others(caplog):
    heard = []

    def broken(updates, removals):
        raise RuntimeError("state listener bug")

    async def scenario(server, session):
        session.add_state_listener(broken)
        session.add_state_listener(lambda updates, removals: heard.append((dict(updates), set(removals))))
        server.send({"state": {"updates": {"a": 1}, "removals": []}})
        server.send({"state": {"updates": {"b": 2}, "removals": ["a"]}})
        await session.wait_for_state(lambda s: s == {"b": 2})

    with caplog.at_level(logging.ERROR):
        run_with_server(scenario)
    assert heard == [({"a": 1}, set()), ({"b": 2}, {"a"})]
    assert "a state listener failed" in caplog.text


def test_numpy_values_are_sent_as_lists_and_numbers():
    async def scenario(server, session):
        await session.update_state({"interaction.n": {"position": np.array([1.0, 2.0, 3.0]), "scale": np.float32(2.5),
                                                      "particles": np.arange(2)}})
        return await session.run_command("echo", index=np.int64(3), where=np.zeros(2))

    assert run_with_server(scenario) == {"index": 3, "where": [0.0, 0.0]}


class StillSimulation:
    """A simulation that never moves: enough for a server to run commands and state."""

    name = "still"

    def load(self):
        pass

    def reset(self):
        return {keys.PARTICLE_COUNT: 1, keys.PARTICLE_POSITIONS: np.zeros((1, 3), dtype=np.float32)}

    def advance(self, seconds):
        return None

    def set_interactions(self, interactions):
        pass

    def close(self):
        pass


@pytest.fixture
def costeer_url():
    with CosteerServer([StillSimulation()], port=0, frame_rate=30.0) as server:
        yield f"ws://127.0.0.1:{server.port}"


def run_two_clients(url, scenario):
    async def main():
        async with NanoverSession.connect(url) as provider, NanoverSession.connect(url) as requester:
            return await scenario(provider, requester)

    return asyncio.run(main())


async def registered(session, name):
    listing = await session.run_command(keys.LIST_COMMANDS)
    return name in listing["list"]


def test_a_registered_command_is_run_by_another_client_through_the_server(costeer_url):
    calls = []

    def greet(name="you", times=1):
        calls.append(name)
        return {"greeting": " ".join([f"hello {name}"] * times), "count": np.int64(len(calls))}

    async def later(delay=0.0):
        await asyncio.sleep(delay)
        return "later"

    async def scenario(provider, requester):
        await provider.register_command("test/greet", greet, arguments={"times": 1}, label="Greet")
        await provider.register_command("test/later", later)
        assert await registered(provider, "test/later")
        listing = await requester.run_command(keys.LIST_COMMANDS)
        assert {"name": "test/greet", "label": "Greet", "arguments": {"times": 1}} in listing["commands"]
        first = await requester.run_command("test/greet", name="ada", times=2)
        second = await requester.run_command("test/greet")
        return first, second, await requester.run_command("test/later", delay=0.01)

    first, second, later_answer = run_two_clients(costeer_url, scenario)
    assert first == {"greeting": "hello ada hello ada", "count": 1}
    assert second == {"greeting": "hello you", "count": 2} and later_answer == "later"
    assert calls == ["ada", "you"]


def test_a_raising_handler_gives_the_requester_a_command_error_and_the_provider_keeps_working(costeer_url, caplog):
    def fragile(fail=False):
        if fail:
            raise ValueError("asked to fail")
        return "fine"

    async def scenario(provider, requester):
        await provider.register_command("test/fragile", fragile)
        assert await registered(provider, "test/fragile")
        with pytest.raises(CommandError, match="ValueError: asked to fail"):
            await requester.run_command("test/fragile", fail=True)
        with pytest.raises(CommandError, match="unexpected keyword|got an unexpected"):
            await requester.run_command("test/fragile", wrong=1)
        return await requester.run_command("test/fragile"), await provider.run_command("test/fragile")

    with caplog.at_level(logging.ERROR, logger="costeer.client.session"):
        assert run_two_clients(costeer_url, scenario) == ("fine", "fine")
    assert "command 'test/fragile', registered by this client, failed" in caplog.text
