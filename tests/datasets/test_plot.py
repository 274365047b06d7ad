"""``costeer dataset plot``: one path figure per episode, plus forces and success."""

from __future__ import annotations

from pathlib import Path

from costeer.datasets.plot import plot_dataset

PNG = b"\x89PNG\r\n\x1a\n"


def test_one_path_figure_per_episode_and_the_overviews(real_dataset: Path, tmp_path: Path) -> None:
    written = plot_dataset(real_dataset, tmp_path / "figures")
    paths = sorted((tmp_path / "figures" / "paths").iterdir())
    assert [path.name for path in paths] == ["episode-000.png", "episode-001.png", "episode-002.png"]
    for name in ("paths.png", "force.png", "success.png"):
        assert tmp_path / "figures" / name in written
    assert all(path.read_bytes().startswith(PNG) and path.stat().st_size > 5000 for path in written)
