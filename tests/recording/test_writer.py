"""RecordingWriter: NanoVer's layout, timestamps, the journal, and a round trip through our reader."""

from __future__ import annotations

import zipfile

import msgpack
import numpy as np
import pytest

from costeer.recording.format import journal_path
from costeer.recording.reader import RecordingReader
from costeer.recording.writer import RecordingWriter


def test_layout_is_nanovers(tmp_path, make_frame):
    path = tmp_path / "a.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"frame": make_frame(0)}, timestamp_us=10)
        writer.write({"state": {"updates": {"k": 1}, "removals": []}}, timestamp_us=20)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == ["messages.msgpack", "index.msgpack"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)
        index = msgpack.unpackb(archive.read("index.msgpack"))
        messages = archive.read("messages.msgpack")
    # the first entry always lists both kinds, whatever it holds: see RecordingWriter.write_raw
    assert index[0]["metadata"] == {"types": ["frame", "state"], "frame.index": 0, "timestamp": 10}
    assert index[1]["metadata"] == {"types": ["state"], "timestamp": 20}
    assert index[1]["offset"] == index[0]["length"]
    second = msgpack.unpackb(messages[index[1]["offset"] : index[1]["offset"] + index[1]["length"]])
    assert second == {"state": {"updates": {"k": 1}, "removals": []}}
    assert not journal_path(path).exists()


def test_default_timestamps_are_microseconds_since_start(tmp_path, make_frame):
    path = tmp_path / "a.nanover.zip"
    with RecordingWriter(path) as writer:
        for index in range(3):
            writer.write({"frame": make_frame(index)})
    with RecordingReader(path) as reader:
        stamps = [entry.timestamp_us for entry in reader.entries]
    assert stamps == sorted(stamps)
    assert 0 <= stamps[0] < 1_000_000


def test_round_trip(tmp_path, make_frame):
    path = tmp_path / "a.nanover.zip"
    sent = [make_frame(index) for index in range(20)]
    with RecordingWriter(path) as writer:
        for index, frame in enumerate(sent):
            writer.write({"frame": frame}, timestamp_us=index * 1000)
            if index % 5 == 0:
                writer.write({"state": {"updates": {f"key.{index}": index}, "removals": []}}, timestamp_us=index * 1000)
        writer.write({"state": {"updates": {}, "removals": ["key.0"]}}, timestamp_us=99_000)
    with RecordingReader(path) as reader:
        assert (reader.frame_count, reader.state_count) == (20, 5)
        assert [message for _, message in reader.messages()][0] == {"frame": sent[0]}
        frames = list(reader.frames())
        states = list(reader.states())
    assert len(frames) == 20
    last = frames[-1].frame
    expected = np.frombuffer(sent[-1]["particle.positions"], "<f4").reshape(-1, 3)
    np.testing.assert_array_equal(last["particle.positions"], expected)
    assert last["particle.elements"].tolist() == [6] * 5
    assert last["frame.index"] == 19
    assert frames[-1].timestamp_us == 19_000
    assert states[-1].state == {"key.5": 5, "key.10": 10, "key.15": 15}


def test_numpy_values_in_state_are_recorded_as_lists(tmp_path):
    path = tmp_path / "a.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {"p": np.arange(3.0), "s": np.float32(2)}, "removals": []}})
    with RecordingReader(path) as reader:
        assert list(reader.states())[-1].state == {"p": [0.0, 1.0, 2.0], "s": 2.0}


def test_write_after_close_is_refused(tmp_path, make_frame):
    writer = RecordingWriter(tmp_path / "a.nanover.zip")
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write({"frame": make_frame(0)})


def test_journal_and_messages_reach_disk_on_flush(tmp_path, make_frame):
    path = tmp_path / "a.nanover.zip"
    writer = RecordingWriter(path, flush_interval=3600)
    writer.write({"frame": make_frame(0)}, timestamp_us=5)
    journal = journal_path(path)
    assert journal.stat().st_size == 0  # buffered until the next flush
    writer.flush()
    entries = list(msgpack.Unpacker(open(journal, "rb")))
    assert entries == [{"offset": 0, "length": entries[0]["length"], "metadata": {"types": ["frame", "state"], "frame.index": 0, "timestamp": 5}}]
    assert path.stat().st_size > entries[0]["length"]
    writer.close()
    assert not journal.exists()


def test_first_entry_lists_both_kinds(tmp_path, make_frame):
    path = tmp_path / "a.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {"a": 1}, "removals": []}}, timestamp_us=1)
        writer.write({"frame": make_frame(0)}, timestamp_us=2)
        assert (writer.frames_written, writer.states_written) == (1, 1)
    with RecordingReader(path) as reader:
        assert [entry.types for entry in reader.entries] == [("state", "frame"), ("frame",)]
        assert next(reader.messages()).message == {"state": {"updates": {"a": 1}, "removals": []}}
        assert (reader.frame_count, reader.state_count) == (1, 1)
        assert [timestamp for timestamp, _ in reader.frames()] == [2]
        assert [state.state for state in reader.states()] == [{"a": 1}]


def test_an_existing_recording_is_never_overwritten(tmp_path):
    path = tmp_path / "nested" / "session.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {"a": 1}, "removals": []}})
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="exists already"):
        RecordingWriter(path)
    assert path.read_bytes() == before


def test_the_writers_memory_stays_flat_however_many_messages(tmp_path):
    import tracemalloc

    state = {"state": {"updates": {"avatar.1": {"x": 1.0}}, "removals": []}}
    writer = RecordingWriter(tmp_path / "long.nanover.zip", flush_interval=3600.0)
    tracemalloc.start()
    try:
        for count in range(1, 20_001):
            writer.write(state, timestamp_us=count)
            if count % 1000 == 0:
                writer.flush()
            if count == 2000:
                early = tracemalloc.get_traced_memory()[0]
        grown = tracemalloc.get_traced_memory()[0] - early
    finally:
        tracemalloc.stop()
    writer.close()
    assert grown < 100_000, f"{grown} bytes more after 18,000 more messages: the index is kept in memory"
    with RecordingReader(tmp_path / "long.nanover.zip") as reader:
        assert len(reader) == reader.state_count == 20_000
        assert [message.timestamp_us for message in reader.messages()][-1] == 20_000
