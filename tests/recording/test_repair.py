"""repair_recording: what a killed writer leaves is recovered, up to the last flush."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from costeer.recording.format import NotARecordingError, TruncatedRecordingError, journal_path
from costeer.recording.reader import RecordingReader
from costeer.recording.repair import repair_recording
from costeer.recording.writer import RecordingWriter
from tests.recording.conftest import damage_index

HERE = Path(__file__).resolve().parent


def _snapshot_after_flush(tmp_path, make_frame, count: int, *, keep_journal: bool = True) -> Path:
    """The files a writer killed right after a flush leaves behind (copied while it runs)."""
    live = tmp_path / "live.nanover.zip"
    crashed = tmp_path / "crashed.nanover.zip"
    writer = RecordingWriter(live, flush_interval=3600)
    for index in range(count):
        frame = dict(make_frame(index))
        frame["server.timestamp"] = 100.0 + index / 30
        writer.write({"frame": frame}, timestamp_us=index * 33_000)
        writer.write({"state": {"updates": {"n": index}, "removals": []}}, timestamp_us=index * 33_000 + 1)
    writer.flush()
    writer.write({"frame": make_frame(count)})  # buffered, never flushed: lost in a crash
    shutil.copyfile(live, crashed)
    if keep_journal:
        shutil.copyfile(journal_path(live), journal_path(crashed))
    writer.close()
    return crashed


def test_repair_with_journal(tmp_path, make_frame):
    crashed = _snapshot_after_flush(tmp_path, make_frame, 10)
    with pytest.raises(TruncatedRecordingError):
        RecordingReader(crashed)
    report = repair_recording(crashed)
    assert (report.frames, report.states, report.bytes_lost) == (10, 10, 0)
    assert report.duration_s == pytest.approx(9 * 0.033 + 1e-6)
    assert "repaired" in str(report)
    assert not journal_path(crashed).exists()
    with RecordingReader(crashed) as reader:
        assert [entry.timestamp_us for entry in reader.entries][:3] == [0, 1, 33_000]
        assert list(reader.states())[-1].state == {"n": 9}
        assert len(list(reader.frames())) == 10


def test_repair_keeps_only_messages_complete_on_disk(tmp_path, make_frame):
    crashed = _snapshot_after_flush(tmp_path, make_frame, 10)
    size = crashed.stat().st_size
    with open(crashed, "r+b") as file:
        file.truncate(size - 10)  # the last message (a small state change) half written
    report = repair_recording(crashed, output=tmp_path / "fixed.nanover.zip")
    assert report.frames + report.states == 19
    assert 0 < report.bytes_lost < 40
    assert journal_path(crashed).exists()  # the original is left alone with output=
    with RecordingReader(tmp_path / "fixed.nanover.zip") as reader:
        assert len(reader) == 19


def test_repair_without_journal_times_frames_by_server_timestamp(tmp_path, make_frame):
    crashed = _snapshot_after_flush(tmp_path, make_frame, 10, keep_journal=False)
    report = repair_recording(crashed)
    assert (report.frames, report.states) == (10, 10)
    with RecordingReader(crashed) as reader:
        frame_stamps = [entry.timestamp_us for entry in reader.entries if "frame" in entry.types]
    assert frame_stamps == pytest.approx([index * 1e6 / 30 for index in range(10)], abs=2)


def test_repair_a_cut_nanover_recording(tmp_path, recordings):
    cut = tmp_path / "cut.nanover.zip"
    data = recordings["nanotube-methane-01"].read_bytes()
    cut.write_bytes(data[:300_000])
    report = repair_recording(cut)
    assert report.frames > 100 and report.states > 50
    assert report.bytes_lost < 3000
    with RecordingReader(cut) as reader, RecordingReader(recordings["nanotube-methane-01"]) as original:
        kept = list(reader.messages())
        assert [message for _, message in kept] == [message for _, message in list(original.messages())[: len(kept)]]
        assert reader.frames().__next__().frame["particle.count"] == 65


def test_complete_file_needs_no_repair(tmp_path, recordings):
    copy = tmp_path / "copy.nanover.zip"
    report = repair_recording(recordings["nanotube-example"], output=copy)
    assert report.already_complete and report.bytes_lost == 0 and report.frames == 930
    assert copy.read_bytes() == recordings["nanotube-example"].read_bytes()
    assert "nothing to repair" in str(report)


def test_not_a_recording_cannot_be_repaired(tmp_path):
    junk = tmp_path / "junk.nanover.zip"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(NotARecordingError, match="junk.nanover.zip"):
        repair_recording(junk)


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_second(tmp_path, nanover_read):
    path = tmp_path / "killed.nanover.zip"
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "write_until_killed.py"), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},
    )
    try:
        deadline = time.monotonic() + 60
        printed = []
        for line in writer.stdout:
            printed.append(line)
            if int(line.split()[1]) >= 3_000_000 or time.monotonic() > deadline:
                break
        writer.send_signal(signal.SIGKILL)
        printed += writer.stdout.read().split("\n")
    finally:
        writer.kill()
        writer.wait()
    accepted = [line for line in printed if line.strip()]
    last_index, last_us = map(int, accepted[-1].split())
    assert last_us >= 3_000_000

    with pytest.raises(TruncatedRecordingError):
        RecordingReader(path)
    report = repair_recording(path)
    with RecordingReader(path) as reader:
        frames = list(reader.frames())
        last_kept_us = reader.entries[-1].timestamp_us
    assert [frame["frame.index"] for _, frame in frames] == list(range(len(frames)))
    assert last_us - last_kept_us <= 1_000_000, report
    assert report.frames >= last_index + 1 - 30

    seen = nanover_read(path)
    assert seen["entries"] == report.frames + report.states
    assert [frame["frame_index"] for frame in seen["frames"]] == list(range(report.frames))
    assert seen["final_state"] == {"avatar.me": {"step": 3 * (report.states - 1)}}


def test_repair_recovers_a_recording_whose_index_is_damaged(tmp_path, make_frame):
    path = tmp_path / "flipped.nanover.zip"
    with RecordingWriter(path) as writer:
        for index in range(6):
            frame = dict(make_frame(index))
            frame["server.timestamp"] = 100.0 + index / 30
            writer.write({"frame": frame})
    damage_index(path)
    journal_path(path).unlink(missing_ok=True)
    report = repair_recording(path)
    assert not report.already_complete and report.frames == 6 and report.bytes_lost == 0
    with RecordingReader(path) as reader:
        assert [frame["frame.index"] for _, frame in reader.frame_updates()] == list(range(6))
