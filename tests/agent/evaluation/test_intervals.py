"""Wilson intervals against published values, and the bootstrap median interval."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.agent.evaluation.intervals import median_interval, wilson_interval


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score, no continuity correction)
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_wilson_matches_newcombes_table(successes: int, trials: int, expected: tuple[float, float]) -> None:
    assert wilson_interval(successes, trials) == pytest.approx(expected, abs=1e-4)


def test_wilson_at_all_successes_stays_below_one_and_includes_it() -> None:
    low, high = wilson_interval(50, 50)
    assert high == pytest.approx(1.0)
    assert 0.92 < low < 0.93  # 50/50 does not prove 100 %


def test_wilson_refuses_impossible_counts_and_knows_nothing_without_trials() -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(3, 2)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_median_interval_brackets_the_median_and_ignores_missing_values() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(10.0, 1.0, 200), [np.nan]])
    low, high = median_interval(values, rng=np.random.default_rng(1))
    assert low < np.nanmedian(values) < high
    assert high - low < 0.5
    assert all(np.isnan(median_interval([], rng=np.random.default_rng(1))))
