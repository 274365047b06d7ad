"""Offline demonstrations: one labelled recording per episode, seeded per episode whatever the worker count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costeer.cli.main import main
from costeer.datasets.demonstrations import read_demonstrations
from costeer.demonstrator import demonstrate_offline, episode_path
from costeer.rollout import TaskEnvironment, hand_actor, run_rollout
from costeer.tasks import get_task

EPISODES, SEED = 20, 2


def _positions(path: Path) -> np.ndarray:
    (demo,) = read_demonstrations(path, keep_idle=True)
    return demo.positions


def test_episodes_are_recordings_seeded_by_index_whatever_the_workers(tmp_path: Path) -> None:
    options = dict(episodes=2, seed=SEED, steps_per_frame=30, max_s=2.0)
    one = demonstrate_offline(tmp_path / "one", workers=1, **options)
    two = demonstrate_offline(tmp_path / "two", workers=2, **options)
    assert [report.seed for report in one] == [report.seed for report in two] == [SEED, SEED + 1]
    for first, second in zip(one, two):
        np.testing.assert_array_equal(_positions(Path(first.path)), _positions(Path(second.path)))
        assert first.frames == second.frames and first.work == pytest.approx(second.work)
    assert not np.array_equal(_positions(Path(one[0].path)), _positions(Path(one[1].path)))
    (demo,) = read_demonstrations(episode_path(tmp_path / "one", 1))
    assert demo.origin == "synthetic"
    assert demo.session["labels"] == {
        "origin": "synthetic", "generator": "costeer demonstrate --offline", "seed": SEED + 1, "episode": 1,
        "task": "nanotube",
    }
    with pytest.raises(FileExistsError, match="episode-00000.nanover.zip exists already"):
        demonstrate_offline(tmp_path / "one", workers=1, **options)


def test_the_command_writes_episodes_a_dataset_builds_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "synthetic"
    assert main(["demonstrate", "--offline", "--episodes", "2", "--max-seconds", "2", "-o", str(folder)]) == 0
    assert "succeeded" in capsys.readouterr().out
    recordings = sorted(folder.glob("*.nanover.zip"))
    assert [path.name for path in recordings] == ["episode-00000.nanover.zip", "episode-00001.nanover.zip"]
    dataset = tmp_path / "dataset"
    assert main(["dataset", "build", *map(str, recordings), "--task", "nanotube", "-o", str(dataset)]) == 0
    assert "origins       synthetic 2" in capsys.readouterr().out


@pytest.mark.slow  # 20 episodes, about a minute
def test_twenty_people_thread_40_to_90_percent_with_retries_that_work_and_failures() -> None:
    env = TaskEnvironment(get_task("nanotube"), steps_per_frame=30)
    hands, verdicts = [], []
    for index in range(EPISODES):
        hand = env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, np.random.default_rng(SEED + index))
        rollout = run_rollout(env, hand_actor(hand, env.selection), seed=SEED + index, max_s=60.0)
        hands.append(hand)
        verdicts.append(bool(rollout.outcome.success))
    assert 0.4 <= sum(verdicts) / EPISODES <= 0.9, verdicts
    assert any(hand.attempt >= 2 and verdict for hand, verdict in zip(hands, verdicts))  # a retry that worked
    assert any(hand.outcome == "gave_up" and not verdict for hand, verdict in zip(hands, verdicts))
    assert all(verdict == (hand.outcome == "threaded") for hand, verdict in zip(hands, verdicts))
