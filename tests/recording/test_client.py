"""record_server: records what a NanoVer-like WebSocket server pushes."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

import msgpack
import pytest
from websockets.sync.server import ServerConnection, serve

from costeer.recording.client import record_server
from costeer.recording.reader import RecordingReader


def _serving(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def finite_server(make_frame) -> Iterator[str]:
    def handler(connection: ServerConnection) -> None:
        connection.send(msgpack.packb({"frame": make_frame(0)}))
        connection.send(msgpack.packb({"state": {"updates": {"simulation.name": "toy"}, "removals": []}}))
        connection.send(msgpack.packb({"command": {"request": {"name": "x"}}}))  # not recorded
        connection.send(b"\xc1 not msgpack")  # ignored
        connection.send("a text message")  # ignored
        for index in range(1, 11):
            connection.send(msgpack.packb({"frame": make_frame(index)}))
            time.sleep(0.01)
        connection.close()

    yield from _serving(handler)


@pytest.fixture
def endless_server(make_frame) -> Iterator[str]:
    def handler(connection: ServerConnection) -> None:
        index = 0
        try:
            while True:
                connection.send(msgpack.packb({"frame": make_frame(index)}))
                index += 1
                time.sleep(1 / 30)
        except Exception:
            pass

    yield from _serving(handler)


def test_records_until_the_server_closes(tmp_path, finite_server):
    path = tmp_path / "remote.nanover.zip"
    result = record_server(finite_server, path)
    assert (result.frames, result.states) == (11, 1)
    with RecordingReader(path) as reader:
        assert [entry.types for entry in reader.entries][:2] == [("frame", "state"), ("state",)]  # see write_raw
        frames = list(reader.frames())
        assert list(reader.states())[-1].state == {"simulation.name": "toy"}
    assert [frame["frame.index"] for _, frame in frames] == list(range(11))
    assert frames[-1].frame["particle.elements"].tolist() == [6] * 5


def test_stops_after_duration(tmp_path, endless_server):
    path = tmp_path / "remote.nanover.zip"
    started = time.monotonic()
    result = record_server(endless_server, path, duration=0.6)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 30 and result.frames >= 1  # the server never stops: only the duration ended it
    assert result.frames <= 30 * elapsed + 2  # nothing after the end (the server sends 30 frames/s at most)
    with RecordingReader(path) as reader:
        assert reader.frame_count == result.frames
        assert reader.entries[-1].timestamp_us <= elapsed * 1e6


def test_unreachable_server_is_a_clear_error(tmp_path, free_port):
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{free_port}"):
        record_server(f"ws://127.0.0.1:{free_port}", tmp_path / "x.nanover.zip")
    assert not (tmp_path / "x.nanover.zip").exists()


@pytest.mark.slow
def test_records_nanovers_own_server(tmp_path, nanover_python, nanover_side, nanotube_xml, nanover_read):
    import json
    import subprocess

    server = subprocess.Popen(
        [str(nanover_python), str(nanover_side / "nanover_server.py"), "--omm", str(nanotube_xml), "--platform", "Reference"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = json.loads(server.stdout.readline())["url"]
        path = tmp_path / "nanover-server.nanover.zip"
        result = record_server(url, path, duration=2.0)
    finally:
        server.stdin.close()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert 30 <= result.frames <= 70 and result.states >= 1
    with RecordingReader(path) as reader:
        frames = list(reader.frames())
        state = list(reader.states())[-1].state
    assert frames[0].frame["particle.positions"].shape == (65, 3)
    assert state["simulation.name"] == "nanotube"
    seen = nanover_read(path)
    assert len(seen["frames"]) == len(frames) and seen["trajectories"] == 1
