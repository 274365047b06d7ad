"""Co-steering headless: the person alone is the demonstrator baseline; beside the co-pilot, who pulls when, and the figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costeer.agent.checkpoint import load_policy, shipped_checkpoint
from costeer.agent.copilot import Copilot, CopilotSettings
from costeer.agent.evaluation.actors import BASELINES
from costeer.agent.evaluation.costeering import (
    Costeering,
    CosteeringEpisode,
    evaluate_costeering,
    run_costeering_episode,
)
from costeer.agent.evaluation.plot import plot_costeering
from costeer.rollout import TaskEnvironment, run_rollout

SHORT_S = 3.0


@pytest.fixture(scope="module")
def env():
    environment = TaskEnvironment("nanotube", steps_per_frame=10)
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def runner():
    return load_policy(shipped_checkpoint("nanotube"))


def copilot(runner, env, **settings) -> Copilot:
    return Copilot(runner, task=env.task, selection=env.selection, masses=env.masses,
                   settings=CopilotSettings(**settings))


class LetsGo:
    """The synthetic person, who lets go for good after ``after_s``."""

    def __init__(self, env, rng, *, after_s: float) -> None:
        self.person = BASELINES["demonstrator"](env, rng)
        self.after_s = after_s
        self.finished = False

    def act(self, time_s, positions):
        self.finished = time_s >= self.after_s
        return None if self.finished else self.person.act(time_s, positions)


def test_the_person_alone_is_the_demonstrator_baseline(env) -> None:
    alone = run_costeering_episode(env, 4, copilot=None, max_s=SHORT_S)
    baseline = run_rollout(env, BASELINES["demonstrator"](env, np.random.default_rng(4)), seed=4, max_s=SHORT_S,
                           stop_on_success=True)
    assert alone.duration_s == pytest.approx(float(baseline.times_s[-1]))
    assert alone.person_work == pytest.approx(baseline.work, rel=1e-3)
    assert alone.person_work > 0 and alone.copilot_work == 0 and alone.copilot_pulled_s == 0
    assert alone.person_pulled_s == pytest.approx(baseline.pulled_s)


def test_in_plain_assist_the_copilot_yields_to_a_person_who_holds_on(env, runner) -> None:
    alone = run_costeering_episode(env, 4, copilot=None, max_s=SHORT_S)
    beside = run_costeering_episode(env, 4, copilot=copilot(runner, env, mode="assist"), max_s=SHORT_S)
    assert beside.copilot_pulled_s == 0 and beside.copilot_work == 0
    assert beside.person_work == alone.person_work  # nothing else touched methane


def test_in_plain_assist_the_copilot_takes_over_when_the_person_lets_go(env, runner) -> None:
    def make(env, rng):
        return LetsGo(env, rng, after_s=1.0)

    alone = run_costeering_episode(env, 4, copilot=None, max_s=SHORT_S, make_person=make)
    beside = run_costeering_episode(env, 4, copilot=copilot(runner, env, mode="assist"), max_s=SHORT_S,
                                    make_person=make)
    assert alone.duration_s < 2.0  # alone it ends when the person lets go (and settles)
    assert beside.person_pulled_s == pytest.approx(alone.person_pulled_s)
    assert beside.copilot_pulled_s == pytest.approx(beside.duration_s - 1.0 - 0.5, abs=0.2)  # from then to the end
    assert beside.copilot_work != 0


def test_with_blend_both_pull_and_share_the_work(env, runner) -> None:
    alone = run_costeering_episode(env, 4, copilot=None, max_s=SHORT_S)
    beside = run_costeering_episode(env, 4, copilot=copilot(runner, env, mode="assist", blend=0.5), max_s=SHORT_S)
    assert beside.copilot_pulled_s == pytest.approx(beside.person_pulled_s)
    assert beside.copilot_work != 0 and beside.person_work != alone.person_work


def episode(seed: int, with_copilot: bool, time: float | None, work: float) -> CosteeringEpisode:
    return CosteeringEpisode(seed, with_copilot, time is not None, time, 20.0, work, 0.0, 10.0, 0.0, None)


def test_the_summary_pairs_seeds_and_takes_median_ratios() -> None:
    alone = [episode(0, False, 10.0, 100.0), episode(1, False, 20.0, 200.0), episode(2, False, None, 400.0),
             episode(3, False, 8.0, 100.0)]
    together = [episode(0, True, 5.0, 50.0), episode(1, True, 8.0, 100.0), episode(2, True, 6.0, 100.0),
                episode(3, True, None, 300.0)]
    summary = Costeering("p.pt", "nanotube", "assist", 0.5, alone, together, {}).summary()
    time = summary["ratios"]["time_to_success"]
    assert time["pairs"] == 2 and time["median"] == pytest.approx((0.5 + 0.4) / 2)  # seeds 0 and 1 only
    work = summary["ratios"]["person_work"]
    assert work["pairs"] == 4 and work["median"] == pytest.approx(0.5)  # 0.5, 0.5, 0.25, 3.0
    assert summary["alone"]["successes"] == 3 and summary["with_copilot"]["successes"] == 3
    assert summary["target_met"] is True
    low, high = summary["alone"]["success_interval"]
    assert 0 < low < 0.75 < high < 1


def test_evaluate_costeering_writes_json_and_a_picture(tmp_path) -> None:
    result = evaluate_costeering(shipped_checkpoint("nanotube"), episodes=2, seed=3, blend=0.5, max_s=2.0,
                                 steps_per_frame=10, progress=False)
    written = json.loads(json.dumps(result.to_json()))
    assert [entry["seed"] for entry in written["per_episode"]] == [3, 4, 3, 4]
    assert written["blend"] == 0.5 and written["alone"]["episodes"] == 2
    assert written["with_copilot"]["copilot_pulled_s_median"] > 0
    path = plot_costeering(result, tmp_path / "c.png")
    import matplotlib.image

    assert matplotlib.image.imread(path).std() > 0


def test_modes_without_a_pull_beside_the_person_are_refused() -> None:
    with pytest.raises(ValueError, match="assist"):
        evaluate_costeering("x.pt", mode="suggest", episodes=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        evaluate_costeering("x.pt", blend=2.0, episodes=1)
