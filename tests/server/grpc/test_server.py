"""Legacy gRPC clients (stubs generated from our protos) beside WebSocket clients, on one session."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.client import NanoverSession  # noqa: E402
from costeer.core import keys  # noqa: E402
from costeer.server.grpc import server as grpc_server  # noqa: E402
from costeer.server.grpc.generate import NAMESPACES  # noqa: E402
from costeer.server.grpc.server import DISCOVERY_NAMES, GrpcTransport  # noqa: E402
from costeer.server.transport import SessionParts, Transport  # noqa: E402
from tests.server.grpc.legacy import LegacyClient, spring, with_websocket  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_legacy_client_receives_frames(server, legacy, namespace):
    client = legacy(namespace, "token-a")
    wait_until(lambda: client.frame_indices and client.frame.get(keys.PARTICLE_POSITIONS) is not None, what="a frame")
    assert client.frame_indices[0] == 0
    assert client.frame[keys.PARTICLE_COUNT] == 5
    assert client.frame[keys.PARTICLE_ELEMENTS].tolist() == [6] * 5
    assert client.frame[keys.PARTICLE_POSITIONS].shape == (5, 3)
    first = float(client.frame[keys.PARTICLE_POSITIONS][0, 0])
    wait_until(lambda: float(client.frame[keys.PARTICLE_POSITIONS][0, 0]) > first, what="the simulation moving on")
    assert client.frame_indices[-1] > 0


def test_subscribe_latest_frames_keeps_to_the_interval(server, legacy):
    client = legacy("nanover", "token-a", frame_interval=0.25)
    wait_until(lambda: len(client.frame_indices) >= 3, what="three frames")
    start, count = time.monotonic(), len(client.frame_indices)
    time.sleep(1.0)
    sent = len(client.frame_indices) - count
    assert sent <= (time.monotonic() - start) / 0.25 + 1, "more frames than frame_interval allows"
    assert client.frame_indices[-1] - client.frame_indices[count - 1] > sent, "the frames in between were merged"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_an_interaction_set_over_grpc_is_applied_and_seen_over_websocket(server, legacy, namespace):
    client = legacy(namespace, "headset-1")
    assert client.update_state({"interaction.grpc": spring(1, 2)})
    simulation = server.runner.simulation
    applied = wait_until(lambda: simulation.interactions.get("interaction.grpc"), what="the pull reaching the simulation")
    assert applied.particles.tolist() == [1, 2]

    async def scenario(session: NanoverSession) -> dict:
        return await session.wait_for_state(lambda state: "interaction.grpc" in state)

    seen = with_websocket(server, scenario)
    assert seen["interaction.grpc"]["particles"] == [1, 2]
    assert server.state.ownership.owner_of("interaction.grpc").startswith("grpc-")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_an_interaction_set_over_websocket_is_seen_over_grpc(server, legacy, namespace):
    client = legacy(namespace, "headset-1")

    async def scenario(session: NanoverSession) -> None:
        await session.update_state({"interaction.ws": spring(3, x=1.0)})
        await asyncio.to_thread(wait_until, lambda: "interaction.ws" in client.state, 10.0, "the pull over gRPC")
        assert client.state["interaction.ws"]["particles"] == [3]
        await session.update_state({}, ["interaction.ws"])
        await asyncio.to_thread(wait_until, lambda: "interaction.ws" not in client.state, 10.0, "the removal")

    with_websocket(server, scenario)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_lock_keeps_other_clients_off_the_key_until_released(server, legacy, namespace):
    holder, other = legacy(namespace, "holder"), legacy(namespace, "other")
    assert holder.update_locks({"scene": 30.0})
    assert holder.update_state({"scene": {"by": "holder"}})
    assert not other.update_state({"scene": {"by": "other"}, "selection.other": {"name": "mine"}})
    assert server.state.get("scene") == {"by": "holder"}
    assert "selection.other" not in server.state.snapshot(), "a refused update fails as a whole"

    async def scenario(session: NanoverSession) -> None:
        await session.update_state({"scene": {"by": "websocket"}, "selection.ws": {"name": "ws"}})
        await session.wait_for_state(lambda state: "selection.ws" in state)

    with_websocket(server, scenario)
    assert server.state.get("scene") == {"by": "holder"}, "the lock holds against WebSocket clients too"
    assert not holder.update_locks({"scene": None, "simulation.name": 5.0}), "the server's keys cannot be locked"
    assert not other.update_state({"scene": {"by": "other"}}), "a refused lock request releases nothing either"
    assert holder.update_locks({"scene": None})
    assert other.update_state({"scene": {"by": "other"}})
    assert server.state.get("scene") == {"by": "other"}


def test_a_websocket_clients_interaction_cannot_be_taken_over_grpc(server, legacy):
    client = legacy("nanover", "thief")

    async def scenario(session: NanoverSession) -> None:
        await session.update_state({"interaction.ws": spring(3)})
        await session.wait_for_state(lambda state: "interaction.ws" in state)
        assert not client.update_state({"interaction.ws": spring(4)})
        assert not client.update_locks({"interaction.ws": 10.0})

    with_websocket(server, scenario)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_commands_are_listed_and_run(server, legacy, namespace):
    client = legacy(namespace, "headset-1")
    reply = client.commands.GetCommands(client.modules.command.GetCommandsRequest(), timeout=10)
    names = {command.name for command in reply.commands}
    assert {keys.PLAY_COMMAND, keys.PAUSE_COMMAND, keys.LOAD_COMMAND, keys.LIST_COMMAND} <= names
    assert client.run_command(keys.LIST_COMMAND) == {"simulations": ["alpha", "beta"]}
    client.run_command(keys.LOAD_COMMAND, index=1)
    wait_until(lambda: server.state.get(keys.STATE_SIMULATION_NAME) == "beta", what="the switch to beta")
    wait_until(lambda: client.frame.get(keys.PARTICLE_COUNT) == 7, what="beta's frames over gRPC")
    client.run_command(keys.PAUSE_COMMAND)
    wait_until(lambda: server.runner.is_paused, what="the pause")


def test_a_command_a_websocket_client_registered_runs_over_grpc(server, legacy):
    client = legacy("narupa", "headset-1")

    async def scenario(session: NanoverSession) -> None:
        await session.register_command("lab/greet", lambda name="?": {"hello": name})
        await asyncio.to_thread(wait_until, lambda: server.commands.get("lab/greet"), 10.0, "the registration")
        reply = await asyncio.to_thread(client.run_command, "lab/greet", name="vr")
        assert reply == {"hello": "vr"}

    with_websocket(server, scenario)


def test_a_client_that_leaves_takes_its_interactions_with_it(server, legacy):
    client = legacy("nanover", "headset-1")
    assert client.update_state({"interaction.grpc": spring(1), "avatar.headset-user": {"components": []}})
    wait_until(lambda: "interaction.grpc" in server.runner.simulation.interactions, what="the pull")
    assert server.client_count == 1
    client.close()
    wait_until(lambda: "interaction.grpc" not in server.state.snapshot(), what="the clean-up")
    assert "avatar.headset-user" not in server.state.snapshot()
    wait_until(lambda: not server.runner.simulation.interactions, what="the pull released")
    assert server.client_count == 0


def test_discovery_announces_the_grpc_services_under_the_legacy_names(server, grpc_port):
    services = server.discovery_services
    assert {name: services[name] for name in DISCOVERY_NAMES} == {name: grpc_port for name in DISCOVERY_NAMES}
    assert services["ws"] == server.port


def test_a_taken_port_says_so(server, grpc_port):
    transport = GrpcTransport(SessionParts.standalone(), port=grpc_port)
    with pytest.raises(OSError, match=f"{grpc_port}.*--grpc-port"):
        transport.start()


def test_each_frame_is_encoded_once_for_all_grpc_clients(monkeypatch):
    calls = []
    encode = grpc_server.encode_frame_response
    monkeypatch.setattr(grpc_server, "encode_frame_response", lambda frame: calls.append(1) or encode(frame))
    parts = SessionParts.standalone()
    with GrpcTransport(parts, port=0) as transport:
        clients = [LegacyClient(transport.port, namespace, f"t{i}") for i, namespace in enumerate(NAMESPACES * 2)]
        try:
            wait_until(lambda: parts.hub.subscriber_count == 4, what="four subscriptions")
            for step in range(1, 6):
                parts.hub.send_frame({keys.PARTICLE_POSITIONS: np.full((4, 3), step, dtype=np.float32)})
                wait_until(lambda: all(len(c.frame_indices) == step for c in clients), what=f"frame {step} everywhere")
        finally:
            for client in clients:
                client.close()
    assert len(calls) == 5


def test_close_ends_streams_and_lets_clients_leave():
    parts = SessionParts.standalone()
    left: list[tuple[str, bool]] = []

    def listener(client: str, address: str | None, connected: bool) -> None:
        if not connected:
            left.append((client, "interaction.x" in parts.state.snapshot()))

    parts.connection_listeners.append(listener)
    transport = GrpcTransport(parts, port=0)
    assert isinstance(transport, Transport)
    transport.start()
    client = LegacyClient(transport.port, "nanover", "token")
    try:
        assert client.update_state({"interaction.x": spring(1)})
        wait_until(lambda: transport.client_count == 1, what="the streams")
        transport.close()
        transport.close()
        assert left == [("grpc-1", False)], "the client's keys are gone before the listeners hear it left"
        for thread in client._threads:
            thread.join(timeout=5)
            assert not thread.is_alive(), "the server ended the client's streams"
    finally:
        client.close()
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", transport.port))
