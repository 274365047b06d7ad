"""Legacy gRPC clients that send bad input or too much: that call refused, said once, the session unharmed."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.client import NanoverSession  # noqa: E402
from costeer.core import keys  # noqa: E402
from costeer.server.grpc.clients import MAX_TOKENS_PER_CONNECTION  # noqa: E402
from costeer.server.grpc.codec import to_struct  # noqa: E402
from costeer.server.grpc.generate import protocol  # noqa: E402
from costeer.server.grpc.server import GrpcTransport  # noqa: E402
from costeer.server.transport import SessionParts  # noqa: E402
from tests.server.grpc.legacy import LegacyClient, spring, with_websocket  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.slow


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
