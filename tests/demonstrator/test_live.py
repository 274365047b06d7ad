"""End to end: `costeer demonstrate` against a live, recording `costeer serve`, judged on the recording.

20 synthetic demonstrations at a fixed seed, the server run 6 times a person's pace
(``--steps-per-frame 30``). The recording is split at its resets and each episode judged by
the nanotube task's detector; hand speeds and forces are compared with the human sessions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from costeer.core import keys
from costeer.demonstrator import DEMONSTRATOR_KEY, measure_recording, measure_recordings
from costeer.recording.reader import RecordingReader, normalize_frame
from costeer.tasks import Chemistry, get_task

pytestmark = pytest.mark.slow

EPISODES, SEED, COMPRESSION = 20, 2, 6


@dataclass
class RecordedEpisode:
    positions: list[np.ndarray] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    chemistry_frame: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    recording: Path
    reports: list[dict[str, Any]]
    episodes: dict[int, RecordedEpisode]
    session: dict[str, Any]
    wrong_pace: subprocess.CompletedProcess


def _costeer() -> list[str]:
    script = Path(sys.executable).parent / "costeer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "costeer.cli.main"]


def _serve(recording: Path) -> tuple[subprocess.Popen, str]:
    command = [*_costeer(), "serve", "--port", "0", "--steps-per-frame", str(5 * COMPRESSION),
               "--record", str(recording), "--label", "origin=synthetic"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    for line in server.stdout:
        if line.startswith("costeer serving "):
            return server, line.split()[-1]
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError(f"costeer serve did not start: {' '.join(command)}")


def _split(recording: Path) -> tuple[dict[int, RecordedEpisode], dict[str, Any]]:
    """Recorded frames split at resets, each piece named by the demonstrator's episode label in it."""
    pieces: list[RecordedEpisode] = [RecordedEpisode()]
    session: dict[str, Any] = {}
    with RecordingReader(recording) as reader:
        for _, message in reader.messages():
            updates = (message.get("state") or {}).get("updates") or {}
            session = updates.get(keys.STATE_SESSION, session)
            if DEMONSTRATOR_KEY in updates:
                pieces[-1].labels.append(updates[DEMONSTRATOR_KEY])
            pieces[-1].interactions += [v for k, v in updates.items() if k.startswith(keys.INTERACTION_PREFIX)]
            if message.get("frame") is None:
                continue
            frame = normalize_frame(message["frame"])
            if frame.get(keys.FRAME_INDEX) == 0:
                pieces.append(RecordedEpisode())
            if keys.PARTICLE_ELEMENTS in frame:
                pieces[-1].chemistry_frame = frame
            if keys.PARTICLE_POSITIONS in frame:
                pieces[-1].positions.append(np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64))
    episodes = {piece.labels[0]["episode"]: piece for piece in pieces if piece.labels}
    return episodes, session


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    recording = tmp_path_factory.mktemp("demonstrate") / "synthetic.nanover.zip"
    server, url = _serve(recording)
    try:
        wrong_pace = subprocess.run(
            [*_costeer(), "demonstrate", "--episodes", "1", "--server", url, "--time-compression", "1"],
            capture_output=True, text=True, timeout=60,
        )
        done = subprocess.run(
            [*_costeer(), "demonstrate", "--task", "nanotube", "--episodes", str(EPISODES), "--server", url,
             "--seed", str(SEED), "--time-compression", str(COMPRESSION), "--json"],
            capture_output=True, text=True, timeout=240,
        )
    finally:
        server.terminate()
        server.wait(20)
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    episodes, session = _split(recording)
    yield Run(recording, reports, episodes, session, wrong_pace)


def test_twenty_episodes_between_resets(run: Run) -> None:
    assert [report["index"] for report in run.reports] == list(range(EPISODES))
    assert sorted(run.episodes) == list(range(EPISODES))
    assert all(len(episode.positions) > 50 for episode in run.episodes.values())


def test_success_on_the_recorded_frames_is_between_40_and_90_percent_with_retries(run: Run) -> None:
    task = get_task("nanotube")
    verdicts = {}
    for index, episode in run.episodes.items():
        selection = task.select(Chemistry.from_frame(episode.chemistry_frame))
        verdicts[index] = bool(task.evaluate(np.array(episode.positions), selection).success)
    rate = sum(verdicts.values()) / EPISODES
    assert 0.4 <= rate <= 0.9, verdicts
    attempts = {index: max(label["attempt"] for label in episode.labels) for index, episode in run.episodes.items()}
    assert max(attempts.values()) >= 2
    assert any(attempts[index] >= 2 and verdicts[index] for index in attempts)  # a retry that worked
    assert any(not verdicts[index] for index in attempts)  # and failures: backed out, gave up
    # What the client saw agrees with the recording (an episode's end may differ by a frame).
    agree = sum(verdicts[report["index"]] == report["success"] for report in run.reports)
    assert agree >= EPISODES - 1


def test_sessions_are_labelled_synthetic(run: Run) -> None:
    assert run.session["labels"]["origin"] == "synthetic"
    for index, episode in run.episodes.items():
        label = episode.labels[-1]
        assert (label["origin"], label["seed"], label["episode"]) == ("synthetic", SEED, index)
        assert label["phase"] == "released" and label["outcome"] in ("threaded", "gave_up", "timeout")
        assert label["time_compression"] == pytest.approx(COMPRESSION, rel=0.2)
        assert set(label["persona"]) >= {"reaction_s", "speed", "sloppiness"}
        owners = {(interaction["label"], interaction["owner.id"]) for interaction in episode.interactions}
        assert owners == {("synthetic", f"costeer-demonstrator-{SEED}")}


def test_hand_speed_and_force_are_within_a_factor_two_of_the_human_sessions(run: Run, shared_data: Path) -> None:
    human = measure_recordings(sorted((shared_data / "recordings").glob("nanotube-methane-*.nanover.zip"))).summary()
    synthetic = measure_recording(run.recording).summary()
    for name, value in human.items():
        assert 0.5 <= synthetic[name] / value <= 2.0, (name, synthetic[name], value)


def test_a_wrong_time_compression_says_how_to_start_the_server(run: Run) -> None:
    assert run.wrong_pace.returncode == 2
    assert "runs at 6.0 times a person's pace, not 1" in run.wrong_pace.stderr
    assert "--steps-per-frame 5" in run.wrong_pace.stderr
