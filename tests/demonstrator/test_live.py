"""End to end: `costeer demonstrate` against a live, recording `costeer serve`, judged as a dataset.

20 synthetic demonstrations at a fixed seed, the server seeded too (``--seed``) and run 6 times
a person's pace (``--steps-per-frame 30``). The recording goes through the product's path,
``build_dataset`` and ``summarise_dataset``; hand speeds and forces are compared with the human
sessions. When the hand's moves reach the server still depends on the network, so the success
band here is loose; the 40-90% band is checked on deterministic headless episodes
(``test_offline.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from costeer.datasets import DatasetSummary, build_dataset, read_episodes, summarise_dataset
from costeer.demonstrator import DEMONSTRATOR_KEY, measure_recording, measure_recordings
from costeer.recording import RecordingReader

pytestmark = pytest.mark.slow

EPISODES, SEED, COMPRESSION, SERVER_SEED = 20, 2, 6, 11
WRONG_PACE = re.compile(r"runs at ([0-9.]+) times a person's pace, not 1\b")


@dataclass
class Run:
    recording: Path
    reports: list[dict[str, Any]]
    """What the demonstrator printed, one report per episode."""
    summary: DatasetSummary
    episodes: dict[str, list[Any]]
    """The dataset's episode table, column by column, in recording order."""
    labels: dict[int, list[dict[str, Any]]]
    """Every ``costeer.demonstrator`` entry the recording holds, by the episode it names."""
    wrong_pace: subprocess.CompletedProcess


def _demonstrator_labels(recording: Path) -> dict[int, list[dict[str, Any]]]:
    labels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with RecordingReader(recording) as reader:
        for _, updates, _ in reader.state_updates():
            if DEMONSTRATOR_KEY in updates:
                labels[updates[DEMONSTRATOR_KEY]["episode"]].append(updates[DEMONSTRATOR_KEY])
    return dict(labels)


@pytest.fixture(scope="module")
def run(
    module_costeer_server: Callable[..., Any], costeer_cli: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Run:
    folder = tmp_path_factory.mktemp("demonstrate")
    recording = folder / "synthetic.nanover.zip"
    server = module_costeer_server(
        "--steps-per-frame", str(5 * COMPRESSION), "--seed", str(SERVER_SEED),
        "--record", str(recording), "--label", "origin=synthetic",
    )
    demonstrate = [*costeer_cli, "demonstrate", "--server", server.url]
    wrong_pace = subprocess.run(
        [*demonstrate, "--episodes", "1", "--time-compression", "1"], capture_output=True, text=True, timeout=60
    )
    done = subprocess.run(
        [*demonstrate, "--task", "nanotube", "--episodes", str(EPISODES), "--seed", str(SEED),
         "--time-compression", str(COMPRESSION), "--json"],
        capture_output=True, text=True, timeout=240,
    )
    server.stop()  # finishes the recording
    assert done.returncode == 0, f"{done.stderr}\nserver:\n{server.output()}"
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    dataset = build_dataset([recording], task="nanotube", output=folder / "dataset", progress=False)
    return Run(
        recording, reports, summarise_dataset(dataset), read_episodes(dataset).to_pydict(),
        _demonstrator_labels(recording), wrong_pace,
    )


def test_twenty_synthetic_episodes_in_the_dataset(run: Run) -> None:
    assert [report["index"] for report in run.reports] == list(range(EPISODES))
    assert run.summary.episodes == EPISODES and run.summary.origins == {"synthetic": EPISODES}
    assert sorted(run.labels) == list(range(EPISODES))
    assert all(length > 50 for length in run.episodes["length"])


def test_success_counts_agree_and_some_retries_work(run: Run) -> None:
    verdicts = [bool(success) for success in run.episodes["success"]]  # episode i of the dataset is demonstration i
    assert run.summary.successes == sum(verdicts)
    assert 0.25 <= run.summary.success_rate <= 0.95, verdicts
    # What the client saw agrees with the recording (an episode's end may differ by a frame).
    assert sum(verdicts[report["index"]] == report["success"] for report in run.reports) >= EPISODES - 1
    attempts = [max(label["attempt"] for label in run.labels[index]) for index in range(EPISODES)]
    assert any(attempt >= 2 for attempt in attempts)
    assert not all(verdicts)


def test_sessions_are_labelled_synthetic(run: Run) -> None:
    assert all(json.loads(labels)["origin"] == "synthetic" for labels in run.episodes["labels"])
    assert all(owners == [f"costeer-demonstrator-{SEED}"] for owners in run.episodes["owners"])
    for index, labels in run.labels.items():
        label = labels[-1]
        assert (label["origin"], label["seed"], label["episode"]) == ("synthetic", SEED, index)
        assert label["phase"] == "released" and label["outcome"] in ("threaded", "gave_up", "timeout")
        assert label["time_compression"] == pytest.approx(COMPRESSION, rel=0.2)
        assert set(label["persona"]) >= {"reaction_s", "speed", "sloppiness"}


def test_hand_speed_and_force_are_within_a_factor_two_of_the_human_sessions(run: Run, shared_data: Path) -> None:
    human = measure_recordings(sorted((shared_data / "recordings").glob("nanotube-methane-*.nanover.zip"))).summary()
    synthetic = measure_recording(run.recording).summary()
    for name, value in human.items():
        assert 0.5 <= synthetic[name] / value <= 2.0, (name, synthetic[name], value)


def test_a_wrong_time_compression_says_how_to_start_the_server(run: Run) -> None:
    assert run.wrong_pace.returncode == 2
    found = WRONG_PACE.search(run.wrong_pace.stderr)
    assert found, run.wrong_pace.stderr
    assert float(found.group(1)) == pytest.approx(COMPRESSION, rel=0.2)
    assert "--steps-per-frame 5" in run.wrong_pace.stderr
