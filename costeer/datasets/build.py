"""Build an episode dataset from recordings: read, split, turn into steps under a task, write.

    build_dataset(["a.nanover.zip", "b.nanover.zip"], task="nanotube", output="dataset/")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from costeer import __version__
from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.episodes import Episode, Pseudonyms, build_episode
from costeer.datasets.lerobot import write_dataset
from costeer.tasks import resolve_task

__all__ = ["build_dataset"]


def build_dataset(
    recordings: Sequence[str | Path],
    *,
    task: str,
    output: str | Path,
    per_grab: bool = False,
    anonymise: bool = False,
    velocities: bool = False,
    origin: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Write the episodes of ``recordings`` under ``task`` (a name or task file) to ``output``.

    ``per_grab``: one episode per grab instead of per simulation run. ``anonymise``: owner ids
    become pseudonyms and headset poses are left out. ``origin``: the origin of recordings that
    do not say (no ``costeer.session`` label), e.g. ``human`` for NanoVer's own recordings.
    ``progress``: progress bars on stderr (``None``: only when stderr is a terminal).
    """
    if not recordings:
        raise ValueError("no recordings given: pass one or more .nanover.zip files")
    chosen = resolve_task(task)
    pseudonyms = Pseudonyms() if anonymise else None
    episodes: list[Episode] = []
    disable = None if progress is None else not progress
    for path in tqdm(recordings, desc="recordings", unit="file", disable=disable):
        demos = read_demonstrations(path, per_grab=per_grab)
        for demo in tqdm(demos, desc=Path(path).name, unit="episode", leave=False, disable=disable):
            if origin and demo.origin == "unknown":
                demo.origin = origin
            episodes.append(build_episode(demo, chosen, velocities=velocities, pseudonyms=pseudonyms))
    return write_dataset(
        episodes,
        output,
        task=chosen.name,
        description=chosen.description,
        overwrite=overwrite,
        extra_info={
            "version": __version__,
            "sources": sorted({Path(path).name for path in recordings}),
            "per_grab": per_grab,
            "anonymised": anonymise,
            "velocities": velocities,
        },
    )
