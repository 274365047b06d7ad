"""map_seeds: one job per seed in order, the worker set up once and closed even when a job fails."""

from __future__ import annotations

import math

import pytest

from costeer.agent.evaluation.seeds import finite_median, map_seeds


class Worker:
    def __init__(self) -> None:
        self.started: list[tuple[object, bool]] = []
        self.closed = 0

    def start(self, offset: int, *, own_process: bool = True) -> None:
        self.offset = offset
        self.started.append((offset, own_process))

    def close(self) -> None:
        self.closed += 1


def test_seeds_run_in_order_in_this_process_set_up_once_and_closed() -> None:
    worker = Worker()
    results = map_seeds(lambda seed: seed + worker.offset, [3, 1, 2], workers=1, start=worker.start, start_args=(10,),
                        close=worker.close, desc="test", unit="seed", progress=False)
    assert results == [13, 11, 12]
    assert worker.started == [(10, False)] and worker.closed == 1


def test_a_failing_seed_still_closes_the_worker() -> None:
    worker = Worker()

    def run(seed: int) -> int:
        if seed == 2:
            raise RuntimeError("blown up")
        return seed

    with pytest.raises(RuntimeError, match="blown up"):
        map_seeds(run, [1, 2, 3], workers=1, start=worker.start, start_args=(0,), close=worker.close, desc="test",
                  unit="seed", progress=False)
    assert worker.closed == 1


def test_no_workers_is_refused_with_the_option_to_fix() -> None:
    with pytest.raises(ValueError, match="--workers must be at least 1"):
        map_seeds(int, [1], workers=0, start=Worker().start, start_args=(0,), close=lambda: None, desc="test", unit="seed")


def test_the_median_leaves_out_missing_and_non_finite_values() -> None:
    assert finite_median([3.0, None, math.nan, 1.0, math.inf, 2.0]) == 2.0
    assert finite_median([None, math.nan]) is None
