"""Build an episode dataset from recordings: read, split, turn into steps under a task, write, one episode at a time.

    build_dataset(["a.nanover.zip", "b.nanover.zip"], task="nanotube", output="dataset/")
    build_dataset(["c.nanover.zip"], task="nanotube", output="dataset/", append=True)   # add episodes
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from costeer import __version__
from costeer.datasets.demonstrations import Demonstration, iter_demonstrations
from costeer.datasets.episodes import Episode, Pseudonyms, build_episode, task_selection
from costeer.datasets.lerobot import ROWS_PER_FILE, DatasetWriter
from costeer.datasets.reading import INFO_PATH, read_episodes, read_info
from costeer.tasks import Task, resolve_task
from costeer.tasks.encoding import acting_interaction

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
    append: bool = False,
    progress: bool | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    actions_labelled: str | None = None,
    infer_spring: float | None = None,
) -> Path:
    """Write the episodes of ``recordings`` under ``task`` (a name or task file) to ``output``.

    ``per_grab``: one episode per grab instead of per simulation run. ``anonymise``: owner ids
    become pseudonyms and headset poses are left out. ``origin``: the origin of recordings that
    do not say (no ``costeer.session`` label), e.g. ``human`` for NanoVer's own recordings.
    ``append``: add the episodes to the dataset in ``output`` (same task and columns).
    ``progress``: progress bars on stderr (``None``: only when stderr is a terminal).
    ``actions_labelled``: learn only from pulls with this ``label`` (e.g. DAgger's
    ``correction``): other steps keep their observations but get ``action.valid`` False.
    ``infer_spring``: frames-only recordings' pulls aim where a spring of this strength would
    exert their recorded force (see :func:`~costeer.datasets.episodes.build_episode`) instead of
    being left out of learning. Each recording's system must fit the task, even where nobody pulls; a ``ValueError``
    names the file and what did not match.
    """
    if not recordings:
        raise ValueError("no recordings given: pass one or more .nanover.zip files")
    chosen = resolve_task(task)
    options = {"per_grab": per_grab, "anonymised": anonymise, "velocities": velocities, "infer_spring": infer_spring}
    if append:
        _check_same_options(Path(output), options)
    extra_info = {"version": __version__, "sources": sorted({Path(path).name for path in recordings}), **options}
    with DatasetWriter(output, task=chosen.name, description=chosen.description, extra_info=extra_info,
                       overwrite=overwrite, append=append, rows_per_file=rows_per_file) as writer:
        pseudonyms = Pseudonyms(taken=_pseudonyms_taken(Path(output), append)) if anonymise else None
        for episode in _episodes(recordings, chosen, per_grab=per_grab, pseudonyms=pseudonyms, velocities=velocities,
                                 origin=origin, progress=progress, actions_labelled=actions_labelled,
                                 infer_spring=infer_spring):
            writer.add(episode)
        if not writer.episodes_written:
            raise ValueError(
                f"no episodes to write: nobody pulls the {chosen.name} task's atoms in {', '.join(extra_info['sources'])} "
                "(no interaction on them and no user force): record a session in which someone pulls"
            )
    return Path(output)


def _episodes(
    recordings: Sequence[str | Path],
    task: Task,
    *,
    per_grab: bool,
    pseudonyms: Pseudonyms | None,
    velocities: bool,
    origin: str | None,
    progress: bool | None,
    actions_labelled: str | None = None,
    infer_spring: float | None = None,
) -> Iterator[Episode]:
    """The recordings' episodes, built one at a time; a recording's force law carries over to its later episodes."""
    disable = None if progress is None else not progress
    for path in tqdm(recordings, desc="recordings", unit="file", disable=disable):
        factor: float | None = None
        kept = 0
        demos = iter_demonstrations(path, per_grab=per_grab, keep_idle=True)
        for demo in tqdm(demos, desc=Path(path).name, unit="episode", leave=False, disable=disable):
            selection = task_selection(demo, task)  # idle stretches too: a recording of another system is refused
            if not demo.pulling.any():
                continue
            demo.part, kept = kept, kept + 1  # numbered as read_demonstrations does: idle stretches left out
            if origin and demo.origin == "unknown":
                demo.origin = origin
            episode = build_episode(demo, task, velocities=velocities, pseudonyms=pseudonyms, strength_factor=factor,
                                    infer_spring=infer_spring)
            factor = episode.metadata["strength_factor"] if episode.metadata["force_ratio"] is not None else factor
            if actions_labelled is not None:
                episode.steps["action.valid"] &= _labelled(demo, selection.grabbed, actions_labelled)
            yield episode


def _labelled(demo: Demonstration, grabbed: np.ndarray, label: str) -> np.ndarray:
    """``(T,)`` bool: the steps whose acting pull carries ``label``."""
    acting = (acting_interaction(frame.interactions, grabbed) for frame in demo.frames)
    return np.array([pull is not None and pull.properties.get("label") == label for pull in acting], dtype=bool)


def _pseudonyms_taken(output: Path, append: bool) -> int:
    """How many pseudonyms the dataset being appended to gave already (0 for a new dataset)."""
    if not (append and (output / INFO_PATH).is_file()):
        return 0
    owners = read_episodes(output).column("owners").to_pylist()
    return len({owner for row in owners for owner in row or ()})


def _check_same_options(output: Path, options: dict[str, bool | float | None]) -> None:
    """Appending keeps a dataset's build options (one episode split, privacy and force law for all its episodes)."""
    if not (output / INFO_PATH).is_file():
        return
    built = read_info(output).get("costeer", {})
    differ = [f"--{name.replace('_', '-').replace('anonymised', 'anonymise')} {_shown(built.get(name))}"
              for name, value in options.items() if name in built and built[name] != value]
    if differ:
        raise ValueError(f"{output} was built with {', '.join(differ)}: append with the same options, "
                         "or build another dataset")


def _shown(value: bool | float | None) -> str:
    """An option's value as the refusal names it: on/off, or the number given."""
    return ("on" if value else "off") if value is None or isinstance(value, bool) else f"{value:g}"
