"""Events test helpers: a real mosquitto on a free loopback port, and a subscriber that keeps what it hears.

    def test_x(mosquitto, mqtt_log):
        log = mqtt_log(mosquitto.port)          # subscribed to costeer/# once it returns
        ...
        message = log.wait_for(lambda m: m.kind == "metrics")
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from costeer.events import SCHEMA_PATH
from tests.waiting import first_arrival

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    """A mosquitto broker process on 127.0.0.1:``port``; ``stop`` and ``start`` again to restart it."""

    def __init__(self, folder: Path, port: int) -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed: run `make setup-mosquitto` (part of `make test`)")
        self.port = port
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None, "already running"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 20 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.fixture
def mosquitto_port() -> int:
    return free_port()


@pytest.fixture
def mosquitto(tmp_path: Path, mosquitto_port: int) -> Iterator[Mosquitto]:
    """A running mosquitto on a free loopback port, stopped after the test."""
    broker = Mosquitto(tmp_path, mosquitto_port)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def stopped_mosquitto(tmp_path: Path, mosquitto_port: int) -> Iterator[Mosquitto]:
    """A mosquitto configured on a free port but not started (``start()`` it in the test)."""
    broker = Mosquitto(tmp_path, mosquitto_port)
    yield broker
    broker.stop()


@dataclass
class Message:
    topic: str
    payload: dict[str, Any]
    received: float

    @property
    def kind(self) -> str:
        return self.payload.get("kind", "")


class MessageLog:
    """Subscribes to ``costeer/#`` from its own thread (reconnecting) and keeps every message."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Message] = []
        self.raw: list[tuple[str, bytes]] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        self.subscriptions = 0
        """How many times it has (re)subscribed."""
        self._stop = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._subscribed.wait(20):
            raise RuntimeError(f"could not subscribe to the broker on port {port}")

    async def _main(self) -> None:
        import aiomqtt

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        while not self._stop:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, timeout=5) as client:
                    await client.subscribe("costeer/#")
                    self.subscriptions += 1
                    self._subscribed.set()
                    async for message in client.messages:
                        self._keep(str(message.topic), bytes(message.payload))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                return

    def _keep(self, topic: str, payload: bytes) -> None:
        with self._condition:
            self.raw.append((topic, payload))
            self.messages.append(Message(topic, json.loads(payload), time.monotonic()))
            self._condition.notify_all()

    def of(self, kind: str) -> list[Message]:
        with self._condition:
            return [message for message in self.messages if message.kind == kind]

    def wait_for(self, probe: Callable[[Message], bool], *, timeout: float = 30.0, after: int = 0) -> Message:
        """The first message (from index ``after``) for which ``probe`` holds; waits for it."""
        return first_arrival(
            self.messages, self._condition, probe, after=after, timeout=timeout,
            what=lambda: f"no such message within {timeout} s; the last ones: {[m.kind for m in self.messages[-30:]]}",
        )

    def close(self) -> None:
        self._stop = True
        if self._loop is not None and self._task is not None:
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:
                pass
        self._thread.join(10)


@pytest.fixture
def mqtt_log() -> Iterator[Callable[[int], MessageLog]]:
    """``mqtt_log(port)``: a subscriber to ``costeer/#`` on 127.0.0.1:port; closed after the test."""
    logs: list[MessageLog] = []

    def open_log(port: int) -> MessageLog:
        log = MessageLog(port)
        logs.append(log)
        return log

    yield open_log
    for log in logs:
        log.close()


@pytest.fixture(scope="session")
def event_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture
def assert_valid(event_schema: dict[str, Any]) -> Callable[[list[Message]], None]:
    """Check messages against the schema, and each topic against its payload's kind and server."""
    validator = jsonschema.Draft202012Validator(event_schema)

    def check(messages: list[Message]) -> None:
        assert messages, "no messages to check"
        for message in messages:
            errors = sorted(validator.iter_errors(message.payload), key=lambda error: error.path)
            assert not errors, f"{message.topic}: {message.payload}\n{[e.message for e in errors[:5]]}"
            assert message.topic == f"costeer/{message.payload['server']}/{message.kind}"

    return check


class BlackHole:
    """A TCP listener that accepts connections and never answers nor reads: a broker that hangs."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()
