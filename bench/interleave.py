"""Interleaved measurement windows and their arithmetic, shared by every bench comparison.

These machines drift within a run (PERF-NOTES: raw OpenMM read 874 steps/s at the start of a
95-s run and 522 at its end), so a before/after comparison biases whatever runs last.
Each round therefore measures every arm once, starting one arm later each round, and the
arms are compared within rounds: the median and range of the paired ratios.

    rates = interleave({"0 clients": idle_window, "32 clients": crowd_window}, pairs=5)
    paired_ratio(rates["32 clients"], rates["0 clients"])   # {"median": .., "q1": .., "q3": .., "min": .., "max": .., "pairs": 5}
"""

from __future__ import annotations

import statistics
from typing import Callable, TypeVar

__all__ = ["interleave", "paired_ratio", "rate_between"]

Window = TypeVar("Window")


def interleave(
    arms: dict[str, Callable[[], Window]], pairs: int, *, on_round: Callable[[int, dict[str, Window]], None] | None = None,
) -> dict[str, list[Window]]:
    """``pairs`` rounds of one window per arm; round ``i`` starts with arm ``i mod len(arms)``.

    Returns every arm's windows in round order. ``on_round(number, windows)`` (``number``
    from 1) hears each finished round, with that round's window of each arm.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    names = list(arms)
    windows: dict[str, list[Window]] = {name: [] for name in names}
    for round_index in range(pairs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            windows[name].append(arms[name]())
        if on_round is not None:
            on_round(round_index + 1, {name: windows[name][-1] for name in names})
    return windows


def paired_ratio(numerators: list[float], denominators: list[float]) -> dict[str, float]:
    """Median, quartiles (``q1``, ``q3``), min and max of the ratios of each pair (pairs with a NaN or
    a zero denominator left out)."""
    ratios = [a / b for a, b in zip(numerators, denominators) if a == a and b == b and b > 0]
    if not ratios:
        nan = float("nan")
        return {"median": nan, "q1": nan, "q3": nan, "min": nan, "max": nan, "pairs": 0}
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    return {"median": statistics.median(ratios), "q1": q1, "q3": q3, "min": min(ratios), "max": max(ratios),
            "pairs": len(ratios)}


def rate_between(arrivals: list[float], start: float, end: float) -> float:
    """Events/s of the arrivals (seconds, ascending) within [start, end]: intervals between the first and last."""
    inside = [t for t in arrivals if start <= t <= end]
    if len(inside) < 2 or inside[-1] <= inside[0]:
        return 0.0
    return (len(inside) - 1) / (inside[-1] - inside[0])
