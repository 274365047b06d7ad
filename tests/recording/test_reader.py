"""RecordingReader on the real sessions in ../shared/data/recordings and on bad files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from costeer.recording.format import NotARecordingError, RecordingError, TruncatedRecordingError
from costeer.recording.reader import RecordingReader, normalize_frame
from costeer.recording.writer import RecordingWriter
from tests.recording.conftest import damage_index

EXPECTED = {
    # name: (index entries, frame messages, state messages, full frames, frames with a user force)
    "nanotube-example": (930, 930, 0, 929, 350),
    "nanotube-methane-01": (588, 326, 262, 326, 211),
    "nanotube-methane-02": (1079, 598, 481, 598, 485),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_real_recordings(recordings, name):
    entries, frame_messages, state_messages, full_frames, user_frames = EXPECTED[name]
    with RecordingReader(recordings[name]) as reader:
        assert (len(reader), reader.frame_count, reader.state_count) == (entries, frame_messages, state_messages)
        frames = list(reader.frames())
        states = list(reader.states())
    assert len(frames) == full_frames
    assert len(states) == state_messages
    stamps = [frame.timestamp_us for frame in frames]
    assert stamps == sorted(stamps)
    for _, frame in (frames[0], frames[-1]):
        assert frame["particle.count"] == 65
        assert frame["particle.positions"].shape == (65, 3)
        assert frame["particle.positions"].dtype == np.float32
        assert frame["particle.elements"].shape == (65,)
        assert frame["bond.pairs"].shape == (88, 2)  # the example stores each bond twice
    with_force = [frame for _, frame in frames if len(frame["forces.user.index"])]
    assert len(with_force) == user_frames
    assert all(frame["forces.user.index"].tolist() == [60] for frame in with_force)
    assert all(frame["forces.user.sparse"].shape == (1, 3) for frame in with_force)


def test_example_variant_lists_reset_counter_and_empty_first_frame(recordings):
    with RecordingReader(recordings["nanotube-example"]) as reader:
        first_message = next(reader.messages()).message
        frames = list(reader.frames())
    assert first_message == {"frame": {"frame.index": 0}}  # the empty first frame is skipped
    first = frames[0].frame
    assert first["system.simulation.counter"] == 0  # from system.reset.counter
    assert first["bond.orders"].shape == (88,)  # deduplicated along with the bonds
    assert first["forces.user.index"].dtype == np.uint32  # stored as a list
    assert frames[-1].frame["frame.index"] == 983


def test_methane_session_state(recordings):
    with RecordingReader(recordings["nanotube-methane-01"]) as reader:
        states = list(reader.states())
        assert reader.duration_s == pytest.approx(10.84, abs=0.01)
    first = states[0].state
    assert first["simulation.name"] == "nanotube"
    assert any(key.startswith("avatar.") for key in first)
    interactions = [
        value for _, state in states for key, value in state.items() if key.startswith("interaction.")
    ]
    assert interactions and interactions[0]["particles"] == [60]
    assert interactions[0]["max_force"] == float("inf")
    assert not any(key.startswith("interaction.") for key in states[-1].state)  # removed at the end


def test_duplicate_bonds_are_removed_in_order():
    frame = normalize_frame({"bond.pairs": [0, 1, 1, 0, 1, 2, 2, 1], "bond.orders": [1, 1, 2, 2]})
    assert frame["bond.pairs"].tolist() == [[0, 1], [1, 2]]
    assert frame["bond.orders"].tolist() == [1, 2]


def test_not_a_recording(tmp_path):
    text = tmp_path / "notes.nanover.zip"
    text.write_text("hello")
    with pytest.raises(NotARecordingError, match="notes.nanover.zip"):
        RecordingReader(text)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(NotARecordingError, match="messages.msgpack"):
        RecordingReader(other)


def test_truncated_recording_says_run_repair(tmp_path, make_frame):
    path = tmp_path / "cut.nanover.zip"
    with RecordingWriter(path) as writer:
        for index in range(5):
            writer.write({"frame": make_frame(index)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedRecordingError, match=r"costeer recording repair .*cut.nanover.zip"):
        RecordingReader(path)


def _complete(path, make_frame, count: int = 6):
    with RecordingWriter(path) as writer:
        for index in range(count):
            writer.write({"frame": make_frame(index)})
            writer.write({"state": {"updates": {"n": index}, "removals": []}})
    return path


def test_a_damaged_index_says_run_repair(tmp_path, make_frame):
    path = _complete(tmp_path / "flipped.nanover.zip", make_frame)
    damage_index(path)
    with pytest.raises(TruncatedRecordingError, match=r"flipped.nanover.zip.*index.*costeer recording repair"):
        RecordingReader(path)


def test_a_zip_directory_that_points_nowhere_says_run_repair(tmp_path, make_frame):
    path = _complete(tmp_path / "spliced.nanover.zip", make_frame)
    data = path.read_bytes()
    path.write_bytes(data[:100] + data[400:])  # bytes lost mid-file: the directory's offsets miss
    with pytest.raises(TruncatedRecordingError, match=r"spliced.nanover.zip.*costeer recording repair"):
        RecordingReader(path)


@pytest.mark.parametrize("message", [
    {"state": {"updates": {}, "removals": [{"a map": "as a key"}]}},
    {"state": {"updates": ["not", "a", "map"], "removals": []}},
    {"frame": ["not", "a", "map"]},
    {"frame": {"frame.index": 1, "system.reset.counter": "three"}},
], ids=["removal-not-a-key", "updates-not-a-map", "frame-not-a-map", "counter-not-a-number"])
def test_a_malformed_message_is_refused_naming_where_it_is(tmp_path, make_frame, message):
    path = tmp_path / "odd.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"frame": make_frame(0)})
        writer.write(message)
    with RecordingReader(path) as reader, pytest.raises(RecordingError, match=r"odd.nanover.zip: bad (frame|state change) at offset \d+"):
        list(reader.frames())
        list(reader.states())
