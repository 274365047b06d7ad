"""The shipped sample (``recordings/``): small, and a dataset of 8 synthetic episodes."""

from __future__ import annotations

from pathlib import Path

from costeer.datasets import build_dataset, read_episodes, summarise_dataset

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "synthetic-nanotube-seed2.nanover.zip"
MEGABYTE = 1 << 20


def test_the_sample_recording_builds_a_dataset_of_eight_synthetic_episodes(tmp_path: Path) -> None:
    assert SAMPLE.stat().st_size < 5 * MEGABYTE
    dataset = build_dataset([SAMPLE], task="nanotube", output=tmp_path / "dataset", progress=False)
    summary = summarise_dataset(dataset)
    assert summary.episodes == 8 and summary.origins == {"synthetic": 8}
    episodes = read_episodes(dataset).to_pydict()
    assert set(map(tuple, episodes["owners"])) == {("costeer-demonstrator-2",)}
    assert summary.successes == sum(episodes["success"])
    assert sum(path.stat().st_size for path in dataset.rglob("*") if path.is_file()) < 5 * MEGABYTE
