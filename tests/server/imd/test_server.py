"""The IMD transport on a real server around a fake simulation, driven by a minimal IMD client."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
import types
from typing import Any, Callable

import numpy as np
import pytest

from costeer.core import keys
from costeer.server.app import CosteerServer
from costeer.server.imd import server as imd_server
from costeer.server.imd.codec import (
    HEADER_BYTES,
    MessageType,
    header,
    mdcomm,
    read_handshake,
    read_session_info,
)
from costeer.server.imd.server import imd_transport
from tests.waiting import wait_until

ATOMS = 6
_BODY = {MessageType.ENERGIES: 40, MessageType.TIME: 24, MessageType.BOX: 36}


class RawImdClient:
    """An IMD client over a plain socket: reads the handshake and frames, sends what a test asks."""

    def __init__(self, port: int, *, atoms: int = ATOMS, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.atoms = atoms
        self.version, self.order = read_handshake(self._exact(HEADER_BYTES))
        self.flags = read_session_info(self._exact(HEADER_BYTES + 7)) if self.version == 3 else None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def go(self) -> "RawImdClient":
        self.send(header(MessageType.GO))
        return self

    def packet(self) -> tuple[MessageType, Any]:
        kind, slot = struct.unpack("!ii", self._exact(HEADER_BYTES))
        kind = MessageType(kind)
        if kind in _BODY:
            body = self._exact(_BODY[kind])
            if kind == MessageType.TIME:
                return kind, struct.unpack(self.order + "ddq", body)
            if kind == MessageType.ENERGIES:
                return kind, struct.unpack(self.order + "i9f", body)
            return kind, np.frombuffer(body, dtype=self.order + "f4").reshape(3, 3)
        assert slot == self.atoms, f"{kind.name} for {slot} atoms, expected {self.atoms}"
        return kind, np.frombuffer(self._exact(12 * slot), dtype=self.order + "f4").reshape(slot, 3)

    def frame(self) -> dict[MessageType, Any]:
        """One frame: packets until the coordinates (v2), or the promised ones (v3)."""
        frame = {}
        while True:
            kind, value = self.packet()
            frame[kind] = value
            if kind == MessageType.FCOORDS:
                return frame

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """Whether the server closes the connection within ``timeout`` (frames read meanwhile are dropped)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(1 << 16):
                    return True
        except (ConnectionError, TimeoutError):
            return True
        return False

    def _exact(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve(fake_simulation) -> Callable[..., CosteerServer]:
    servers: list[CosteerServer] = []

    def make(*, atoms: int = ATOMS, versions=(3,), frame_rate: float = 60.0, **imd_options: Any) -> CosteerServer:
        transports = [imd_transport(port=0, version=version, **imd_options) for version in versions]
        server = CosteerServer([fake_simulation(particle_count=atoms)], port=0, frame_rate=frame_rate,
                               transports=transports)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def clients() -> Callable[..., RawImdClient]:
    made: list[RawImdClient] = []

    def make(port: int, **options: Any) -> RawImdClient:
        client = RawImdClient(port, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def imd_port(server: CosteerServer, version: int = 3) -> int:
    return next(t.port for t in server.transports if t.name == ("imd" if version == 3 else f"imd{version}"))


def test_v3_session_offers_what_the_frames_hold_and_sends_positions_in_angstrom(serve, clients):
    server = serve()
    client = clients(imd_port(server)).go()
    # the fake simulation sends positions and time only: no energies, box, velocities or forces
    assert (client.flags.time, client.flags.positions, client.flags.energies, client.flags.box,
            client.flags.velocities, client.flags.forces) == (True, True, False, False, False, False)
    for _ in range(3):
        frame = client.frame()
        assert list(frame) == [MessageType.TIME, MessageType.FCOORDS]
        dt, time_ps, step = frame[MessageType.TIME]
        # FakeSimulation: every coordinate is 0.001 nm per frame, time 0.01 ps per frame
        np.testing.assert_allclose(frame[MessageType.FCOORDS], np.full((ATOMS, 3), time_ps * 0.1 * 10.0), rtol=1e-5)
    assert server.client_count == 1


def test_v2_session_has_no_session_info_and_sends_coordinates(serve, clients):
    server = serve(versions=(2, 3))
    client = clients(imd_port(server, 2)).go()
    assert (client.version, client.flags) == (2, None)
    first, second = client.frame(), client.frame()
    assert list(first) == [MessageType.FCOORDS]
    assert second[MessageType.FCOORDS][0, 0] > first[MessageType.FCOORDS][0, 0]
    assert {t.name for t in server.transports} == {"ws", "imd", "imd2"}


def test_no_frames_before_go(serve, clients):
    server = serve()
    client = clients(imd_port(server))
    client.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        client.sock.recv(1)
    client.go().frame()


@pytest.mark.parametrize(("version", "factor"), [(3, 10.0), (2, 41.84)])
def test_mdcomm_becomes_the_clients_force_interaction_in_kj_per_mol_nm(serve, clients, version, factor):
    server = serve(versions=(version,))
    client = clients(imd_port(server, version)).go()
    client.frame()
    client.send(mdcomm([4, 1], [[1.0, 0.0, -2.0], [0.0, 0.5, 0.0]]))
    key = wait_until(lambda: next((k for k in server.state.snapshot() if k.startswith("interaction.imd-")), None))
    value = server.state.get(key)
    assert value["interaction_type"] == "forces" and value["particles"] == [4, 1]
    np.testing.assert_allclose(value["forces"], np.array([[1.0, 0.0, -2.0], [0.0, 0.5, 0.0]]) * factor)
    assert server.state.last_writers()[key] == key.removeprefix("interaction.")
    applied = wait_until(lambda: server.runner.simulation.interactions.get(key))
    np.testing.assert_allclose(applied.forces, [[0.0, 0.5 * factor, 0.0], [factor, 0.0, -2.0 * factor]])

    client.send(mdcomm([], np.zeros((0, 3))))
    wait_until(lambda: key not in server.state.snapshot())
    client.send(mdcomm([0], [[1.0, 1.0, 1.0]]))
    wait_until(lambda: key in server.state.snapshot())
    client.close()
    wait_until(lambda: key not in server.state.snapshot() and server.client_count == 0)
    assert server.runner.is_paused is False


def test_pause_and_resume_run_the_playback_commands(serve, clients):
    server = serve()
    client = clients(imd_port(server)).go()
    client.frame()
    client.send(header(MessageType.PAUSE))
    wait_until(lambda: server.runner.is_paused)
    client.send(header(MessageType.PAUSE))  # v3: idempotent
    client.send(header(MessageType.RESUME))
    wait_until(lambda: not server.runner.is_paused)


def test_v2_pause_toggles_and_a_client_leaving_paused_plays_again(serve, clients):
    server = serve(versions=(2,))
    client = clients(imd_port(server, 2)).go()
    client.frame()
    client.send(header(MessageType.PAUSE))
    wait_until(lambda: server.runner.is_paused)
    client.send(header(MessageType.PAUSE))
    wait_until(lambda: not server.runner.is_paused)
    client.send(header(MessageType.PAUSE))
    wait_until(lambda: server.runner.is_paused)
    client.close()
    wait_until(lambda: not server.runner.is_paused and server.client_count == 0)


def test_transmission_rate_sends_one_frame_in_n(serve, clients):
    server = serve(frame_rate=120.0)
    client = clients(imd_port(server)).go()
    client.frame()
    client.send(header(MessageType.TRATE, 4))
    times = [client.frame()[MessageType.TIME][1] for _ in range(12)]
    gaps = np.round(np.diff(times[6:]) / 0.01).astype(int)  # well after the rate took effect
    assert gaps.min() >= 4, gaps


def test_kill_and_wait_leave_the_simulation_running(serve, clients, caplog):
    server = serve()
    client = clients(imd_port(server)).go()
    client.frame()
    with caplog.at_level(logging.WARNING):
        client.send(header(MessageType.WAIT, 1) + header(MessageType.KILL))
        first = client.frame()[MessageType.TIME][1]
        wait_until(lambda: client.frame()[MessageType.TIME][1] > first + 0.05)
    assert "refused" in caplog.text and "IMD_KILL" in caplog.text


@pytest.mark.parametrize(
    ("bad", "logged"),
    [
        (header(42), "unknown message type 42"),
        (header(MessageType.HANDSHAKE, 7), "unknown IMD version 7"),
        (header(MessageType.FCOORDS, ATOMS), "may not send FCOORDS"),
        (mdcomm([ATOMS], [[1.0, 0.0, 0.0]]), f"names atom {ATOMS}"),
        (header(MessageType.MDCOMM, 10**6), "MDCOMM for 1000000 atoms"),
    ],
)
def test_bad_input_closes_that_connection_only(serve, clients, caplog, bad, logged):
    server = serve()
    bystander = clients(imd_port(server)).go()
    bystander.frame()
    culprit = clients(imd_port(server)).go()
    culprit.frame()
    with caplog.at_level(logging.WARNING):
        culprit.send(bad)
        assert culprit.closed_by_server()
        wait_until(lambda: server.client_count == 1)
    assert logged in caplog.text and "closed its connection" in caplog.text
    before = bystander.frame()[MessageType.TIME][1]
    assert bystander.frame()[MessageType.TIME][1] > before
    assert not any(key.startswith("interaction.") for key in server.state.snapshot())


def test_a_truncated_header_is_logged_when_the_client_goes(serve, clients, caplog):
    server = serve()
    culprit = clients(imd_port(server)).go()
    culprit.frame()
    with caplog.at_level(logging.WARNING):
        culprit.send(b"\x00\x00\x00")
        culprit.sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: server.client_count == 0)
    assert "truncated header: the stream ended after 3 of its 8 bytes" in caplog.text


def test_a_client_that_never_says_go_is_dropped(serve, clients, caplog, monkeypatch):
    monkeypatch.setattr(imd_server, "GO_SECONDS", 0.3)
    server = serve()
    silent = clients(imd_port(server))
    with caplog.at_level(logging.WARNING):
        assert silent.closed_by_server()
    assert "did not answer the handshake with GO" in caplog.text
    wait_until(lambda: server.client_count == 0)


def test_a_client_that_never_reads_is_dropped_and_the_others_go_on(serve, clients, caplog):
    atoms = 20_000  # 240 kB a frame: the socket buffers fill within a few frames
    server = serve(atoms=atoms, frame_rate=100.0, send_timeout=0.5)
    reader = clients(imd_port(server), atoms=atoms).go()
    clients(imd_port(server), atoms=atoms, receive_buffer=4096).go()  # never reads
    wait_until(lambda: server.client_count == 2)
    with caplog.at_level(logging.WARNING):
        times = []
        deadline = time.monotonic() + 20
        while "was dropped" not in caplog.text and time.monotonic() < deadline:
            times.append(reader.frame()[MessageType.TIME][1])
    assert "read nothing for 0.5 s and was dropped" in caplog.text
    wait_until(lambda: server.client_count == 1)
    after = reader.frame()[MessageType.TIME][1]
    assert after > times[-1]


def test_the_served_system_changing_size_ends_the_session(serve, clients, caplog):
    server = serve()
    client = clients(imd_port(server)).go()
    client.frame()
    with caplog.at_level(logging.WARNING):
        server.hub.send_clear()
        server.hub.send_frame({keys.PARTICLE_POSITIONS: np.zeros((ATOMS + 1, 3), dtype=np.float32)})
        assert client.closed_by_server()
    assert f"changed from {ATOMS} to {ATOMS + 1} atoms" in caplog.text


def test_each_frame_is_encoded_once_for_all_clients_of_a_version(serve, clients):
    server = serve()
    transport = next(t for t in server.transports if t.name == "imd")
    encoded: list[dict] = []
    encode = transport._encode

    def counting(frame):
        encoded.append(frame)
        return encode(frame)

    transport._encode = counting
    readers = [clients(imd_port(server)).go() for _ in range(3)]
    for _ in range(5):
        for reader in readers:
            reader.frame()
    assert len(encoded) >= 5
    assert len({id(frame) for frame in encoded}) == len(encoded)  # the list keeps them alive: ids are unique


def test_a_client_that_dies_leaves_the_simulation_running_and_its_forces_removed(serve, clients):
    server = serve()
    client = clients(imd_port(server)).go()
    client.frame()
    client.send(mdcomm([2], [[5.0, 0.0, 0.0]]) + header(MessageType.PAUSE))
    wait_until(lambda: server.runner.is_paused and any(k.startswith("interaction.imd-") for k in server.state.snapshot()))
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, no DISCONNECT
    wait_until(lambda: server.client_count == 0)
    wait_until(lambda: not server.runner.is_paused)
    assert not any(key.startswith("interaction.") for key in server.state.snapshot())
    wait_until(lambda: server.runner.simulation.interactions == {})


def test_a_taken_port_is_refused_naming_it():
    from costeer.server.imd.server import ImdServer
    from costeer.server.transport import SessionParts

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen for IMD on 127.0.0.1:{port}.*--imd-port"):
            ImdServer(SessionParts.standalone(), port=port).start()


def test_an_unknown_version_is_refused_when_built():
    from costeer.server.transport import SessionParts

    with pytest.raises(ValueError, match="IMD version 4 is not served"):
        imd_transport(port=0, version=4)(SessionParts.standalone())


def test_a_send_cancelled_as_its_drain_completes_ends_rather_than_living_on():
    # When a client goes, the connection cancels its send loop; if the socket's drain finished in
    # the same turn of the event loop, Python 3.11's asyncio.wait_for returned its result and
    # swallowed the cancellation, so the loop lived on, pending, until collected with an error.
    class Writer:
        def __init__(self, drained: asyncio.Future) -> None:
            self.drained = drained

        def write(self, data: bytes) -> None:
            pass

        async def drain(self) -> None:
            await self.drained

    async def scenario() -> None:
        connection = imd_server._ImdConnection.__new__(imd_server._ImdConnection)
        connection.server = types.SimpleNamespace(send_timeout=5.0)
        connection.writer = Writer(asyncio.get_running_loop().create_future())
        sending = asyncio.create_task(connection._send(b"frame"))
        await asyncio.sleep(0.01)  # waiting for the drain
        connection.writer.drained.set_result(None)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending

    asyncio.run(scenario())
