"""The host's steal time, read from the kernel's /proc/stat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from steal import steal_seconds


def test_steal_is_the_eighth_count_of_the_cpu_line_in_seconds(tmp_path: Path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 9000 3 0 2 250 0 0\ncpu0 50 0 25 4500 1 0 1 125 0 0\n")
    assert steal_seconds(stat) == pytest.approx(250 / os.sysconf("SC_CLK_TCK"))


def test_no_figure_where_the_kernel_gives_none(tmp_path: Path):
    assert steal_seconds(tmp_path / "missing") is None
    (tmp_path / "old").write_text("cpu  100 0 50 9000\n")  # a kernel that counts no steal
    assert steal_seconds(tmp_path / "old") is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux only")
def test_this_machine_counts_steal_that_never_goes_back():
    first = steal_seconds()
    assert first is not None and first >= 0
    assert steal_seconds() >= first
