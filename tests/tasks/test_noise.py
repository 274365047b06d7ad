"""SmoothNoise: spread, smoothness (not white), and the same wobble whatever the sampling rate."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks.noise import SmoothNoise


def _sample(step: float, seconds: float = 200.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    noise = SmoothNoise(spread=0.05, correlation_s=0.5, rng=np.random.default_rng(seed))
    times = np.arange(0.0, seconds, step)
    return times, np.array([noise.at(t) for t in times])


def test_spread_is_about_what_was_asked() -> None:
    _, values = _sample(0.05)
    assert 0.025 < values.std() < 0.06


def test_it_is_smooth_not_white() -> None:
    _, values = _sample(0.033)
    steps = np.diff(values[:, 0])
    # Neighbouring samples are nearly equal (white noise would jump by ~sqrt(2) x its spread).
    assert np.abs(steps).mean() < 0.1 * values[:, 0].std()
    lag = 3  # 0.1 s
    correlation = np.corrcoef(values[:-lag, 0], values[lag:, 0])[0, 1]
    assert correlation > 0.9


def test_spread_does_not_depend_on_the_sampling_rate() -> None:
    _, fine = _sample(0.033, seed=5)
    _, coarse = _sample(0.27, seed=5)
    assert fine.std() == pytest.approx(coarse.std(), rel=0.35)


def test_time_must_not_go_back() -> None:
    noise = SmoothNoise(spread=0.05, correlation_s=0.5, rng=np.random.default_rng(0))
    noise.at(1.0)
    with pytest.raises(ValueError, match="back in time"):
        noise.at(0.5)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="correlation_s"):
        SmoothNoise(spread=0.05, correlation_s=0.0, rng=np.random.default_rng(0))
