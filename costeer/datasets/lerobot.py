"""Write and read episode datasets laid out like LeRobot's v3 datasets (without depending on lerobot).

::

    DIR/data/chunk-000/file-000.parquet            one row per step, every episode
    DIR/meta/info.json                             features (dtype, shape, names), fps, counts
    DIR/meta/episodes/chunk-000/file-000.parquet   one row per episode (lengths, offsets, metadata)
    DIR/meta/stats.json                            min, max, mean, std, count per numeric feature
    DIR/meta/tasks.parquet                         task_index, task

Vectors are fixed-size-list columns, so pyarrow, pandas and Hugging Face ``datasets`` read the
files as they are: ``pandas.read_parquet("DIR/data/chunk-000/file-000.parquet")``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from costeer.datasets.episodes import Episode
from costeer.tasks.encoding import ACTION_NAMES, INTERACTION_TYPE_CODES

__all__ = [
    "CODEBASE_VERSION",
    "DATA_PATH",
    "EPISODES_PATH",
    "INFO_PATH",
    "STATS_PATH",
    "TASKS_PATH",
    "read_episodes",
    "read_info",
    "read_steps",
    "write_dataset",
]

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = f"data/{CHUNK_FILE}.parquet"
EPISODES_PATH = f"meta/episodes/{CHUNK_FILE}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNKS_SIZE = 1000

_INDEX_COLUMNS = ("index", "episode_index", "frame_index", "task_index")


def write_dataset(
    episodes: Sequence[Episode],
    directory: str | Path,
    *,
    task: str,
    description: str = "",
    extra_info: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``episodes`` (one task) as a dataset in ``directory``; returns the directory.

    ``extra_info`` goes into ``info.json`` under ``"costeer"`` (units, options, sources).
    """
    directory = Path(directory)
    if not episodes:
        raise ValueError("no episodes to write: the recordings held no frames with positions")
    if directory.exists() and any(directory.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{directory} exists and is not empty: choose another -o or pass --overwrite")
        if not (directory / INFO_PATH).is_file():  # --overwrite replaces datasets, nothing else
            raise FileExistsError(
                f"{directory} is not empty and is not a costeer dataset (no {INFO_PATH}): "
                "--overwrite only replaces datasets; choose another -o"
            )
        shutil.rmtree(directory)
    _check_same_columns(episodes)
    steps = _steps_table(episodes)
    names = episodes[0].names
    lengths = [len(episode) for episode in episodes]
    location = {"chunk_index": 0, "file_index": 0}
    _write_table(steps, directory / DATA_PATH.format(**location))
    _write_table(_episodes_table(episodes, lengths, task), directory / EPISODES_PATH.format(**location))
    _write_table(pa.table({"task_index": [0], "task": [task]}), directory / TASKS_PATH)
    intervals = [episode.metadata["frame_interval_s"] for episode in episodes if episode.metadata["frame_interval_s"]]
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": f"costeer:{task}",
        "total_episodes": len(episodes),
        "total_frames": int(sum(lengths)),
        "total_tasks": 1,
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 0,
        "fps": int(round(1.0 / float(np.median(intervals)))) if intervals else 30,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH,
        "video_path": None,
        "features": _features(steps.schema, names),
        "costeer": {
            "task": task,
            "description": description,
            "action_types": INTERACTION_TYPE_CODES,
            "action_names": list(ACTION_NAMES),
            "units": {"length": "nm", "time": "s (timestamp, wall_time), ps (simulation_time)",
                      "force": "kJ/(mol nm)", "frames": "task frame (observation, action, user_force)"},
            **(extra_info or {}),
        },
    }
    (directory / INFO_PATH).write_text(json.dumps(info, indent=2) + "\n")
    (directory / STATS_PATH).write_text(json.dumps(_stats(steps), indent=2) + "\n")
    return directory


def read_info(directory: str | Path) -> dict[str, Any]:
    """``meta/info.json``; a clear error when ``directory`` is not a dataset."""
    path = Path(directory) / INFO_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not an episode dataset (no {INFO_PATH}): build one with `costeer dataset build`")
    return json.loads(path.read_text())


def read_steps(directory: str | Path, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Every data file's steps, in order, as one table."""
    directory = Path(directory)
    read_info(directory)
    files = sorted((directory / "data").glob("chunk-*/file-*.parquet"))
    return pa.concat_tables([pq.read_table(file, columns=list(columns) if columns else None) for file in files])


def read_episodes(directory: str | Path) -> pa.Table:
    """The episodes table (one row per episode, in order)."""
    directory = Path(directory)
    read_info(directory)
    files = sorted((directory / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    return pa.concat_tables([pq.read_table(file) for file in files])


def _check_same_columns(episodes: Sequence[Episode]) -> None:
    first = {name: array.shape[1:] for name, array in episodes[0].steps.items()}
    for episode in episodes[1:]:
        shapes = {name: array.shape[1:] for name, array in episode.steps.items()}
        if shapes != first:
            raise ValueError(
                f"{episode.metadata.get('source')} gives steps of another shape ({shapes}) than "
                f"{episodes[0].metadata.get('source')} ({first}): build one dataset per system and options"
            )


def _column(array: np.ndarray) -> pa.Array:
    """A numpy column as arrow: scalars as they are, ``(T, d)`` vectors as fixed-size lists."""
    if array.ndim == 1:
        return pa.array(array)
    width = int(np.prod(array.shape[1:]))
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(array).reshape(-1)), width)


def _steps_table(episodes: Sequence[Episode]) -> pa.Table:
    lengths = np.array([len(episode) for episode in episodes])
    columns: dict[str, pa.Array] = {
        "index": pa.array(np.arange(lengths.sum(), dtype=np.int64)),
        "episode_index": pa.array(np.repeat(np.arange(len(episodes), dtype=np.int64), lengths)),
        "frame_index": pa.array(np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])),
        "task_index": pa.array(np.zeros(lengths.sum(), dtype=np.int64)),
    }
    for name in episodes[0].steps:
        columns[name] = _column(np.concatenate([episode.steps[name] for episode in episodes]))
    return pa.table(columns)


def _episodes_table(episodes: Sequence[Episode], lengths: list[int], task: str) -> pa.Table:
    ends = np.cumsum(lengths)
    rows = [
        {
            "episode_index": number,
            "tasks": [task],
            "length": length,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": int(end - length),
            "dataset_to_index": int(end),
            **episode.metadata,
        }
        for number, (episode, length, end) in enumerate(zip(episodes, lengths, ends))
    ]
    schema = {"success_index": pa.int64(), "force_scale": pa.float64(), "strength_factor": pa.float64(),
              "force_ratio": pa.float64(), "spring_constant": pa.float64(),
              "max_force": pa.float64(), "interaction_type": pa.string(), "mass_weighted": pa.bool_(),
              "repaired": pa.string(), "frame_interval_s": pa.float64(), "simulation_interval_ps": pa.float64(),
              "owners": pa.list_(pa.string())}
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    return pa.table({name: pa.array(values, type=schema.get(name)) for name, values in columns.items()})


def _write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _features(schema: pa.Schema, names: dict[str, list[str]]) -> dict[str, Any]:
    features = {}
    for item in schema:
        kind = item.type
        shape = [kind.list_size] if pa.types.is_fixed_size_list(kind) else [1]
        value = kind.value_type if pa.types.is_fixed_size_list(kind) else kind
        dtype = "bool" if pa.types.is_boolean(value) else str(value.to_pandas_dtype().__name__)
        features[item.name] = {"dtype": dtype, "shape": shape, "names": names.get(item.name)}
    return features


def _stats(steps: pa.Table) -> dict[str, Any]:
    """LeRobot-style statistics (per component, NaN ignored) of every numeric feature but the indices."""
    stats = {}
    for item in steps.schema:
        if item.name in _INDEX_COLUMNS:
            continue
        column = steps.column(item.name).combine_chunks()
        if pa.types.is_fixed_size_list(item.type):
            values = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)
        else:
            values = column.to_numpy(zero_copy_only=False).reshape(-1, 1)
        values = np.where(np.isfinite(values.astype(np.float64)), values.astype(np.float64), np.nan)
        count = np.isfinite(values).sum(axis=0)
        stats[item.name] = {
            name: _json_list(_per_component(function, values, count), count)
            for name, function in (("min", np.nanmin), ("max", np.nanmax), ("mean", np.nanmean), ("std", np.nanstd))
        }
        stats[item.name]["count"] = count.astype(int).tolist()
    return stats


def _per_component(function: Any, values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``function`` over steps for each component that has a finite value (NaN for the others)."""
    result = np.full(values.shape[1], np.nan)
    if count.any():
        result[count > 0] = function(values[:, count > 0], axis=0)
    return result


def _json_list(values: np.ndarray, count: np.ndarray) -> list[float | None]:
    """Floats for JSON; ``None`` for a component with no finite value."""
    return [float(value) if number else None for value, number in zip(values, count)]
