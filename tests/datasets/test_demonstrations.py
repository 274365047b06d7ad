"""Reading demonstrations: real sessions, state at each frame, episode splits, damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from costeer.datasets.demonstrations import (
    RepairedRecordingWarning,
    iter_demonstrations,
    read_demonstrations,
    recording_origin,
)
from costeer.recording import NotARecordingError, RecordingError, RecordingReader
from costeer.tasks import get_task



@pytest.mark.parametrize(
    ("name", "frames", "has_state"),
    [("nanotube-example", 929, False), ("nanotube-methane-01", 326, True), ("nanotube-methane-02", 598, True)],
)
def test_each_real_session_is_one_episode_that_threads(
    sessions: dict[str, Path], name: str, frames: int, has_state: bool
) -> None:
    (demo,) = read_demonstrations(sessions[name])
    assert (len(demo), demo.has_state, demo.split, demo.origin) == (frames, has_state, "start", "unknown")
    assert demo.positions.shape == (frames, 65, 3)
    assert np.all(np.diff(demo.wall_time_s) > 0)
    task = get_task("nanotube")
    assert task.evaluate(demo.positions, task.select(demo.chemistry)).success
    pulling = demo.pulling
    assert 0.3 < pulling.mean() < 0.9
    if not has_state:  # frames only: on/off from the user force, no interactions
        assert all(not frame.interactions for frame in demo.frames)
        np.testing.assert_array_equal(pulling, [bool(np.any(frame.user_force)) for frame in demo.frames])


def test_frames_carry_the_state_of_their_moment(sessions: dict[str, Path], owner: str) -> None:
    (demo,) = read_demonstrations(sessions["nanotube-methane-01"])
    with RecordingReader(sessions["nanotube-methane-01"]) as reader:
        states = list(reader.states())
        recorded = list(reader.frames())
    times = np.array([timestamp for timestamp, _ in states])
    start = min(recorded[0].timestamp_us, states[0].timestamp_us)
    for (timestamp, frame), ours in zip(recorded, demo.frames):
        assert ours.wall_time_s == pytest.approx((timestamp - start) / 1e6)
        np.testing.assert_array_equal(ours.positions, frame["particle.positions"])
        np.testing.assert_array_equal(ours.user_force_index, frame["forces.user.index"])
        before = np.searchsorted(times, timestamp, side="right") - 1
        state = states[before].state if before >= 0 else {}
        expected = {key: value for key, value in state.items() if key.startswith("interaction.")}
        assert set(ours.interactions) == set(expected)
        for key, interaction in ours.interactions.items():
            np.testing.assert_allclose(interaction.position, expected[key]["position"])
            assert interaction.properties == {"owner.id": owner, "label": "hand.right"}
            assert (interaction.interaction_type, interaction.scale) == ("spring", 100.0)
        assert set(ours.avatars) == {f"avatar.{owner}"} or not ours.avatars


def test_a_state_update_in_the_frames_own_message_counts(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "same.nanover.zip"
    rec = scripted(path)
    rec.frame(0, full=True)
    rec.frame(1, state=rec.interaction(2.5))
    rec.state(rec.interaction(3.0))  # after frame 1: belongs to frame 2
    rec.frame(2)
    rec.close()
    (demo,) = read_demonstrations(path)
    assert [sorted(frame.interactions) for frame in demo.frames] == [[], ["interaction.one"], ["interaction.one"]]
    assert [frame.interactions["interaction.one"].position[0] for frame in demo.frames[1:]] == [2.5, 3.0]


def _three_runs(path: Path, scripted: type) -> None:
    """Run 1: two grabs; costeer's reset; run 2; a counter change without frame.index 0; run 3."""
    rec = scripted(path)
    rec.frame(0, full=True)
    rec.state(rec.interaction(2.5))
    rec.frame(1, shift=0.01, force=True)
    rec.state({}, removals=("interaction.one",))
    rec.frame(2, shift=0.02)
    rec.state(rec.interaction(2.6))
    rec.frame(3, shift=0.03, force=True)
    rec.frame(4, shift=0.04, force=True)
    rec.state({}, removals=("interaction.one",))
    rec.clear()
    rec.frame(1, full=True)
    rec.frame(2)
    rec.counter += 1
    rec.frame(3)
    rec.close()


def test_episodes_split_at_restarts_and_optionally_per_grab(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "runs.nanover.zip"
    _three_runs(path, scripted)
    assert [(demo.split, len(demo)) for demo in read_demonstrations(path)] == [("start", 5)], "idle runs are left out"
    demos = read_demonstrations(path, keep_idle=True)
    assert [(demo.part, demo.split, len(demo)) for demo in demos] == [(0, "start", 5), (1, "restart", 2), (2, "restart", 1)]
    assert [frame.counter for demo in demos for frame in demo.frames] == [0, 0, 0, 0, 0, 1, 1, 2]
    assert all(demo.origin == "synthetic" and demo.session["labels"]["user"] == "alice" for demo in demos)
    assert demos[0].pulling.tolist() == [False, True, False, True, True]
    grabs = read_demonstrations(path, per_grab=True, keep_idle=True)
    assert [(demo.part, demo.split, len(demo)) for demo in grabs] == [
        (0, "start", 3), (1, "grab", 2), (2, "restart", 2), (3, "restart", 1)
    ]
    np.testing.assert_allclose(grabs[1].positions[0], demos[0].positions[3])


def test_origin_comes_from_the_session_labels() -> None:
    assert recording_origin({"labels": {"origin": "Synthetic"}}) == "synthetic"
    assert recording_origin({"labels": {"origin": "copilot"}}) == "co-pilot"
    assert recording_origin({"labels": {"origin": "scripted"}}) == "scripted"
    assert recording_origin({"labels": {}}) == "unknown"
    assert recording_origin(None) == "unknown"


def test_a_truncated_recording_is_repaired_with_a_warning(sessions: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.nanover.zip"
    data = sessions["nanotube-methane-02"].read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.warns(RepairedRecordingWarning, match=r"cut short.*frames.*bytes of cut-off messages lost") as caught:
        (demo,) = read_demonstrations(cut)
    assert "costeer recording repair" in str(caught[0].message)
    assert 300 < len(demo) < 598 and demo.repaired is not None
    assert cut.stat().st_size == len(data) * 6 // 10  # the file itself is left alone


def test_not_a_recording_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.nanover.zip"
    text.write_text("not a recording")
    with pytest.raises(NotARecordingError, match="notes.nanover.zip is not a .nanover.zip recording"):
        read_demonstrations(text)
    other = tmp_path / "other.zip"
    shutil.make_archive(str(other.with_suffix("")), "zip", root_dir=tmp_path, base_dir="notes.nanover.zip")
    with pytest.raises(NotARecordingError, match="other.zip"):
        read_demonstrations(other)
    with pytest.raises(FileNotFoundError, match="missing.nanover.zip"):
        read_demonstrations(tmp_path / "missing.nanover.zip")


def test_a_synthetic_demonstrator_labels_its_sessions_without_server_labels(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "demonstrator.nanover.zip"
    rec = scripted(path, origin=None)
    rec.state({"costeer.demonstrator": {"origin": "synthetic", "seed": 2, "episode": 0}})
    rec.frame(0, full=True)
    rec.state(rec.interaction(2.5))
    rec.frame(1, shift=0.01, force=True)
    rec.close()
    (demo,) = read_demonstrations(path)
    assert demo.origin == "synthetic"


def test_iterating_gives_the_episodes_one_at_a_time_as_reading_them_all_does() -> None:
    synthetic = Path(__file__).resolve().parents[2] / "recordings" / "synthetic-nanotube-seed2.nanover.zip"
    episodes = iter_demonstrations(synthetic, per_grab=True)
    first = next(episodes)  # available before the rest of the file is read
    streamed = [first, *episodes]
    listed = read_demonstrations(synthetic, per_grab=True)
    assert [(d.part, d.split, d.origin, len(d)) for d in streamed] == [(d.part, d.split, d.origin, len(d)) for d in listed]
    assert [d.part for d in listed] == list(range(len(listed))) and {d.origin for d in listed} == {"synthetic"}


@pytest.mark.parametrize("message", [
    {"state": {"updates": ["not", "a", "map"], "removals": []}},
    {"state": {"updates": {}, "removals": [{"a map": "as a key"}]}},
    {"frame": ["not", "a", "map"]},
], ids=["updates-not-a-map", "removal-not-a-key", "frame-not-a-map"])
def test_a_malformed_message_is_a_recording_error_naming_where(tmp_path: Path, scripted: type, message: dict) -> None:
    path = tmp_path / "odd.nanover.zip"
    rec = scripted(path)
    rec.frame(0, full=True)
    rec._write(message)
    rec.frame(1)
    rec.close()
    with pytest.raises(RecordingError, match=r"odd.nanover.zip: bad (frame|state change) at offset \d+"):
        read_demonstrations(path)
