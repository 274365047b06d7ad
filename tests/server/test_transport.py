"""The transport seam: a second, tiny transport served beside the WebSocket one by the same session.

``LineTransport`` is a real transport over TCP: each client gets every frame as a line
``<frame.index>\\n`` (encoded once per frame object through ``SharedFrame.encoding``), and a
line ``avatar <id>`` it sends writes ``avatar.<id>`` to the shared state as that client.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from costeer.core import keys
from costeer.server.app import CosteerServer
from costeer.server.discovery import ESSD_PORT
from costeer.server.transport import SessionParts, Transport
from tests.waiting import wait_until

USER = "929680e7-b96d-4ead-9878-1f56462ab669"


class LineTransport:
    """Frames as lines of their index; ``avatar <id>`` lines write the client's avatar."""

    name = "lines"

    def __init__(self, parts: SessionParts) -> None:
        self.parts = parts
        self.port: int | None = None
        self.encoded_frames: list[dict] = []
        """Every frame object encoded (kept alive, so their ids stay unique)."""
        self.sent = 0
        self.closed = False
        self._clients: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._count = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def discovery_services(self) -> dict[str, int]:
        return {} if self.port is None else {"lines": self.port}

    def start(self) -> None:
        self._listener = socket.create_server((self.parts.address, 0))
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._listener is not None:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (Linux); close alone does not
            self._listener.close()
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            client.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=10)

    def _encode(self, frame: dict) -> bytes:
        self.encoded_frames.append(frame)
        return f"{frame[keys.FRAME_INDEX]}\n".encode()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._count += 1
            client_id = f"{self.name}-{self._count}"
            with self._lock:
                self._clients[client_id] = connection
            self.parts.tell_connection(client_id, None, True)
            self._spawn(self._serve, client_id, connection)

    def _serve(self, client_id: str, connection: socket.socket) -> None:
        ready = threading.Event()
        frames = self.parts.hub.subscribe(on_ready=ready.set)
        sender = threading.Thread(target=self._send_loop, args=(connection, frames, ready), daemon=True)
        sender.start()
        try:
            for line in connection.makefile("r"):
                word, _, user = line.strip().partition(" ")
                if word == "avatar":
                    self.parts.state.update({f"avatar.{user}": {"name": user}}, origin=client_id)
        except OSError:
            pass
        finally:
            frames.close()
            ready.set()
            sender.join(timeout=10)
            connection.close()
            self.parts.client_left(client_id)
            with self._lock:
                del self._clients[client_id]
            self.parts.tell_connection(client_id, None, False)

    def _send_loop(self, connection: socket.socket, frames, ready: threading.Event) -> None:
        while not frames.closed:
            ready.wait()
            ready.clear()
            shared = frames.take_packed()
            if shared is None:
                continue
            try:
                connection.sendall(shared.encoding("lines", self._encode))
            except OSError:
                return
            with self._lock:
                self.sent += 1


class LineClient:
    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.lines = self.socket.makefile("r")

    def next_index(self) -> int:
        return int(self.lines.readline())

    def send(self, line: str) -> None:
        self.socket.sendall(f"{line}\n".encode())

    def close(self) -> None:
        self.lines.close()  # the socket closes only once its file is closed too
        self.socket.close()


@pytest.fixture
def served(fake_simulation):
    with CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, transports=[LineTransport]) as server:
        yield server, server.transports[1]


def test_line_transport_is_a_transport():
    assert isinstance(LineTransport(SessionParts.standalone()), Transport)


def test_the_server_starts_every_transport_sums_their_clients_and_closes_them(served, connect_client):
    server, lines = served
    assert [transport.name for transport in server.transports] == ["ws", "lines"]
    assert server.port == server.transports[0].port != lines.port
    websocket = connect_client(f"ws://127.0.0.1:{server.port}")
    readers = [LineClient(lines.port), LineClient(lines.port)]
    first = [reader.next_index() for reader in readers]
    assert [reader.next_index() for reader in readers] > first  # frames keep coming
    websocket.wait_for(lambda: websocket.frames)
    wait_until(lambda: server.client_count == 3)
    readers[0].close()
    wait_until(lambda: server.client_count == 2)
    server.close()
    assert lines.closed and lines.client_count == 0 and server.client_count == 0


def test_each_frame_is_encoded_once_however_many_clients_take_it(served):
    server, lines = served
    readers = [LineClient(lines.port) for _ in range(4)]
    received = 0
    for reader in readers:
        start = reader.next_index()
        received += 1
        while reader.next_index() < start + 10:
            received += 1
    wait_until(lambda: lines.sent >= received)
    with lines._lock:
        encoded, sent = list(lines.encoded_frames), lines.sent
    assert len({id(frame) for frame in encoded}) == len(encoded)  # no frame object encoded twice
    assert len(encoded) < sent  # the clients shared encodings
    for reader in readers:
        reader.close()


def test_a_client_leaving_another_transport_has_its_keys_removed_before_listeners_hear(served):
    server, lines = served
    heard = []
    server.connection_listeners.append(
        lambda client, address, connected: heard.append((client, connected, f"avatar.{USER}" in server.state.snapshot()))
    )
    reader = LineClient(lines.port)
    reader.send(f"avatar {USER}")
    wait_until(lambda: f"avatar.{USER}" in server.state.snapshot())
    server.state.update({f"user-origin.{USER}": {"position": [0, 0, 0]}})  # the server places that user
    assert server.parts.clients.user_ids("lines-1") == {USER}
    reader.close()
    wait_until(lambda: len(heard) == 2)
    assert heard == [("lines-1", True, False), ("lines-1", False, False)]
    content = server.state.snapshot()
    assert f"avatar.{USER}" not in content and f"user-origin.{USER}" not in content
    assert server.parts.clients.user_ids("lines-1") == set()


def test_discovery_announces_every_transports_services(fake_simulation):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", ESSD_PORT))
        listener.settimeout(5)
        with CosteerServer([fake_simulation()], port=0, discovery=True, name="two transports",
                           transports=[LineTransport]) as server:
            while True:
                hub = json.loads(listener.recv(2048))
                if hub["name"] == "two transports":
                    break
    assert hub["services"] == {"ws": server.port, "lines": server.transports[1].port}


def test_a_transport_that_cannot_start_closes_the_server(fake_simulation):
    class Taken(LineTransport):
        def start(self) -> None:
            raise OSError(98, "cannot listen on port 1234 (address in use)")

    server = CosteerServer([fake_simulation()], port=0, transports=[Taken])
    with pytest.raises(OSError, match="port 1234"):
        server.start()
    assert server.transports[1].closed and server.transports[0].port is not None
    assert server.state.update({"x": 1}) == {}  # closed too


def test_two_transports_with_one_name_are_refused(fake_simulation):
    with pytest.raises(ValueError, match="share a name"):
        CosteerServer([fake_simulation()], port=0, transports=[LineTransport, LineTransport])
