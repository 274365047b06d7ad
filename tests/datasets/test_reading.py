"""Reading datasets back: what was written, and damaged files refused naming the file and what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from costeer.datasets.reading import DatasetError, read_episodes, read_info, read_stats, read_steps


def test_the_readers_agree_with_the_datasets_own_counts(real_dataset: Path) -> None:
    info = read_info(real_dataset)
    assert read_episodes(real_dataset).num_rows == info["total_episodes"]
    assert read_steps(real_dataset, columns=["action"]).num_rows == info["total_frames"]
    assert set(info["features"]) >= set(read_stats(real_dataset)) >= {"observation.state", "action"}


def test_a_folder_that_is_no_dataset_is_named_with_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an episode dataset.*costeer dataset build"):
        read_info(tmp_path)


@pytest.mark.parametrize(("damage", "reader", "names"), [
    ("info.json", read_info, "meta/info.json"),
    ("stats.json", read_stats, "meta/stats.json"),
    ("episodes", read_episodes, "meta/episodes/chunk-000/file-000.parquet"),
    ("data", read_steps, "data/chunk-000/file-000.parquet"),
])
def test_a_damaged_file_is_refused_by_name(real_dataset: Path, tmp_path: Path, damage: str, reader, names: str) -> None:
    copy = tmp_path / "dataset"
    shutil.copytree(real_dataset, copy)
    damaged = {"info.json": "meta/info.json", "stats.json": "meta/stats.json",
               "episodes": "meta/episodes/chunk-000/file-000.parquet", "data": "data/chunk-000/file-000.parquet"}[damage]
    path = copy / damaged
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetError, match="build the dataset again") as refused:
        reader(copy)
    assert names in str(refused.value)
