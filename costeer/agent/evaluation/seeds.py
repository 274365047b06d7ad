"""Run one job per seed, in this process or in spawned workers, each worker set up once.

Evaluation and co-steering both build one environment per worker (``start``), run seed after
seed in it, and close it. With ``workers`` 1 everything runs here (``start(..., own_process=False)``),
else in a pool of spawned processes (``start`` as each one's initializer); results keep the
seeds' order either way::

    results = map_seeds(_one_rollout, [0, 1, 2], workers=2, start=_start_worker, start_args=(...),
                        close=lambda: _worker.pop("env").close(), desc="evaluate cnn.pt", unit="rollout")
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
from tqdm import tqdm

__all__ = ["map_seeds", "finite_median"]

Result = TypeVar("Result")


def map_seeds(
    run: Callable[[int], Result],
    seeds: Sequence[int],
    *,
    workers: int,
    start: Callable[..., None],
    start_args: tuple[Any, ...],
    close: Callable[[], None],
    desc: str,
    unit: str,
    progress: bool | None = None,
) -> list[Result]:
    """``run(seed)`` for every seed, in order; ``progress`` ``None``: a bar only when stderr is a terminal."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    results: list[Result] = []
    with tqdm(total=len(seeds), desc=desc, unit=unit, disable=None if progress is None else not progress) as bar:
        if workers == 1:
            start(*start_args, own_process=False)
            try:
                for seed in seeds:
                    results.append(run(seed))
                    bar.update()
            finally:
                close()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=start, initargs=start_args) as pool:
                for result in pool.map(run, seeds):
                    results.append(result)
                    bar.update()
    return results


def finite_median(values: Sequence[float | None]) -> float | None:
    """The median of the finite values (``None`` and NaN left out), or ``None`` when there are none."""
    finite = [value for value in values if value is not None and np.isfinite(value)]
    return float(np.median(finite)) if finite else None
