"""Read episode datasets laid out like LeRobot's v3 datasets; damaged files refused by name.

::

    DIR/data/chunk-000/file-000.parquet            one row per step (a new file every ROWS_PER_FILE steps)
    DIR/meta/info.json                             features (dtype, shape, names), fps, counts
    DIR/meta/episodes/chunk-000/file-000.parquet   one row per episode (lengths, offsets, metadata)
    DIR/meta/stats.json                            min, max, mean, std, count per numeric feature
    DIR/meta/tasks.parquet                         task_index, task

``costeer.datasets.lerobot`` writes them::

    info = read_info("dataset/"); steps = read_steps("dataset/", columns=["observation.state", "action"])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DATA_PATH",
    "EPISODES_PATH",
    "INFO_PATH",
    "STATS_PATH",
    "TASKS_PATH",
    "DatasetError",
    "read_episodes",
    "read_info",
    "read_stats",
    "read_steps",
]

CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = f"data/{CHUNK_FILE}.parquet"
EPISODES_PATH = f"meta/episodes/{CHUNK_FILE}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"


class DatasetError(ValueError):
    """A dataset file that is missing or damaged; the message names it and says to build the dataset again."""


_REBUILD = "build the dataset again with `costeer dataset build`"


def read_info(directory: str | Path) -> dict[str, Any]:
    """``meta/info.json``; a clear error when ``directory`` is not a dataset, or the file is damaged."""
    path = Path(directory) / INFO_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not an episode dataset (no {INFO_PATH}): build one with `costeer dataset build`")
    info = _read_json(path)
    features = info.get("features") if isinstance(info, dict) else None
    if not isinstance(features, dict) or not isinstance(info.get("total_episodes"), int) or not all(
        isinstance(features.get(name), dict) and isinstance(features[name].get("names"), list)
        for name in ("observation.state", "action")
    ):
        raise DatasetError(f"{path} lacks the features' names or the episode count: {_REBUILD}")
    return info


def read_stats(directory: str | Path) -> dict[str, Any]:
    """``meta/stats.json``: per-feature statistics."""
    path = Path(directory) / STATS_PATH
    if not path.is_file():
        raise DatasetError(f"{path} is missing: {_REBUILD}")
    stats = _read_json(path)
    if not isinstance(stats, dict):
        raise DatasetError(f"{path} is not a map of feature statistics: {_REBUILD}")
    return stats


def read_steps(directory: str | Path, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Every data file's steps, in order, as one table."""
    directory = Path(directory)
    read_info(directory)
    return _read_tables(directory, "data/chunk-*/file-*.parquet", columns=columns)


def read_episodes(directory: str | Path) -> pa.Table:
    """The episodes table (one row per episode, in order)."""
    directory = Path(directory)
    read_info(directory)
    return _read_tables(directory, "meta/episodes/chunk-*/file-*.parquet", promote_options="default")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DatasetError(f"{path} is damaged ({error}): {_REBUILD}") from None


def _read_tables(directory: Path, pattern: str, *, columns: Sequence[str] | None = None, **concat: Any) -> pa.Table:
    """The Parquet files matching ``pattern`` in ``directory``, in order, as one table."""
    files = sorted(directory.glob(pattern))
    if not files:
        raise DatasetError(f"{directory} has no {pattern}: {_REBUILD}")
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file, columns=list(columns) if columns else None))
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(f"{file} is damaged ({' '.join(str(error).split())[:200]}): {_REBUILD}") from None
    try:
        return pa.concat_tables(tables, **concat)
    except pa.ArrowException as error:
        raise DatasetError(f"{directory}: the files {pattern} do not fit together ({error}): {_REBUILD}") from None
