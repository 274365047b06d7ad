"""The classroom bench: its summary of windows, and one tiny real run (2 clients, 1 pair, seconds)."""

from __future__ import annotations

import pytest

import classroom


def window(steps: float, clients: int = 0, fps: float = 30.0, *, grew: int = 0) -> dict:
    return {
        "clients": clients, "steps_per_second": steps, "frames_per_second": [fps] * clients,
        "published_per_second": 30.0, "server_cores": 1.0, "thread_cores": {"costeer-simulation": 0.9}, "clients_cores": 0.2 if clients else None, "rss_before": 100_000_000, "rss_during": 100_000_000 + grew,
        "bytes_per_client": grew / clients if clients else None, "load_average": 1.0,
    }


def test_the_row_pairs_each_crowded_window_with_the_idle_one_of_its_round():
    idle = [window(100.0), window(50.0), window(200.0)]
    crowded = [window(97.0, 2, grew=200_000), window(40.0, 2, grew=100_000), window(198.0, 2, grew=400_000)]
    for crowd, steal in zip(crowded, (0.01, 0.12, 0.02)):
        crowd["steal_cores"] = steal  # the host's; the idle windows' went unmeasured
    row = classroom.summarise("nanotube", 65, "CPU", 2, idle, crowded, None)
    assert row["ratio"] == pytest.approx({"median": 0.97, "q1": 0.885, "q3": 0.98, "min": 0.8, "max": 0.99, "pairs": 3})
    assert row["bytes_per_client"] == {"median": 100_000, "max": 200_000}
    assert row["met"] == {"ratio": True, "frames_per_second": True, "memory": True}
    assert row["steal_cores"] == {"0": None, "2": pytest.approx(0.02)}
    assert "| nanotube (65, CPU) | 2 | 100 / 97 | 97.0% (80.0%–99.0%, 3 pairs) |" in classroom.table([row])
    assert "| ? / 0.02 |" in classroom.table([row])


def test_a_reader_below_the_published_rate_a_big_client_or_a_client_that_never_skipped_misses_the_targets():
    slow = window(90.0, 2, fps=30.0) | {"stalled": {"received": 40, "published": 40, "skipped": 0}}
    row = classroom.summarise("water", 3222, "CPU", 2, [window(100.0)], [window(99.0, 2, fps=20.0, grew=4_000_000)], slow)
    assert row["met"] == {"ratio": True, "frames_per_second": False, "memory": False, "slow_client": False}
    assert "40 / 40 (0 skipped in frame.index); 30.0 of 30.0" in classroom.table([row])


@pytest.mark.slow
def test_a_tiny_classroom_on_the_nanotube_measures_every_target():
    (row,) = classroom.run(["nanotube"], clients=2, pairs=1, seconds=1.0, stall_seconds=1.0, log=lambda line: None)
    assert row["ratio"]["pairs"] == 1 and row["steps_per_second"]["0"] > 0
    assert row["frames_per_second"]["min"] > 10  # 30 set; the machine is shared
    assert row["slow_client"]["received"] >= 1 and row["slow_client"]["published"] >= row["slow_client"]["received"]
    assert set(row["met"]) == {"ratio", "frames_per_second", "memory", "slow_client"}
    assert row["steal_cores"]["0"] is not None and row["steal_cores"]["0"] >= 0  # Linux counts it


@pytest.mark.slow
def test_the_crowd_runs_on_the_core_it_is_given():
    with classroom.Classroom("nanotube", seconds=0.5, warmup=0.2, crowd_core=0) as room:
        window = room.window(2)
    assert window["clients_on_cores"] == [0] and len(window["frames_per_second"]) == 2
