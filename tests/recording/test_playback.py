"""RecordingPlayback: replays frames in real time and state through the sink, then loops."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.recording.format import RecordingError
from costeer.recording.playback import SCENE_IDENTITY, RecordingPlayback
from costeer.recording.writer import RecordingWriter


@pytest.fixture
def toy_recording(tmp_path, make_frame):
    """An empty first frame, then frames every 100 ms (0 ... 900 ms) and two state changes."""
    path = tmp_path / "toy.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"frame": {"frame.index": 0}}, timestamp_us=0)
        for index in range(10):
            frame = dict(make_frame(index))
            frame["server.timestamp"] = 5.0 + index
            writer.write({"frame": frame}, timestamp_us=index * 100_000)
            if index in (2, 5):
                writer.write({"state": {"updates": {f"avatar.{index}": index}, "removals": []}}, timestamp_us=index * 100_000 + 1)
    return path


def test_reset_returns_the_first_full_frame_and_cleans_state(toy_recording, make_frame):
    changes = []
    playback = RecordingPlayback(toy_recording, state_sink=lambda updates, removals: changes.append((updates, removals)))
    assert playback.name == "toy"
    playback.load()
    first = playback.reset()
    assert "frame.index" not in first and "server.timestamp" not in first
    assert first["particle.count"] == 5
    assert first["system.simulation.name"] == "toy"
    np.testing.assert_array_equal(first["particle.positions"].tobytes(), make_frame(0)["particle.positions"])
    assert changes == [({"scene": SCENE_IDENTITY}, ["avatar.2", "avatar.5"])]


def test_advance_follows_recorded_time(toy_recording, make_frame):
    changes = []
    playback = RecordingPlayback(toy_recording, state_sink=lambda updates, removals: changes.append(updates))
    playback.load()
    playback.reset()
    assert playback.advance(0.05) is None
    delta = playback.advance(0.06)  # now at 110 ms: frame 1
    assert set(delta) == {"particle.positions"}
    assert delta["particle.positions"].tobytes() == make_frame(1)["particle.positions"]
    merged = playback.advance(0.3)  # 410 ms: frames 2, 3, 4 merged, avatar.2 on the way
    assert merged["particle.positions"].tobytes() == make_frame(4)["particle.positions"]
    assert changes[-1] == {"avatar.2": 2}
    playback.set_interactions({})  # ignored


def test_loops_at_the_end_like_nanover(toy_recording):
    changes = []
    playback = RecordingPlayback(toy_recording, state_sink=lambda updates, removals: changes.append(removals))
    playback.load()
    playback.reset()
    assert playback.advance(10.0) is not None  # the rest of the recording
    restarted = playback.advance(1 / 30)
    assert restarted["frame.index"] == 0  # a new frame sequence
    assert restarted["particle.count"] == 5
    assert changes[-1] == ["avatar.2", "avatar.5"]


def test_stops_at_the_end_without_loop(toy_recording):
    playback = RecordingPlayback(toy_recording, loop=False)
    playback.load()
    playback.reset()
    playback.advance(10.0)
    assert playback.advance(1.0) is None


def test_real_session_plays_in_real_time(recordings):
    changes = []
    playback = RecordingPlayback(recordings["nanotube-methane-01"], state_sink=lambda u, r: changes.append(u))
    playback.load()
    first = playback.reset()
    assert first["particle.positions"].shape == (65, 3)
    assert first["bond.pairs"].shape == (88, 2)
    deltas = [playback.advance(1 / 30) for _ in range(60)]  # 2 s of playback
    frames = [delta for delta in deltas if delta is not None]
    assert 50 <= len(frames) <= 62
    assert all("forces.user.index" in frame for frame in frames)
    assert any(key.startswith("avatar.") for update in changes for key in update)
    playback.close()


def test_recording_without_frames_cannot_play(tmp_path):
    path = tmp_path / "empty.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {"a": 1}, "removals": []}})
    playback = RecordingPlayback(path)
    playback.load()
    with pytest.raises(RecordingError, match="no frame"):
        playback.reset()


def test_the_live_servers_own_keys_are_never_replayed_nor_removed(tmp_path, make_frame):
    path = tmp_path / "served.nanover.zip"
    server_owned = {"costeer.session": {"server": "old"}, "simulation.name": "old", "simulation.index": 3,
                    "imd.velocity_reset_available": True}
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {**server_owned, "avatar.u": 1}, "removals": []}}, timestamp_us=0)
        writer.write({"frame": dict(make_frame(0))}, timestamp_us=1)
        writer.write({"state": {"updates": {"avatar.u": 2}, "removals": ["simulation.name"]}}, timestamp_us=2)
    changes = []
    playback = RecordingPlayback(path, state_sink=lambda updates, removals: changes.append((updates, removals)))
    playback.load()
    playback.reset()
    playback.advance(1.0)
    assert changes == [({"scene": SCENE_IDENTITY}, ["avatar.u"]), ({"avatar.u": 1}, []), ({"avatar.u": 2}, [])]


def test_every_key_read_only_to_clients_is_left_out_of_the_replay_recovery_notices_included(tmp_path, make_frame):
    from costeer.server.ownership import KeyOwnership

    path = tmp_path / "recovered.nanover.zip"
    read_only = sorted(KeyOwnership().server_keys)
    assert "costeer.recovery" in read_only
    with RecordingWriter(path) as writer:
        writer.write({"frame": dict(make_frame(0))}, timestamp_us=0)
        writer.write({"state": {"updates": {key: "old" for key in read_only} | {"avatar.u": 1}, "removals": []}},
                     timestamp_us=1)
    changes = []
    playback = RecordingPlayback(path, state_sink=lambda updates, removals: changes.append((updates, removals)))
    playback.load()
    playback.reset()
    playback.advance(1.0)
    assert changes == [({"scene": SCENE_IDENTITY}, ["avatar.u"]), ({"avatar.u": 1}, [])]


def test_seek_jumps_at_the_next_frame_with_the_state_replayed_up_to_there(toy_recording, make_frame):
    changes = []
    playback = RecordingPlayback(toy_recording, state_sink=lambda updates, removals: changes.append((updates, removals)))
    playback.load()
    playback.reset()
    assert playback.seek() == {"time": 0.0, "duration": 0.9}
    assert playback.seek(0.55) == {"time": 0.55, "duration": 0.9}
    jumped = playback.advance(1 / 30)
    assert jumped["frame.index"] == 0 and jumped["particle.count"] == 5  # a full frame, clients start afresh
    assert jumped["particle.positions"].tobytes() == make_frame(5)["particle.positions"]
    assert changes[-2:] == [({"avatar.2": 2}, []), ({"avatar.5": 5}, [])]
    assert playback.seek()["time"] == pytest.approx(0.55)
    assert playback.advance(0.1)["particle.positions"].tobytes() == make_frame(6)["particle.positions"]


@pytest.mark.parametrize(("asked", "went"), [(-3, 0.0), (99, 0.9)])
def test_seek_stays_within_the_recording(toy_recording, asked, went):
    playback = RecordingPlayback(toy_recording)
    playback.load()
    assert playback.seek(asked)["time"] == went


@pytest.mark.parametrize("bad", ["1", True, float("nan"), [1]])
def test_seek_refuses_what_is_not_a_time(toy_recording, bad):
    from costeer.server.commands import CommandError

    playback = RecordingPlayback(toy_recording)
    with pytest.raises(CommandError, match="not open"):
        playback.seek(1.0)
    playback.load()
    with pytest.raises(CommandError, match="seconds"):
        playback.seek(bad)
