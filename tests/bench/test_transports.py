"""The transports bench's arithmetic: frames/s within a window, and paired ratios."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "transports.py"
_SPEC = importlib.util.spec_from_file_location("bench_transports", _PATH)
transports = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(transports)


def test_frames_per_second_counts_only_the_arrivals_inside_the_window():
    arrivals = [0.0, 0.5, 1.0, 1.1, 1.2, 1.3, 1.4, 3.0]
    assert transports.rate_between(arrivals, 1.0, 2.0) == pytest.approx(4 / 0.4)


def test_a_window_with_fewer_than_two_frames_has_no_rate():
    assert transports.rate_between([], 0.0, 1.0) == 0.0
    assert transports.rate_between([0.5, 2.0], 0.0, 1.0) == 0.0


def test_paired_ratio_is_taken_within_each_pair_and_leaves_out_broken_pairs():
    ratio = transports.paired_ratio([90.0, 50.0, 99.0, float("nan"), 1.0], [100.0, 100.0, 100.0, 100.0, 0.0])
    assert ratio == {"median": 0.9, "min": 0.5, "max": 0.99, "pairs": 3}
    assert math.isnan(transports.paired_ratio([], [])["median"])
