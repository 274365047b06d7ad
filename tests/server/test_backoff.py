"""Backoff delays double up to their cap and start again after a reset."""

from __future__ import annotations

import pytest

from costeer.server.backoff import Backoff


def test_delays_double_to_the_cap_and_reset():
    backoff = Backoff(first=0.5, cap=3)
    assert [backoff.next() for _ in range(5)] == [0.5, 1, 2, 3, 3]
    backoff.reset()
    assert backoff.next() == 0.5


def test_a_cap_below_the_first_delay_is_refused():
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first=5, cap=1)
