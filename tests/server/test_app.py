"""CosteerServer end to end over WebSocket with fake simulations (no OpenMM)."""

from __future__ import annotations

import json
import math
import socket
import time
import zipfile

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from costeer.core import keys
from costeer.server.app import CosteerServer
from costeer.server.discovery import ESSD_PORT
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

USER = "929680e7-b96d-4ead-9878-1f56462ab669"


def drift(frame) -> float:
    """The fake simulation's position value in a packed frame: 0.001 nm per advance."""
    return float(np.frombuffer(frame[keys.PARTICLE_POSITIONS], dtype=np.float32)[0])


@pytest.fixture
def server(fake_simulation):
    sims = [fake_simulation("alpha", 5), fake_simulation("beta", 7)]
    with CosteerServer(sims, port=0, frame_rate=60.0, session_info={"server": "costeer-test", "labels": {"a": "b"}}) as srv:
        yield srv


@pytest.fixture
def client(server, connect_client):
    return connect_client(f"ws://127.0.0.1:{server.port}")


def test_connect_gets_a_full_frame_and_the_server_state(client):
    client.wait_for(lambda: client.frames and client.state.get("simulation.name") == "alpha")
    first = client.frames[0]
    assert first[keys.FRAME_INDEX] == 0
    assert first[keys.PARTICLE_COUNT] == 5
    assert np.frombuffer(first[keys.PARTICLE_ELEMENTS], dtype=np.uint8).tolist() == [6] * 5
    assert len(first[keys.PARTICLE_POSITIONS]) == 5 * 3 * 4
    assert client.state["simulation.index"] == 0
    assert client.state["imd.velocity_reset_available"] is False
    assert client.state["costeer.session"] == {"server": "costeer-test", "labels": {"a": "b"}}
    client.wait_for(lambda: client.last_index > 3)
    assert client.frame[keys.FRAME_INDEX] == 0  # a merged view keeps the reset; deltas follow


def test_playback_commands(server, client):
    listing = client.request("commands/list")["response"]
    for name in ("playback/play", "playback/pause", "playback/step", "playback/reset", "playback/list",
                 "playback/load", "playback/next", "multiuser/radially-orient-origins", "commands/list"):
        assert name in listing["list"]
        assert {"name": name, "arguments": {}} in listing["commands"]
    assert client.request("playback/list")["response"] == {"simulations": ["alpha", "beta"]}

    client.request("playback/pause")
    wait_until(lambda: server.runner.is_paused)
    advances = server.runner.simulation.advances
    time.sleep(0.3)  # room for a runner that ignored the pause to advance ~18 frames
    client.request("playback/step")
    stepped = np.float32((advances + 1) * 0.001)
    client.wait_for(lambda: keys.PARTICLE_POSITIONS in client.frames[-1] and drift(client.frames[-1]) == stepped)
    # nothing ran while paused but the step, and every frame since the pause came before it
    assert server.runner.simulation.advances == advances + 1 and server.runner.is_paused
    assert [frame for frame in client.frames if keys.PARTICLE_POSITIONS in frame and drift(frame) > stepped] == []

    counter = client.frame[keys.SIMULATION_COUNTER]
    client.request("playback/reset")
    # NanoVer's reset: a clear (frame.index 0, next counter), then the full frame.
    client.wait_for(lambda: client.frame[keys.SIMULATION_COUNTER] == counter + 1 and keys.SIMULATION_TIME in client.frame)
    assert client.frame[keys.SIMULATION_TIME] == 0.0

    client.request("playback/load", {"index": 1})
    client.wait_for(lambda: client.state.get("simulation.name") == "beta" and client.frame.get(keys.PARTICLE_COUNT) == 7)
    assert client.state["simulation.index"] == 1
    client.request("playback/next")
    client.wait_for(lambda: client.state.get("simulation.name") == "alpha")


def test_unknown_command_and_bad_arguments_get_exceptions(client):
    reply = client.request("playback/fly")
    assert "unknown command 'playback/fly'" in reply["exception"] and "playback/play" in reply["exception"]
    reply = client.request("playback/load", {"index": "one"})
    assert "index must be a whole number" in reply["exception"]
    reply = client.request("playback/load", {"colour": 1})
    assert "unsuitable arguments" in reply["exception"]


def test_valid_interaction_reaches_the_simulation_and_leaves_with_its_client(server, client, connect_client, make_spring):
    other = connect_client(f"ws://127.0.0.1:{server.port}")
    client.update_state({
        f"avatar.{USER}": {"components": []},
        f"cursor.{USER}.left": {},
        f"update.index.{USER}": 1,
        "interaction.grab": make_spring(particles=[2], **{"owner.id": USER, "label": "hand.right"}),
        "scene": [1.0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
    })
    other.wait_for(lambda: "interaction.grab" in other.state and "transform.simulation" in other.state)
    simulation = server.runner.simulation
    grab = wait_until(lambda: simulation.interactions.get("interaction.grab"), 5, what="the grab reaching the simulation")
    assert grab.particles.tolist() == [2]
    assert other.state["transform.simulation"] == {"transform": [1.0, 0, 0, 0, 0, 0, 1, -1, 1, 1], "parent": "root"}

    client.close()
    other.wait_for(lambda: "interaction.grab" not in other.state and f"avatar.{USER}" not in other.state)
    assert f"cursor.{USER}.left" not in other.state and f"update.index.{USER}" not in other.state
    assert "scene" in other.state and "simulation.name" in other.state
    wait_until(lambda: simulation.interactions == {}, 5, what="the grab leaving the simulation")


def test_bad_input_never_stops_the_server_or_other_clients(server, client, connect_client, make_spring):
    watcher = connect_client(f"ws://127.0.0.1:{server.port}")
    watcher.wait_for(lambda: watcher.frames)
    bad_interactions = {
        "interaction.nan": make_spring(position=[math.nan, 0, 0]),
        "interaction.inf-scale": make_spring(scale=math.inf),
        "interaction.negative": make_spring(particles=[-1]),
        "interaction.range": make_spring(particles=[5]),
        "interaction.type": make_spring(interaction_type="tractor"),
        "interaction.not-a-map": "pull!",
    }
    client.send_raw(b"\xc1 not msgpack")
    client.send_raw("a text message")
    client.send({"state": [1, 2, 3]})
    client.send({"state": {"updates": {"a": 1}, "removals": "everything"}})
    client.send({"command": {"request": {"name": 3, "id": "nameless"}}})  # answered with an exception
    client.send({"frame": {keys.FRAME_INDEX: 0}})
    client.update_state(bad_interactions)
    client.update_state({f"interaction.flood{i}": make_spring() for i in range(5000)})
    reply = client.request("no/such/command")
    assert "unknown command" in reply["exception"]

    client.wait_for(lambda: any(key.startswith("interaction.flood") for key in client.state))
    stored = [key for key in client.state if key.startswith("interaction.")]
    assert not set(stored) & set(bad_interactions)
    assert len(stored) == 64  # the per-client cap
    assert all(math.isfinite(s.scale) for s in server.runner.simulation.interactions.values())

    client.send_raw(b"\x00" * (17 * 1024 * 1024))  # over the 16 MiB limit: the server closes this client
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            client.receive(timeout=5)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009

    index = watcher.last_index
    watcher.wait_for(lambda: watcher.last_index > index + 5)
    watcher.wait_for(lambda: not any(key.startswith("interaction.") for key in watcher.state))
    assert watcher.request("playback/list")["response"] == {"simulations": ["alpha", "beta"]}


def test_client_registered_command_round_trip(server, client, connect_client):
    provider = connect_client(f"ws://127.0.0.1:{server.port}")
    provider.send({"command": {"register": {"name": "custom/hello", "arguments": {"who": "world"}}}})
    client.wait_for(lambda: "custom/hello" in client.request("commands/list")["response"]["list"])
    request_id = 42
    client.send({"command": {"request": {"name": "custom/hello", "arguments": {"who": "you"}, "id": request_id}}})
    provider.wait_for(lambda: provider.requests)
    forwarded = provider.requests[0]["request"]
    assert forwarded["name"] == "custom/hello" and forwarded["arguments"] == {"who": "you"}
    provider.send({"command": {"request": forwarded, "response": {"hello": "you"}}})
    client.wait_for(lambda: request_id in client.replies)
    assert client.replies[request_id]["response"] == {"hello": "you"}
    provider.close()
    client.wait_for(lambda: "custom/hello" not in client.request("commands/list")["response"]["list"])


def test_radially_orient_origins(client):
    client.update_state({"avatar.a": {}, "avatar.b": {}})
    client.wait_for(lambda: "avatar.b" in client.state)
    client.request("multiuser/radially-orient-origins", {"radius": 2})
    client.wait_for(lambda: "user-origin.a" in client.state and "user-origin.b" in client.state)
    assert client.state["user-origin.a"]["position"] == pytest.approx([2, 0, 0])
    assert client.state["user-origin.b"]["position"] == pytest.approx([-2, 0, 0], abs=1e-12)


def test_load_clears_interactions_and_selections(server, client, make_spring):
    client.update_state({"interaction.x": make_spring(), "selection.s": {"name": "s"}, "scene": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]})
    client.wait_for(lambda: "interaction.x" in client.state and "selection.s" in client.state)
    client.request("playback/load", {"index": 1})
    client.wait_for(lambda: "interaction.x" not in client.state and "selection.s" not in client.state)
    assert "scene" in client.state


def test_port_in_use_says_so(server, fake_simulation):
    other = CosteerServer([fake_simulation()], port=server.port)
    with pytest.raises(OSError, match="choose another --port"):
        other.start()


def test_recording_holds_frames_and_state(fake_simulation, connect_client, tmp_path):
    path = tmp_path / "session.nanover.zip"
    with CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, record=path,
                       session_info={"labels": {"run": "t"}}) as server:
        client = connect_client(f"ws://127.0.0.1:{server.port}")
        client.update_state({"avatar.u": {"components": []}})
        client.wait_for(lambda: "avatar.u" in client.state and client.last_index > 5)
    with zipfile.ZipFile(path) as archive:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(archive.read("messages.msgpack"))
        messages = list(unpacker)
    frames = [m["frame"] for m in messages if "frame" in m]
    updates = {key for m in messages if "state" in m for key in m["state"]["updates"]}
    assert frames[0][keys.FRAME_INDEX] == 0 and len(frames) >= 2
    assert {"simulation.name", "costeer.session", "avatar.u"} <= updates


def test_discovery_announces_the_websocket_port(fake_simulation):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", ESSD_PORT))
        listener.settimeout(5)
        with CosteerServer([fake_simulation()], port=0, discovery=True, name="lab server") as server:
            while True:
                hub = json.loads(listener.recv(2048))
                if hub["name"] == "lab server":
                    break
    assert hub["services"] == {"ws": server.port} and hub["address"] == "127.0.0.1"


def test_unsendable_server_state_is_dropped_not_fatal(server, client):
    client.wait_for(lambda: client.frames)
    server.state.update({"weird": object()})
    server.state.update({"fine": 1})
    count = client.frame_count
    client.wait_for(lambda: client.state.get("fine") == 1 and client.frame_count > count + 3)
    assert "weird" not in client.state


def test_close_with_a_half_open_connection_still_finishes_the_recording(fake_simulation, tmp_path):
    from costeer.recording.format import journal_path
    from costeer.recording.reader import RecordingReader

    path = tmp_path / "session.nanover.zip"
    server = CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, record=path)
    server.start()
    wait_until(lambda: server.runner.frames_published >= 2)
    half_open = socket.create_connection(("127.0.0.1", server.port))  # never sends the handshake
    try:
        server.close()
    finally:
        half_open.close()
    assert not journal_path(path).exists()
    with RecordingReader(path) as reader:
        assert reader.frame_count >= 1


def test_a_failing_component_does_not_leave_the_recording_unfinished(fake_simulation, tmp_path):
    from costeer.recording.format import journal_path

    path = tmp_path / "session.nanover.zip"
    server = CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, record=path)
    server.start()
    wait_until(lambda: server.runner.frames_published >= 2)
    real_close = server.transports[0].close

    def failing_close():
        real_close()
        raise RuntimeError("boom")

    server.transports[0].close = failing_close
    with pytest.raises(RuntimeError, match="boom"):
        server.close()
    assert not journal_path(path).exists() and server.state.update({"x": 1}) == {}


def test_a_recording_stopped_by_a_full_disk_is_told_finished_at_once_and_once(fake_simulation, tmp_path, monkeypatch):
    from costeer.recording.writer import RecordingWriter

    told: list[tuple[str, dict]] = []
    real_write = RecordingWriter.write_raw

    def write_until_full(writer, data, metadata):
        if writer.messages_written >= 5:
            raise OSError(28, "No space left on device")
        real_write(writer, data, metadata)

    monkeypatch.setattr(RecordingWriter, "write_raw", write_until_full)
    with CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, record=tmp_path / "s.nanover.zip") as server:
        server.recording_listeners.append(lambda event, details: told.append((event, dict(details))))
        wait_until(lambda: [event for event, _ in told] == ["finished"], what="the recording told finished while serving")
        assert "No space left on device" in told[0][1]["error"]
        frames = server.runner.frames_published
        wait_until(lambda: server.runner.frames_published > frames + 2, what="the session going on unrecorded")
    assert [event for event, _ in told] == ["finished"]


def test_a_slow_load_does_not_hold_up_other_clients_commands(fake_simulation, connect_client):
    import threading

    loading = threading.Event()
    release = threading.Event()

    class SlowToLoad(fake_simulation):
        def load(self) -> None:
            loading.set()
            release.wait(10)
            super().load()

    with CosteerServer([fake_simulation("alpha"), SlowToLoad("slow")], port=0, frame_rate=60.0) as server:
        loader = connect_client(f"ws://127.0.0.1:{server.port}")
        other = connect_client(f"ws://127.0.0.1:{server.port}")
        loader.send({"command": {"request": {"name": "playback/load", "arguments": {"index": 1}, "id": 99}}})
        assert loading.wait(10)
        # answered while the load is still held (it is released only below, or after 10 s)
        assert other.request("playback/list", timeout=8)["response"] == {"simulations": ["alpha", "slow"]}
        assert not release.is_set() and 99 not in loader.replies  # the load answers once the switch is done
        release.set()
        loader.wait_for(lambda: 99 in loader.replies)
        assert "exception" not in loader.replies[99]
        assert server.runner.index == 1
