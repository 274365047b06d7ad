"""Server test helpers: a fast fake simulation and a small synchronous NanoVer client."""

from __future__ import annotations

import collections
import itertools
import math
import threading
import time
from typing import Any, Callable

import msgpack
import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect

from costeer.core import keys
from costeer.core.frame import merge_frames


class FakeSimulation:
    """A Simulation without OpenMM: ``particle_count`` atoms drifting by 0.001 nm a frame."""

    def __init__(self, name: str = "fake", particle_count: int = 5) -> None:
        self.name = name
        self.particle_count = particle_count
        self.interactions: dict = {}
        self.advances = 0
        self.loaded = False
        self._time = 0.0

    def load(self) -> None:
        self.loaded = True

    def reset(self) -> dict[str, Any]:
        self._time = 0.0
        return {
            keys.PARTICLE_COUNT: self.particle_count,
            keys.PARTICLE_ELEMENTS: np.full(self.particle_count, 6, dtype=np.uint8),
            keys.PARTICLE_POSITIONS: np.zeros((self.particle_count, 3), dtype=np.float32),
            keys.SIMULATION_TIME: 0.0,
        }

    def advance(self, seconds: float) -> dict[str, Any]:
        self.advances += 1
        self._time += 0.01
        positions = np.full((self.particle_count, 3), self.advances * 0.001, dtype=np.float32)
        return {keys.PARTICLE_POSITIONS: positions, keys.SIMULATION_TIME: self._time}

    def set_interactions(self, interactions) -> None:
        self.interactions = dict(interactions)


class NanoverTestClient:
    """A synchronous WebSocket client that keeps the merged frame and state it received."""

    def __init__(self, url: str, *, max_kept: int | None = None) -> None:
        self.connection: ClientConnection = connect(url, max_size=None, compression=None, close_timeout=1).__enter__()
        self.frame: dict[str, Any] = {}
        self.frames: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_kept)
        self.frame_count = 0
        self.state: dict[str, Any] = {}
        self.state_changes: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    @property
    def last_index(self) -> int:
        """``frame.index`` of the last frame received (the merged frame keeps 0 after a reset)."""
        return self.frames[-1][keys.FRAME_INDEX] if self.frames else -1

    def send(self, message: Any) -> None:
        self.connection.send(msgpack.packb(message, use_bin_type=True))

    def send_raw(self, data: bytes | str) -> None:
        self.connection.send(data)

    def update_state(self, updates: dict[str, Any], removals: list[str] = ()) -> None:
        self.send({"state": {"updates": updates, "removals": list(removals)}})

    def receive(self, timeout: float = 5.0) -> bool:
        """Receive one message; False on timeout."""
        try:
            data = self.connection.recv(timeout=timeout)
        except TimeoutError:
            return False
        message = msgpack.unpackb(data)
        if "frame" in message:
            self.frames.append(message["frame"])
            self.frame_count += 1
            self.frame = merge_frames(self.frame, message["frame"])
        if "state" in message:
            change = message["state"]
            self.state_changes.append(change)
            self.state.update(change["updates"])
            for key in change["removals"]:
                self.state.pop(key, None)
        if "command" in message:
            command = message["command"]
            if "response" in command or "exception" in command:
                self.replies[command["request"]["id"]] = command
            else:
                self.requests.append(command)
        return True

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout} s; state keys: {sorted(self.state)}")
            self.receive(timeout=remaining)

    def request(self, name: str, arguments: dict[str, Any] | None = None, *, timeout: float = 10.0) -> dict[str, Any]:
        """Run a command; returns the reply ({"request", "response"} or {"request", "exception"})."""
        request_id = next(self._ids)
        self.send({"command": {"request": {"name": name, "arguments": arguments or {}, "id": request_id}}})
        self.wait_for(lambda: request_id in self.replies, timeout)
        return self.replies.pop(request_id)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def fake_simulation() -> type[FakeSimulation]:
    return FakeSimulation


@pytest.fixture
def connect_client():
    clients: list[NanoverTestClient] = []

    def make(url: str, **options: Any) -> NanoverTestClient:
        client = NanoverTestClient(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.close()
        except Exception:
            pass


def spring(position=(1.0, 0.0, 0.0), particles=(0,), **extra) -> dict[str, Any]:
    return {"position": list(position), "particles": list(particles), "interaction_type": "spring",
            "scale": 100.0, "mass_weighted": True, "reset_velocities": False, "max_force": math.inf, **extra}


@pytest.fixture
def make_spring():
    return spring


@pytest.fixture
def self_signed(tmp_path) -> tuple["ssl.SSLContext", "ssl.SSLContext"]:
    """(server context, client context trusting it) of a certificate for 127.0.0.1 made for the
    test; the certificate file is ``tmp_path / "cert.pem"``."""
    from costeer.server.tls import TlsCredentials, client_context, make_self_signed

    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_self_signed(cert_path, key_path, hosts=["127.0.0.1"])
    return TlsCredentials.load(cert_path, key_path).server_context(), client_context(cert_path)
