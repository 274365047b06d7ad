"""Confidence intervals for what evaluation reports: success rates (Wilson) and medians (bootstrap).

    low, high = wilson_interval(successes=47, trials=50)      # 95 % by default
    low, high = median_interval(times, rng=np.random.default_rng(0))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["median_interval", "wilson_interval"]

Z_95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95 % interval."""


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval for a success rate (sound at 0 % and 100 %, unlike the normal one).

    ``(0.0, 1.0)`` when there were no trials: nothing is known.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    rate = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(rate * (1.0 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def median_interval(
    values: Sequence[float], *, rng: np.random.Generator, resamples: int = 2000, level: float = 0.95
) -> tuple[float, float]:
    """A percentile-bootstrap interval for the median of ``values`` (NaN, NaN when empty)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    medians = np.median(rng.choice(values, size=(resamples, values.size), replace=True), axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)
