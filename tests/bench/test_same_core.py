"""The same-core bench: one tiny real run, server and raw OpenMM on the core the server chose."""

from __future__ import annotations

import pytest

import same_core


@pytest.mark.slow
def test_a_tiny_run_times_raw_openmm_and_the_server_with_and_without_clients_on_one_core():
    row = same_core.measure("nanotube", clients=2, pairs=2, seconds=0.3, log=lambda line: None)
    assert row["platform"].startswith("CPU") or row["platform"] == "Reference"
    assert set(row["rates"]) == {"raw", "0 clients", "2 clients"} and all(len(v) == 2 for v in row["rates"].values())
    assert all(rate > 0 for values in row["rates"].values() for rate in values)
    ratios = row["ratios"]
    assert set(ratios) == {"0_vs_raw", "2_vs_raw", "2_vs_0"} and all(r["pairs"] == 2 for r in ratios.values())
    assert ratios["2_vs_raw"]["min"] <= ratios["2_vs_raw"]["q1"] <= ratios["2_vs_raw"]["q3"] <= ratios["2_vs_raw"]["max"]
    line = same_core.table([row]).splitlines()[-1]
    assert line.startswith("| nanotube (65; ") and "(N = 2)" in line and line.count("2 pairs") == 3
