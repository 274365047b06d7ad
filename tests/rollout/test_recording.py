"""Rollout.write_recording: costeer's dataset builder reads it exactly as a live recording, actions included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costeer.cli.main import main
from costeer.core import keys
from costeer.datasets.demonstrations import read_demonstrations
from costeer.recording import RecordingReader
from costeer.rollout import Rollout, TaskEnvironment, hand_actor, run_rollout
from costeer.tasks.encoding import StepEncoder

LABELS = {"origin": "synthetic", "generator": "test", "seed": 4}


@pytest.fixture(scope="module")
def rollout(env: TaskEnvironment) -> Rollout:
    hand = env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, np.random.default_rng(4))
    return run_rollout(env, hand_actor(hand, env.selection), seed=4, max_s=6.0)


def test_messages_come_in_arrival_order(rollout: Rollout, tmp_path: Path) -> None:
    path = rollout.write_recording(tmp_path / "episode.nanover.zip", labels=LABELS)
    with RecordingReader(path) as reader:
        messages = [message for _, message in reader.messages()]
    assert messages[0]["state"]["updates"][keys.STATE_SESSION]["labels"] == LABELS
    kinds = ["frame" if "frame" in message else "state" for message in messages[1:]]
    assert kinds[:4] == ["frame", "state", "frame", "state"]  # the change the hand made on seeing a frame, then the next
    assert kinds.count("frame") == len(rollout)
    removals = [message["state"]["removals"] for message in messages if "state" in message and message["state"]["removals"]]
    assert removals == [["interaction.costeer-demonstrator"]]  # let go once, at the end
    with pytest.raises(FileExistsError):
        rollout.write_recording(path, labels=LABELS)


def test_the_dataset_reads_the_frames_and_the_actions(rollout: Rollout, tmp_path: Path) -> None:
    path = rollout.write_recording(tmp_path / "episode.nanover.zip", labels=LABELS)
    (demo,) = read_demonstrations(path)
    assert demo.origin == "synthetic" and len(demo) == len(rollout)
    np.testing.assert_array_equal(demo.positions, rollout.positions.astype(np.float32))
    np.testing.assert_allclose(demo.wall_time_s, rollout.times_s, atol=1e-6)
    for frame, chosen in zip(demo.frames[1:], rollout.interactions[:-1]):  # frame t+1 carries what was chosen at t
        live = list(frame.interactions.values())
        assert (chosen is None) == (not live)
        if chosen is not None:
            np.testing.assert_array_equal(live[0].position, chosen.position)
            assert live[0].scale == chosen.scale and live[0].properties["label"] == "synthetic"


def test_costeer_dataset_build_makes_one_episode_per_rollout(
    rollout: Rollout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rollout.write_recording(tmp_path / "episode.nanover.zip", labels=LABELS)
    output = tmp_path / "dataset"
    assert main(["dataset", "build", str(path), "--task", "nanotube", "-o", str(output)]) == 0
    assert "origins       synthetic 1" in capsys.readouterr().out
    episodes = pd.read_parquet(output / "meta/episodes/chunk-000/file-000.parquet")
    assert episodes["length"].tolist() == [len(rollout)] and episodes["origin"].tolist() == ["synthetic"]
    assert bool(episodes["success"][0]) == bool(rollout.outcome.success)
    assert json.loads(episodes["labels"][0]) == LABELS
    steps = pd.read_parquet(output / "data/chunk-000/file-000.parquet")
    on = np.stack(steps["action"])[:, -1]
    chosen = [interaction is not None for interaction in rollout.interactions]
    np.testing.assert_array_equal(on, [False, *chosen[:-1]])


def test_the_dataset_steps_are_what_the_step_encoder_makes_during_the_rollout(
    env: TaskEnvironment, rollout: Rollout, tmp_path: Path
) -> None:
    """One meaning everywhere: a policy stepping the environment sees and acts as the dataset says."""
    path = rollout.write_recording(tmp_path / "episode.nanover.zip", labels=LABELS)
    output = tmp_path / "dataset"
    assert main(["dataset", "build", str(path), "--task", "nanotube", "-o", str(output)]) == 0
    steps = pd.read_parquet(output / "data/chunk-000/file-000.parquet")
    encoder = StepEncoder(env.task, env.selection, masses=env.masses)
    live = [None, *rollout.interactions[:-1]]  # frame t carries what was chosen on seeing frame t - 1
    for t, positions in enumerate(rollout.positions.astype(np.float32).astype(np.float64)):
        np.testing.assert_allclose(encoder.observe(positions), steps["observation.state"][t], atol=1e-5)
        np.testing.assert_allclose(encoder.encode_action(live[t], positions), steps["action"][t], atol=1e-4)
