"""Headless rollouts of the demonstrator's people: the success rate, deterministic at fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.demonstrator import ThreadingHand, rollout_offline

EPISODES, SEED = 20, 2


@pytest.mark.slow  # 20 episodes, about 15 s
def test_twenty_people_thread_40_to_90_percent_with_retries_that_work_and_failures() -> None:
    hands, verdicts = [], []
    for index in range(EPISODES):
        rng = np.random.default_rng(np.random.SeedSequence([SEED, index]))  # as costeer demonstrate seeds them
        episode = rollout_offline(
            lambda task, selection, _, positions: ThreadingHand(task, selection, positions, rng=rng),
            steps_per_frame=30,
            seed=index + 1,
            max_s=60.0,
        )
        hands.append(episode.hand)
        verdicts.append(bool(episode.outcome.success))
    assert 0.4 <= sum(verdicts) / EPISODES <= 0.9, verdicts
    assert any(hand.attempt >= 2 and verdict for hand, verdict in zip(hands, verdicts))  # a retry that worked
    assert any(hand.outcome == "gave_up" and not verdict for hand, verdict in zip(hands, verdicts))
    assert all(verdict == (hand.outcome == "threaded") for hand, verdict in zip(hands, verdicts))
