"""Legacy gRPC clients (stubs generated from our protos) beside WebSocket clients, on one session."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any, Callable

import numpy as np
import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.client import NanoverSession  # noqa: E402
from costeer.core import keys  # noqa: E402
from costeer.core.frame import merge_frames  # noqa: E402
from costeer.server.app import CosteerServer  # noqa: E402
from costeer.server.grpc import server as grpc_server  # noqa: E402
from costeer.server.grpc.codec import decode_frame, from_struct, state_from_struct, to_struct  # noqa: E402
from costeer.server.grpc.clients import MAX_TOKENS_PER_CONNECTION  # noqa: E402
from costeer.server.grpc.generate import NAMESPACES, protocol  # noqa: E402
from costeer.server.grpc.server import DISCOVERY_NAMES, GrpcTransport, grpc_transport  # noqa: E402
from costeer.server.transport import SessionParts, Transport  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.slow


class LegacyClient:
    """A Narupa/NanoVer-era client: its own channel, frame and state streams, one access token."""

    def __init__(self, port: int, namespace: str, token: str, *, frame_interval: float = 0.0) -> None:
        self.modules = protocol(namespace)
        self.token = token
        # a channel of its own, as on another device (grpc would otherwise share one connection)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
        self.trajectory = self.modules.trajectory_grpc.TrajectoryServiceStub(self.channel)
        self.states = self.modules.state_grpc.StateStub(self.channel)
        self.commands = self.modules.command_grpc.CommandStub(self.channel)
        self.frame: dict[str, Any] = {}
        self.frame_indices: list[int] = []
        self.state: dict[str, Any] = {}
        request = self.modules.trajectory.GetFrameRequest(frame_interval=frame_interval)
        self._frames = self.trajectory.SubscribeLatestFrames(request)
        self._updates = self.states.SubscribeStateUpdates(self.modules.state.SubscribeStateUpdatesRequest())
        self._threads = [
            threading.Thread(target=self._read, args=(self._frames, self._on_frame), daemon=True),
            threading.Thread(target=self._read, args=(self._updates, self._on_state), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, handle: Callable[[Any], None]) -> None:
        try:
            for message in stream:
                handle(message)
        except grpc.RpcError:
            pass

    def _on_frame(self, response: Any) -> None:
        self.frame = merge_frames(self.frame, decode_frame(response))
        self.frame_indices.append(response.frame_index)

    def _on_state(self, update: Any) -> None:
        updates, removals = state_from_struct(update.changed_keys)
        self.state.update(updates)
        for key in removals:
            self.state.pop(key, None)

    def update_state(self, updates: dict[str, Any], removals: tuple[str, ...] = ()) -> bool:
        change = to_struct({**updates, **{key: None for key in removals}})
        request = self.modules.state.UpdateStateRequest(
            access_token=self.token, update=self.modules.state.StateUpdate(changed_keys=change)
        )
        return self.states.UpdateState(request, timeout=10).success

    def update_locks(self, locks: dict[str, Any]) -> bool:
        request = self.modules.state.UpdateLocksRequest(access_token=self.token, lock_keys=to_struct(locks))
        return self.states.UpdateLocks(request, timeout=10).success

    def run_command(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        message = self.modules.command.CommandMessage(name=name, arguments=to_struct(arguments))
        return from_struct(self.commands.RunCommand(message, timeout=10).result)

    def close(self) -> None:
        self._frames.cancel()
        self._updates.cancel()
        self.channel.close()
        for thread in self._threads:
            thread.join(timeout=5)


def spring(*particles: int, x: float = 0.5) -> dict[str, Any]:
    return {"position": [x, 0.0, 0.0], "particles": list(particles), "interaction_type": "spring", "scale": 1.0}


@pytest.fixture
def server(fake_simulation):
    sims = [fake_simulation("alpha", 5), fake_simulation("beta", 7)]
    with CosteerServer(sims, port=0, frame_rate=60.0, transports=[grpc_transport(port=0)]) as srv:
        yield srv


@pytest.fixture
def grpc_port(server) -> int:
    transport = next(transport for transport in server.transports if transport.name == "grpc")
    return transport.port


@pytest.fixture
def legacy(grpc_port):
    clients: list[LegacyClient] = []

    def make(namespace: str, token: str, **options: Any) -> LegacyClient:
        client = LegacyClient(grpc_port, namespace, token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def with_websocket(server, scenario: Callable[[NanoverSession], Any]) -> Any:
    """Run ``scenario(session)`` (a coroutine function) with a WebSocket client of ``server``."""

    async def run() -> Any:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            return await scenario(session)

    return asyncio.run(run())


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


def test_bad_input_fails_that_call_only(server, legacy, grpc_port, caplog):
    watcher = legacy("nanover", "watcher")
    wait_until(lambda: len(watcher.frame_indices) > 2, what="frames")
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        with caplog.at_level(logging.WARNING, logger="costeer.server.grpc"):
            for method in ("/nanover.protocol.state.State/UpdateState", "/narupa.protocol.command.Command/RunCommand"):
                raw = channel.unary_unary(method)
                for _ in range(3):  # refused each time, logged once
                    with pytest.raises(grpc.RpcError) as failure:
                        raw(b"\x0a\xff\xff\xff\xff\x0f", timeout=10)  # a field whose length runs past the end
                    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert method.rsplit("/", 1)[1] in caplog.text
            stream = channel.unary_stream("/narupa.protocol.trajectory.TrajectoryService/SubscribeLatestFrames")
            with pytest.raises(grpc.RpcError) as failure:
                next(iter(stream(b"\xff", timeout=10)))
            assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        channel.close()
    assert caplog.text.count("that call was refused") == 3
    bad = legacy("narupa", "bad")
    with caplog.at_level(logging.WARNING):
        assert not bad.update_locks({"scene": "forever"})
        assert "finite number of seconds" in caplog.text
        assert not bad.update_state({"interaction.bad": {**spring(1), "particles": "all of them"}})
        assert "interaction.bad" not in server.state.snapshot()
        with pytest.raises(grpc.RpcError) as failure:
            bad.run_command(keys.LOAD_COMMAND, index="first")
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    count = len(watcher.frame_indices)
    wait_until(lambda: len(watcher.frame_indices) > count + 2, what="frames still flowing to the other client")
    assert bad.update_state({"interaction.good": spring(2)}), "the client that erred is still served"

    async def scenario(session: NanoverSession) -> None:
        await session.wait_for_frame()
        await session.wait_for_state(lambda state: "interaction.good" in state)

    with_websocket(server, scenario)
    assert not server.runner.is_paused


def test_infinities_and_nan_from_a_legacy_client_are_judged_by_the_rules_not_failed_as_calls(server, legacy, caplog):
    # json_format cannot write NaN or infinity into Python values; every other transport lets the
    # ownership rules, the lock rules and the commands judge them (and NanoVer's clients send
    # an interaction's max_force as +infinity to mean "no cap of their own")
    client = legacy("nanover", "token-a")
    with caplog.at_level(logging.WARNING):
        assert client.update_state({"interaction.uncapped": {**spring(1), "max_force": float("inf")}})
        assert not client.update_state({"avatar.nan": {"position": [float("nan"), 0.0, 0.0]}})
        assert "avatar.nan" in caplog.text and "NaN" in caplog.text
        assert not client.update_locks({"scene": float("nan")})
        assert "finite number of seconds" in caplog.text
        with pytest.raises(grpc.RpcError) as failure:
            client.run_command(keys.RADIALLY_ORIENT_COMMAND, radius=float("inf"))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Traceback" not in caplog.text and "Exception calling application" not in caplog.text
    wait_until(lambda: "interaction.uncapped" in server.runner.simulation.interactions, what="the uncapped interaction applied")
    assert "avatar.nan" not in server.state.snapshot()


def test_a_connection_naming_access_token_after_access_token_is_refused_past_the_limit(server, grpc_port, caplog):
    modules = protocol("nanover")
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    states = modules.state_grpc.StateStub(channel)

    def write(token: str) -> bool:
        change = modules.state.StateUpdate(changed_keys=to_struct({f"selection.{token}": {"n": 1}}))
        return states.UpdateState(modules.state.UpdateStateRequest(access_token=token, update=change), timeout=10).success

    try:
        assert all(write(f"token-{number}") for number in range(MAX_TOKENS_PER_CONNECTION))
        with caplog.at_level(logging.WARNING), pytest.raises(grpc.RpcError) as refused:
            write("one-token-too-many")
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "access tokens from one connection" in refused.value.details() and "access tokens" in caplog.text
        assert write("token-0"), "its known tokens still work"
    finally:
        channel.close()


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


def test_calls_beyond_the_limit_are_refused_at_once():
    parts = SessionParts.standalone()
    parts.hub.send_frame({keys.PARTICLE_COUNT: 1})
    with GrpcTransport(parts, port=0, max_calls=2) as transport:
        client = LegacyClient(transport.port, "nanover", "token")  # its two streams take both places
        try:
            wait_until(lambda: transport.client_count == 1 and client.frame_indices, what="the two streams")
            start = time.monotonic()
            with pytest.raises(grpc.RpcError) as failure:
                client.update_state({"scene": {"x": 1}})
            assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() - start < 5
        finally:
            client.close()
        wait_until(lambda: transport.client_count == 0, what="the streams to end")
        stubs = protocol("nanover")
        request = stubs.state.UpdateStateRequest(access_token="later", update=stubs.state.StateUpdate(changed_keys=to_struct({"scene": {"x": 2}})))
        with grpc.insecure_channel(f"127.0.0.1:{transport.port}") as channel:
            stub = stubs.state_grpc.StateStub(channel)
            wait_until(lambda: _succeeds(lambda: stub.UpdateState(request, timeout=5).success), what="a place again")


def _succeeds(call: Callable[[], Any]) -> bool:
    try:
        return bool(call())
    except grpc.RpcError:
        return False
