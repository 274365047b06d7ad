"""The bench's shared interleaving: the schedule of windows, frames/s within a window, paired ratios."""

from __future__ import annotations

import math

import pytest

from interleave import interleave, paired_ratio, rate_between


def test_each_round_measures_every_arm_once_starting_one_arm_later():
    order = []
    arms = {name: (lambda name=name: order.append(name) or len(order)) for name in "ABC"}
    heard = []
    windows = interleave(arms, 4, on_round=lambda number, round_: heard.append((number, round_)))
    assert order == list("ABC" "BCA" "CAB" "ABC")
    assert windows == {"A": [1, 6, 8, 10], "B": [2, 4, 9, 11], "C": [3, 5, 7, 12]}
    assert heard[1] == (2, {"A": 6, "B": 4, "C": 5})


def test_interleaving_needs_a_round():
    with pytest.raises(ValueError, match="pairs must be at least 1"):
        interleave({"A": lambda: 1.0}, 0)


def test_frames_per_second_counts_only_the_arrivals_inside_the_window():
    arrivals = [0.0, 0.5, 1.0, 1.1, 1.2, 1.3, 1.4, 3.0]
    assert rate_between(arrivals, 1.0, 2.0) == pytest.approx(4 / 0.4)


def test_a_window_with_fewer_than_two_frames_has_no_rate():
    assert rate_between([], 0.0, 1.0) == 0.0
    assert rate_between([0.5, 2.0], 0.0, 1.0) == 0.0


def test_paired_ratio_is_taken_within_each_pair_and_leaves_out_broken_pairs():
    ratio = paired_ratio([90.0, 50.0, 99.0, float("nan"), 1.0], [100.0, 100.0, 100.0, 100.0, 0.0])
    assert ratio == pytest.approx({"median": 0.9, "q1": 0.7, "q3": 0.945, "min": 0.5, "max": 0.99, "pairs": 3})
    assert paired_ratio([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5) == {
        "median": 3.0, "q1": 2.0, "q3": 4.0, "min": 1.0, "max": 5.0, "pairs": 5}  # quartiles within the range
    assert paired_ratio([2.0], [1.0]) == {"median": 2.0, "q1": 2.0, "q3": 2.0, "min": 2.0, "max": 2.0, "pairs": 1}
    assert math.isnan(paired_ratio([], [])["median"])
