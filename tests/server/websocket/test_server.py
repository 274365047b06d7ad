"""The WebSocket transport with what clients should not do: huge values, huge messages, bad requests."""

from __future__ import annotations

import contextlib
import threading
import time

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from costeer.server.commands import CommandRegistry
from costeer.server.state import SharedState
from costeer.server.transport import SessionParts
from costeer.server.websocket.server import WebSocketServer
from tests.waiting import wait_until


@pytest.fixture
def served():
    state = SharedState()
    state.update({"simulation.name": "fake", "costeer.session": {"server": "test"}})
    with WebSocketServer(SessionParts.standalone(state=state), port=0, max_message_bytes=16 * 2**20) as server:
        yield server


def test_a_15_mib_value_cannot_lock_out_a_client_with_the_default_1_mib_limit(served, connect_client):
    url = f"ws://127.0.0.1:{served.port}"
    writer = connect_client(url)
    writer.update_state({"big": b"x" * (15 * 2**20), "avatar.w": {"name": "w"}})
    writer.wait_for(lambda: "avatar.w" in writer.state)
    writer.close()
    with connect(url, compression=None) as joining:  # websockets' default max_size: 1 MiB
        state = msgpack.unpackb(joining.recv(timeout=5))["state"]["updates"]
        assert state["simulation.name"] == "fake" and "big" not in state
        joining.send(msgpack.packb({"command": {"request": {"name": "commands/list", "id": 1}}}))
        reply = msgpack.unpackb(joining.recv(timeout=5))
        assert reply["command"]["request"]["id"] == 1 and "response" in reply["command"]


def test_an_oversized_message_is_logged_with_the_client_its_size_and_the_limit(caplog, connect_client):
    with WebSocketServer(SessionParts.standalone(), port=0, max_message_bytes=1000) as server:
        client = connect_client(f"ws://127.0.0.1:{server.port}")
        client.send_raw(b"\x00" * 2000)
        with pytest.raises(ConnectionClosed):
            while True:
                client.receive(timeout=5)
        deadline = time.monotonic() + 10
        while "over the size limit" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    logged = [record.getMessage() for record in caplog.records if "over the size limit" in record.getMessage()]
    assert len(logged) == 1, caplog.text
    assert "ws-1" in logged[0] and "2000 bytes" in logged[0] and "1000 bytes" in logged[0]


def test_a_request_with_non_map_arguments_is_answered_over_the_wire(served, connect_client):
    client = connect_client(f"ws://127.0.0.1:{served.port}")
    client.send({"command": {"request": {"name": "commands/list", "arguments": [1, 2], "id": 5}}})
    client.wait_for(lambda: 5 in client.replies)
    assert "arguments of command 'commands/list' must be a map of string keys" in client.replies[5]["exception"]


def test_a_published_frame_wakes_every_ready_client_with_one_threadsafe_call(served):
    url = f"ws://127.0.0.1:{served.port}"
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(url, compression=None)) for _ in range(4)]
        for client in clients:
            client.recv(timeout=10)  # the state
        loop = served._loop_thread.loop
        calls = []
        original = loop.call_soon_threadsafe

        def counted(callback, *args, **kwargs):
            calls.append(callback)
            return original(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted
        for index in range(5):
            calls.clear()
            served.parts.hub.send_frame({"particle.count": index})
            during_send = len(calls)
            for client in clients:  # every client gets the frame, so each has nothing pending before the next
                assert msgpack.unpackb(client.recv(timeout=10))["frame"]["particle.count"] == index
            assert during_send == 1, calls


def test_a_frame_is_encoded_and_framed_once_for_a_classroom_of_32_clients(served, monkeypatch):
    import costeer.server.websocket.framed as websocket_framed

    encoded, framed = [], []

    def counted(frame):
        encoded.append(np.frombuffer(frame["particle.positions"], dtype=np.float32)[0])
        return original(frame)

    def counted_framing(payload):
        framed.append(payload)
        return original_framing(payload)

    original, original_framing = websocket_framed.encode_frame_message, websocket_framed._framed
    monkeypatch.setattr(websocket_framed, "encode_frame_message", counted)
    monkeypatch.setattr(websocket_framed, "_framed", counted_framing)
    url = f"ws://127.0.0.1:{served.port}"
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(url, compression=None)) for _ in range(32)]
        for client in clients:
            client.recv(timeout=10)  # the state
        for index in range(1, 11):
            served.parts.hub.send_frame({"particle.positions": np.full((500, 3), index, dtype=np.float32)})
            received = {client.recv(timeout=10) for client in clients}  # each takes it before the next is sent
            assert len(received) == 1, "the clients did not all receive the same bytes"
            positions = msgpack.unpackb(received.pop())["frame"]["particle.positions"]
            assert np.frombuffer(positions, dtype=np.float32)[0] == index
    assert encoded == list(range(1, 11)), "a frame was encoded more than once (or not at all) for 32 clients"
    assert len(framed) == 10, "a frame was framed for the wire more than once (or not at all) for 32 clients"


def test_a_slow_command_of_one_client_does_not_hold_up_anothers_play(connect_client):
    registry = CommandRegistry()
    slow_started, release_slow, played = threading.Event(), threading.Event(), threading.Event()
    calls: list[str] = []

    def slow():
        calls.append("slow")
        slow_started.set()
        release_slow.wait(30)
        return "done"

    registry.register("slow", slow)
    registry.register("mark", lambda: calls.append("mark"))
    registry.register("playback/play", played.set)
    with WebSocketServer(SessionParts.standalone(commands=registry), port=0) as server:
        url = f"ws://127.0.0.1:{server.port}"
        first, second = connect_client(url), connect_client(url)
        first.send({"command": {"request": {"name": "slow", "arguments": {}, "id": 1}}})
        first.send({"command": {"request": {"name": "mark", "arguments": {}, "id": 2}}})
        assert slow_started.wait(10)
        try:
            reply = second.request("playback/play", timeout=10)
            assert "response" in reply and played.is_set()
            assert calls == ["slow"]  # the first client's next command waits for its slow one
        finally:
            release_slow.set()
        first.wait_for(lambda: {1, 2} <= set(first.replies), timeout=10)
        assert first.replies[1]["response"] == "done" and calls == ["slow", "mark"]


def test_past_the_most_clients_a_newcomer_is_refused_with_503_until_one_leaves(caplog):
    with WebSocketServer(SessionParts.standalone(), port=0, max_clients=2) as server:
        url = f"ws://127.0.0.1:{server.port}"
        with connect(url), contextlib.ExitStack() as first:
            first.enter_context(connect(url))
            wait_until(lambda: server.client_count == 2)
            with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=5):
                pass
            assert refused.value.response.status_code == 503
            assert b"the server has 2 clients already, the most it takes" in refused.value.response.body
            assert "2 clients are connected, the most this server takes" in caplog.text
            first.close()
            wait_until(lambda: server.client_count == 1)
            with connect(url, open_timeout=5):
                pass
