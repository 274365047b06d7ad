"""A dataset's ``meta/stats.json``: per-component min, max, mean, std and count, merged episode by episode.

NaN is ignored (a component with no finite value has ``None``); means and spreads merge
exactly (Chan et al.'s pairwise update), so appending to a dataset merges its old statistics
with the new episodes' without reading the old steps again.

    stats = RunningStats(); stats.add(steps_table); json.dumps(stats.merged_with(old_stats_json))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["INDEX_COLUMNS", "RunningStats"]

INDEX_COLUMNS = ("index", "episode_index", "frame_index", "task_index")
"""Columns left out of the statistics."""


class RunningStats:
    """Statistics of every numeric step column but the indices, one steps table at a time.

    Usage: ``stats = RunningStats(); stats.add(table); stats.merged_with({})  # stats.json's content``
    """

    def __init__(self) -> None:
        self._columns: dict[str, dict[str, np.ndarray]] = {}

    def add(self, steps: pa.Table) -> None:
        """Fold in a table of steps (fixed-size-list vectors or scalars, bools as 0/1)."""
        for item in steps.schema:
            if item.name not in INDEX_COLUMNS:
                self._merge(item.name, _summary(_values(steps.column(item.name).combine_chunks(), item.type)))

    def merged_with(self, stats: dict[str, Any]) -> dict[str, Any]:
        """These statistics merged with ``stats`` (the content of a ``stats.json``), as JSON."""
        for name, entry in stats.items():
            self._merge(name, _from_json(entry))
        return {name: _to_json(summary) for name, summary in self._columns.items()}

    def _merge(self, name: str, new: dict[str, np.ndarray]) -> None:
        old = self._columns.get(name)
        if old is None:
            self._columns[name] = new
            return
        count = old["count"] + new["count"]
        share = np.divide(new["count"], count, out=np.zeros_like(count), where=count > 0)
        delta = np.nan_to_num(new["mean"]) - np.nan_to_num(old["mean"])
        mean = np.nan_to_num(old["mean"]) + delta * share
        m2 = np.nan_to_num(old["m2"]) + np.nan_to_num(new["m2"]) + delta**2 * old["count"] * share
        self._columns[name] = {
            "count": count,
            "mean": np.where(count > 0, mean, np.nan),
            "m2": np.where(count > 0, m2, np.nan),
            "min": np.fmin(old["min"], new["min"]),
            "max": np.fmax(old["max"], new["max"]),
        }


def _values(column: pa.Array, kind: pa.DataType) -> np.ndarray:
    """``(T, d)`` float64 with every non-finite value as NaN."""
    if pa.types.is_fixed_size_list(kind):
        values = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)
    else:
        values = column.to_numpy(zero_copy_only=False).reshape(-1, 1)
    values = values.astype(np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def _summary(values: np.ndarray) -> dict[str, np.ndarray]:
    """count, mean, sum of squared deviations (m2), min and max per component."""
    count = np.isfinite(values).sum(axis=0).astype(np.float64)
    some = count > 0
    result = {name: np.full(values.shape[1], np.nan) for name in ("mean", "m2", "min", "max")}
    if some.any():
        chosen = values[:, some]
        result["mean"][some] = np.nanmean(chosen, axis=0)
        result["m2"][some] = np.nansum((chosen - result["mean"][some]) ** 2, axis=0)
        result["min"][some] = np.nanmin(chosen, axis=0)
        result["max"][some] = np.nanmax(chosen, axis=0)
    return {"count": count, **result}


def _from_json(entry: dict[str, Any]) -> dict[str, np.ndarray]:
    def array(name: str) -> np.ndarray:
        return np.array([np.nan if value is None else value for value in entry[name]], dtype=np.float64)

    count = np.asarray(entry["count"], dtype=np.float64)
    return {"count": count, "mean": array("mean"), "m2": array("std") ** 2 * count, "min": array("min"), "max": array("max")}


def _to_json(summary: dict[str, np.ndarray]) -> dict[str, Any]:
    count = summary["count"]
    std = np.sqrt(np.divide(summary["m2"], count, out=np.full_like(count, np.nan), where=count > 0))
    values = {"min": summary["min"], "max": summary["max"], "mean": summary["mean"], "std": std}
    return {**{name: _json_list(value, count) for name, value in values.items()}, "count": count.astype(int).tolist()}


def _json_list(values: np.ndarray, count: np.ndarray) -> list[float | None]:
    """Floats for JSON; ``None`` for a component with no finite value."""
    return [float(value) if number else None for value, number in zip(values, count)]
