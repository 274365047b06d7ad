"""Write episode datasets laid out like LeRobot's v3 datasets (without depending on lerobot).

The layout is in ``costeer.datasets.reading``, which reads them back. Vectors are
fixed-size-list columns, so pyarrow, pandas and Hugging Face ``datasets`` read the files as
they are: ``pandas.read_parquet("DIR/data/chunk-000/file-000.parquet")``. Episodes are written
one at a time (:class:`DatasetWriter`), and a dataset can be appended to::

    write_dataset(episodes, "dataset/", task="nanotube")
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from costeer.datasets.episodes import Episode
from costeer.datasets.reading import DATA_PATH, EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH, read_episodes, read_info, read_stats
from costeer.datasets.stats import RunningStats
from costeer.tasks.encoding import ACTION_NAMES, INTERACTION_TYPE_CODES

__all__ = ["CODEBASE_VERSION", "ROWS_PER_FILE", "DatasetWriter", "write_dataset"]

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
"""Files per chunk folder."""
ROWS_PER_FILE = 100_000
"""Steps per data file before the next file begins (an episode is never split across files)."""

_EPISODE_TYPES = {
    "success_index": pa.int64(), "force_scale": pa.float64(), "strength_factor": pa.float64(),
    "force_ratio": pa.float64(), "spring_constant": pa.float64(), "max_force": pa.float64(),
    "interaction_type": pa.string(), "mass_weighted": pa.bool_(), "repaired": pa.string(),
    "frame_interval_s": pa.float64(), "simulation_interval_ps": pa.float64(), "owners": pa.list_(pa.string()),
}
"""Types of episode metadata that may be ``None`` in every row of a file (so that files agree)."""
_UNITS = {
    "length": "nm", "time": "s (timestamp, wall_time), ps (simulation_time)", "force": "kJ/(mol nm)",
    "strength": "costeer's interaction scale: force = strength x f(d) on the grabbed atoms' centre",
    "frames": "task frame (observation, action, user_force)",
}


def write_dataset(
    episodes: Iterable[Episode],
    directory: str | Path,
    *,
    task: str,
    description: str = "",
    extra_info: dict[str, Any] | None = None,
    overwrite: bool = False,
    append: bool = False,
    rows_per_file: int = ROWS_PER_FILE,
) -> Path:
    """Write ``episodes`` (one task; any iterable, taken one at a time) to ``directory``; returns it.

    ``append``: add them to the dataset in ``directory`` (same task and columns), or start one
    there. ``extra_info`` goes into ``info.json`` under ``"costeer"`` (units, options, sources).
    """
    with DatasetWriter(directory, task=task, description=description, extra_info=extra_info,
                       overwrite=overwrite, append=append, rows_per_file=rows_per_file) as writer:
        for episode in episodes:
            writer.add(episode)
    return Path(directory)


class DatasetWriter:
    """Writes a dataset one episode at a time: memory holds one episode's steps, never the whole set.

    Usage::

        with DatasetWriter("dataset/", task="nanotube", append=True) as writer:
            for episode in episodes:
                writer.add(episode)

    Steps go to a Parquet data file as they come (a new file every ``rows_per_file`` steps);
    the episodes table, ``info.json`` and ``stats.json`` are written when the writer closes
    without an error. A failed build leaves ``directory`` as it was: a new dataset is written
    to a hidden folder beside it and renamed into place; an append removes its new files.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        task: str,
        description: str = "",
        extra_info: dict[str, Any] | None = None,
        overwrite: bool = False,
        append: bool = False,
        rows_per_file: int = ROWS_PER_FILE,
    ) -> None:
        if rows_per_file < 1:
            raise ValueError(f"rows_per_file must be at least 1, got {rows_per_file}")
        self.directory = Path(directory)
        self.task, self.description, self.rows_per_file = task, description, rows_per_file
        self._extra_info = dict(extra_info or {})
        existing = _existing_dataset(self.directory, task=task, overwrite=overwrite, append=append)
        self._existing = existing
        self._replace = existing is None and self.directory.exists() and any(self.directory.iterdir())
        if existing is None:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            self._target = Path(tempfile.mkdtemp(prefix=f".{self.directory.name}.partial-", dir=self.directory.parent))
        else:
            self._target = self.directory
        info = existing["info"] if existing else {}
        self._features: dict[str, Any] | None = info.get("features")
        self._first_index = int(info.get("total_frames", 0))
        self._first_episode = int(info.get("total_episodes", 0))
        self._location = _next_location(self._target / "data")
        self._episode_location = _next_location(self._target / "meta" / "episodes")
        self._intervals: list[float] = list(existing["intervals"]) if existing else []
        self._file: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._written: list[Path] = []
        self._rows: list[dict[str, Any]] = []
        self._stats = RunningStats()
        self._frames = 0

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    @property
    def episodes_written(self) -> int:
        """Episodes added by this writer so far."""
        return len(self._rows)

    def add(self, episode: Episode) -> None:
        """Write one episode's steps to the current data file and keep its row of metadata."""
        start = self._first_index + self._frames
        table = _steps_table(episode, first_index=start, episode_index=self._first_episode + len(self._rows))
        features = _features(table.schema, episode.names)
        if self._features is None:
            self._features = features
        elif features != self._features:
            raise ValueError(_column_mismatch(episode, self._features, features, self.directory))
        if self._file is not None and self._file_rows + len(episode) > self.rows_per_file:
            self._close_file()
        if self._file is None:
            path = self._target / DATA_PATH.format(chunk_index=self._location[0], file_index=self._location[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._written.append(path)
            self._file = pq.ParquetWriter(path, table.schema)
        self._file.write_table(table)
        self._file_rows += len(episode)
        self._stats.add(table)
        self._rows.append({
            "episode_index": self._first_episode + len(self._rows),
            "tasks": [self.task],
            "length": len(episode),
            "data/chunk_index": self._location[0],
            "data/file_index": self._location[1],
            "dataset_from_index": start,
            "dataset_to_index": start + len(episode),
            **episode.metadata,
        })
        self._frames += len(episode)
        if episode.metadata.get("frame_interval_s"):
            self._intervals.append(float(episode.metadata["frame_interval_s"]))

    def close(self) -> Path:
        """Write the episodes table, tasks, ``stats.json`` and ``info.json``; a new dataset moves into place."""
        if not self._rows and self._existing is None:
            self.abandon()
            raise ValueError(f"no episodes to write to {self.directory}")
        self._close_file()
        if self._rows:
            chunk, number = self._episode_location
            path = self._target / EPISODES_PATH.format(chunk_index=chunk, file_index=number)
            self._written.append(path)
            _write_table(_episodes_table(self._rows), path)
        _write_table(pa.table({"task_index": [0], "task": [self.task]}), self._target / TASKS_PATH)
        stats = self._stats.merged_with(self._existing["stats"] if self._existing else {})
        (self._target / STATS_PATH).write_text(json.dumps(stats, indent=2) + "\n")
        (self._target / INFO_PATH).write_text(json.dumps(self._info(), indent=2) + "\n")
        if self._existing is None:
            _move_into_place(self._target, self.directory, replace=self._replace)
        return self.directory

    def abandon(self) -> None:
        """Leave ``directory`` as it was: remove what this writer wrote."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._existing is None:
            shutil.rmtree(self._target, ignore_errors=True)
        else:
            for path in self._written:
                path.unlink(missing_ok=True)

    def _close_file(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file, self._file_rows = None, 0
        self._location = _following(*self._location)

    def _info(self) -> dict[str, Any]:
        previous = self._existing["info"] if self._existing else {}
        total = self._first_episode + len(self._rows)
        costeer = dict(previous.get("costeer", {}))
        sources = sorted(set(costeer.get("sources", [])) | set(self._extra_info.get("sources", [])))
        costeer.update({"task": self.task, "description": self.description or costeer.get("description", ""),
                        "action_types": INTERACTION_TYPE_CODES, "action_names": list(ACTION_NAMES), "units": _UNITS,
                        **self._extra_info, "sources": sources})
        return {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": f"costeer:{self.task}",
            "total_episodes": total,
            "total_frames": self._first_index + self._frames,
            "total_tasks": 1,
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 0,
            "fps": int(round(1.0 / float(np.median(self._intervals)))) if self._intervals else 30,
            "splits": {"train": f"0:{total}"},
            "data_path": DATA_PATH,
            "video_path": None,
            "features": self._features,
            "costeer": costeer,
        }


def _existing_dataset(directory: Path, *, task: str, overwrite: bool, append: bool) -> dict[str, Any] | None:
    """The dataset to append to (info, stats, frame intervals), or ``None`` to write a new one; refusals."""
    if not (directory.exists() and any(directory.iterdir())):
        return None
    is_dataset = (directory / INFO_PATH).is_file()
    if append and is_dataset:
        info = read_info(directory)
        theirs = info.get("costeer", {}).get("task")
        if theirs != task:
            raise ValueError(f"{directory} is a dataset of task {theirs!r}, not {task!r}: "
                             "append only episodes of the same task (or choose another -o)")
        stats = directory / STATS_PATH
        intervals = read_episodes(directory).column("frame_interval_s").to_pylist()
        return {"info": info, "stats": read_stats(directory) if stats.is_file() else {},
                "intervals": [value for value in intervals if value]}
    if not overwrite:
        hint = "--append to add to it, or --overwrite" if is_dataset else "--overwrite"
        raise FileExistsError(f"{directory} exists and is not empty: choose another -o or pass {hint}")
    if not is_dataset:  # --overwrite replaces datasets, nothing else
        raise FileExistsError(
            f"{directory} is not empty and is not a costeer dataset (no {INFO_PATH}): "
            "--overwrite only replaces datasets; choose another -o"
        )
    return None


def _column_mismatch(episode: Episode, expected: dict[str, Any], found: dict[str, Any], directory: Path) -> str:
    """What differs between the dataset's columns and an episode's, for the error message."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    changed = sorted(name for name in set(expected) & set(found) if expected[name] != found[name])
    parts = [f"{label}: {', '.join(names)}" for label, names in
             (("missing", missing), ("new", extra), ("of another shape or names", changed)) if names]
    return (f"{episode.metadata.get('source')} gives other columns than the dataset {directory} "
            f"({'; '.join(parts)}): build one dataset per system and options (--velocities, --anonymise)")


def _move_into_place(built: Path, directory: Path, *, replace: bool) -> None:
    """Rename the finished ``built`` folder to ``directory``, replacing an old dataset there."""
    if replace:
        old = directory.with_name(f"{built.name}.old")
        directory.rename(old)
        built.rename(directory)
        shutil.rmtree(old)
        return
    if directory.exists():
        directory.rmdir()  # empty: checked before writing
    built.rename(directory)


def _next_location(folder: Path) -> tuple[int, int]:
    """The (chunk, file) after the last ``chunk-*/file-*.parquet`` under ``folder``; (0, 0) when none."""
    files = sorted(folder.glob("chunk-*/file-*.parquet"))
    if not files:
        return 0, 0
    return _following(int(files[-1].parent.name.split("-")[1]), int(files[-1].stem.split("-")[1]))


def _following(chunk: int, number: int) -> tuple[int, int]:
    return (chunk, number + 1) if number + 1 < CHUNKS_SIZE else (chunk + 1, 0)


def _column(array: np.ndarray) -> pa.Array:
    """A numpy column as arrow: scalars as they are, ``(T, d)`` vectors as fixed-size lists."""
    if array.ndim == 1:
        return pa.array(array)
    width = int(np.prod(array.shape[1:]))
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(array).reshape(-1)), width)


def _steps_table(episode: Episode, *, first_index: int, episode_index: int) -> pa.Table:
    length = len(episode)
    columns: dict[str, pa.Array] = {
        "index": pa.array(np.arange(first_index, first_index + length, dtype=np.int64)),
        "episode_index": pa.array(np.full(length, episode_index, dtype=np.int64)),
        "frame_index": pa.array(np.arange(length, dtype=np.int64)),
        "task_index": pa.array(np.zeros(length, dtype=np.int64)),
    }
    for name, values in episode.steps.items():
        columns[name] = _column(values)
    return pa.table(columns)


def _episodes_table(rows: list[dict[str, Any]]) -> pa.Table:
    columns = {name: [row.get(name) for row in rows] for name in rows[0]}
    return pa.table({name: pa.array(values, type=_EPISODE_TYPES.get(name)) for name, values in columns.items()})


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
