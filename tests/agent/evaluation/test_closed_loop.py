"""Closed-loop evaluation: success found for a scripted pull, failure with no force, same seeds whatever the workers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costeer.agent.evaluation import evaluate, plot_evaluations
from costeer.agent.evaluation.closed_loop import Evaluation


@pytest.fixture(scope="module")
def scripted() -> Evaluation:
    return evaluate("scripted", task="nanotube", rollouts=2, seed=0, max_s=20.0, progress=False)


@pytest.fixture(scope="module")
def nothing() -> Evaluation:
    return evaluate("none", task="nanotube", rollouts=2, seed=0, max_s=4.0, progress=False)


def test_a_scripted_pull_threads_methane_and_the_rollout_stops_soon_after(scripted: Evaluation) -> None:
    summary = scripted.summary()
    assert summary["successes"] == 2
    assert summary["success_interval"][0] > 0.15  # Wilson's lower bound for 2 of 2
    for result in scripted.rollouts:
        assert result.time_to_success_s is not None and result.time_to_success_s < 20.0
        assert result.duration_s < result.time_to_success_s + 2.0  # stopped at success, then settled
        assert result.work > 0 and result.peak_force > 0


def test_no_force_never_succeeds_and_does_no_work(nothing: Evaluation) -> None:
    summary = nothing.summary()
    assert summary["successes"] == 0 and summary["success_interval"][0] == 0.0
    assert all(result.work == 0 and result.peak_force == 0 for result in nothing.rollouts)
    assert summary["time_to_success_s_median"] is None


def test_rollouts_differ_by_seed_and_repeat_for_the_same_seed(nothing: Evaluation) -> None:
    again = evaluate("none", task="nanotube", rollouts=1, seed=1, max_s=4.0, progress=False)
    assert again.rollouts[0].path == nothing.rollouts[1].path
    assert nothing.rollouts[0].path != nothing.rollouts[1].path


def test_json_has_rate_interval_and_one_entry_per_rollout(scripted: Evaluation) -> None:
    written = json.loads(json.dumps(scripted.to_json()))
    assert written["success_rate"] == 1.0
    assert len(written["per_rollout"]) == 2
    assert {"seed", "success", "time_to_success_s", "work", "peak_force"} <= set(written["per_rollout"][0])


def test_plots_are_written_and_not_blank(scripted: Evaluation, nothing: Evaluation, tmp_path) -> None:
    import matplotlib.image

    written = plot_evaluations([scripted, nothing], tmp_path)
    assert [path.name for path in written] == ["success.png", "paths.png"]
    for path in written:
        pixels = matplotlib.image.imread(path)
        assert np.ptp(pixels[..., :3]) > 0.5


def test_bad_requests_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        evaluate("none", task="nanotube", rollouts=0)
    with pytest.raises(ValueError, match="unknown task"):
        evaluate("none", task="no-such-task", rollouts=1, max_s=1.0, progress=False)


@pytest.mark.slow
def test_two_workers_give_the_same_rollouts_as_one(nothing: Evaluation) -> None:
    parallel = evaluate("none", task="nanotube", rollouts=2, seed=0, max_s=4.0, workers=2, progress=False)
    assert [result.path for result in parallel.rollouts] == [result.path for result in nothing.rollouts]
