"""The elements of a dataset's observed atoms, from its task's own system (for the ``equivariant`` policy).

The dataset stores which atoms are observed (``atom60.x`` in its feature names) but not their
elements. When the dataset's task is registered and every episode's ``system_hash`` is that of
the task's built system, the elements come from there; otherwise ``None`` (the policy then
treats every observed atom as its own type and says so).

    observed_elements("dataset/")    # [6, 1, 1, 1, 1] for the nanotube task's methane
"""

from __future__ import annotations

import re
from pathlib import Path

from costeer.datasets.reading import read_episodes, read_info
from costeer.tasks import Chemistry, get_task, task_names

__all__ = ["observed_atoms", "observed_elements"]

_ATOM = re.compile(r"^atom(\d+)\.")


def observed_atoms(observation_names: list[str]) -> list[int]:
    """Atom indices in observation order, from names like ``atom60.x`` (each atom once)."""
    atoms: list[int] = []
    for name in observation_names:
        match = _ATOM.match(name)
        if match is None:
            raise ValueError(f"observation name {name!r} is not atomN.<axis>: rebuild the dataset with `costeer dataset build`")
        if int(match.group(1)) not in atoms:
            atoms.append(int(match.group(1)))
    return atoms


def observed_elements(directory: str | Path) -> list[int] | None:
    """Atomic numbers of the observed atoms, or ``None`` when the task's system is not the dataset's."""
    info = read_info(directory)
    task = info.get("costeer", {}).get("task")
    if task not in task_names():
        return None
    chemistry = Chemistry.from_topology(get_task(task).build_system().topology)
    hashes = set(read_episodes(directory).column("system_hash").to_pylist())
    if hashes != {chemistry.system_hash()}:
        return None
    atoms = observed_atoms(info["features"]["observation.state"]["names"])
    return [int(element) for element in chemistry.elements[atoms]]
