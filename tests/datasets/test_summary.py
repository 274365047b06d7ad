"""``costeer dataset info``'s numbers: episodes, steps, origins, success, actions, forces."""

from __future__ import annotations

from pathlib import Path

import pytest

from costeer.datasets.summary import summarise_dataset


def test_summary_of_the_real_sessions(real_dataset: Path) -> None:
    summary = summarise_dataset(real_dataset)
    assert (summary.task, summary.episodes, summary.steps, summary.fps, summary.sources) == ("nanotube", 3, 1853, 30, 3)
    assert summary.origins == {"human": 3} and summary.success_rate == 1.0
    assert summary.strengths == {1201.1: 697}  # scale 100 x the carbon's 12.011 Da: older NanoVer's law
    assert summary.unknown_steps == 349  # the frames-only session: someone pulls, nobody knows where to
    assert 0.4 < summary.pulling_fraction < 0.7
    assert summary.target_mean[2] > 0  # people pull methane towards the far end (+z)
    assert 0.2 < summary.target_distance[0] < 1.0
    assert 500 < summary.force[0] < summary.force[1] < 3000
    text = str(summary)
    for expected in ("episodes      3 from 3 recording(s); 1853 steps at 30 fps", "origins       human 3",
                     "success       3/3 (100%)", "strength      1201.1 (697 steps)", "(349 with no known target", "kJ/(mol nm)"):
        assert expected in text


def test_not_a_dataset_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="costeer dataset build"):
        summarise_dataset(tmp_path)
