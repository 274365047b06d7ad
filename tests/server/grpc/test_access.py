"""The gRPC port under an access policy and over TLS: tokens in call metadata, viewers refused steering."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

import grpc  # noqa: E402

from costeer.core import keys  # noqa: E402
from costeer.server.access import AccessPolicy  # noqa: E402
from costeer.server.commands import CommandRegistry  # noqa: E402
from costeer.server.grpc.codec import from_struct, to_struct  # noqa: E402
from costeer.server.grpc.generate import protocol  # noqa: E402
from costeer.server.grpc.server import GrpcTransport  # noqa: E402
from costeer.server.tls import TlsCredentials, make_self_signed  # noqa: E402
from costeer.server.transport import SessionParts  # noqa: E402

POLICY = AccessPolicy(token="teacher-s3cret", viewer_token="class-2026")
STEER = [("authorization", "Bearer teacher-s3cret")]
VIEW = [("authorization", "Bearer class-2026")]
_wire = protocol("nanover")


def session_parts(**options) -> SessionParts:
    commands = CommandRegistry()
    played = []
    commands.register(keys.PLAY_COMMAND, lambda: played.append(True))
    commands.register(keys.LIST_COMMAND, lambda: {"simulations": ["alpha"]})
    return SessionParts.standalone(commands=commands, **options)


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.state = _wire.state_grpc.StateStub(channel)
        self.commands = _wire.command_grpc.CommandStub(channel)
        self.trajectory = _wire.trajectory_grpc.TrajectoryServiceStub(channel)

    def run(self, name: str, metadata=None):
        request = _wire.command.CommandMessage(name=name)
        return from_struct(self.commands.RunCommand(request, timeout=10, metadata=metadata).result)

    def list_commands(self, metadata=None) -> set[str]:
        reply = self.commands.GetCommands(_wire.command.GetCommandsRequest(), timeout=10, metadata=metadata)
        return {command.name for command in reply.commands}

    def update(self, updates: dict, metadata=None) -> bool:
        request = _wire.state.UpdateStateRequest(access_token="t")
        request.update.changed_keys.CopyFrom(to_struct(updates))
        return self.state.UpdateState(request, timeout=10, metadata=metadata).success


@pytest.fixture
def served():
    parts = session_parts(access=POLICY)
    with GrpcTransport(parts, port=0) as transport:
        channel = grpc.insecure_channel(f"127.0.0.1:{transport.port}")
        yield parts, Stubs(channel)
        channel.close()


def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_calls_without_a_valid_token_are_unauthenticated(served) -> None:
    parts, stubs = served
    for metadata in (None, [("authorization", "Bearer nope")], [("authorization", "teacher-s3cret")]):
        code, details = code_of(lambda: stubs.list_commands(metadata))
        assert code is grpc.StatusCode.UNAUTHENTICATED
        assert "authorization: Bearer TOKEN" in details and "NanoVer's XR client cannot send a token" in details
    for stream in (stubs.state.SubscribeStateUpdates(_wire.state.SubscribeStateUpdatesRequest(), timeout=10),
                   stubs.trajectory.SubscribeLatestFrames(_wire.trajectory.GetFrameRequest(), timeout=10)):
        code, _ = code_of(lambda: next(stream))
        assert code is grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: stubs.update({"avatar.x": {}}))[0] is grpc.StatusCode.UNAUTHENTICATED
    assert parts.state.snapshot() == {}


def test_the_steering_token_steers(served) -> None:
    parts, stubs = served
    assert keys.PLAY_COMMAND in stubs.list_commands(STEER)
    assert stubs.update({"avatar.teacher": {"components": []}}, STEER)
    assert "avatar.teacher" in parts.state.snapshot()
    assert stubs.run(keys.PLAY_COMMAND, STEER) == {}


def test_a_viewer_reads_but_cannot_steer(served) -> None:
    parts, stubs = served
    parts.hub.send_frame({keys.PARTICLE_COUNT: 3})
    frames = stubs.trajectory.SubscribeLatestFrames(_wire.trajectory.GetFrameRequest(), timeout=10, metadata=VIEW)
    assert next(frames).frame is not None
    frames.cancel()
    assert keys.PLAY_COMMAND in stubs.list_commands(VIEW)
    assert stubs.run(keys.LIST_COMMAND, VIEW) == {"simulations": ["alpha"]}
    code, details = code_of(lambda: stubs.run(keys.PLAY_COMMAND, VIEW))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "viewers may not run 'playback/play'" in details
    code, details = code_of(lambda: stubs.update({"avatar.student": {}}, VIEW))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "UpdateState" in details
    assert parts.state.snapshot() == {}


def test_grpc_over_tls(tmp_path: Path) -> None:
    make_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", hosts=["localhost", "127.0.0.1"])
    parts = session_parts(tls=TlsCredentials.load(tmp_path / "cert.pem", tmp_path / "key.pem"))
    with GrpcTransport(parts, port=0) as transport:
        credentials = grpc.ssl_channel_credentials(root_certificates=(tmp_path / "cert.pem").read_bytes())
        with grpc.secure_channel(f"localhost:{transport.port}", credentials) as channel:
            assert Stubs(channel).run(keys.LIST_COMMAND) == {"simulations": ["alpha"]}
        with grpc.insecure_channel(f"127.0.0.1:{transport.port}") as plain:
            code, _ = code_of(lambda: Stubs(plain).run(keys.LIST_COMMAND))
            assert code is grpc.StatusCode.UNAVAILABLE
