"""Pick the OpenMM platform that runs a system fastest on this machine.

    platform = choose_platform(65)                  # Reference: tiny systems
    platform = choose_platform(584, requested="CPU")

Measured here (``../shared/PERF-NOTES.md``): the Reference platform beats CPU below about
600 atoms (the CPU platform's worker threads cost more than the maths); from there up CPU
wins. A GPU platform (CUDA, HIP, OpenCL, in that order) is used for the larger systems when
OpenMM has one.
"""

from __future__ import annotations

import openmm

__all__ = ["choose_platform", "available_platforms", "REFERENCE_MAX_ATOMS"]

REFERENCE_MAX_ATOMS = 600
"""Below this many atoms the Reference platform is the fastest."""

_LARGE_SYSTEM_ORDER = ("CUDA", "HIP", "OpenCL", "CPU", "Reference")


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms installed here."""
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def choose_platform(n_atoms: int, requested: str | None = None) -> openmm.Platform:
    """The platform named ``requested`` (any case), or the fastest one for ``n_atoms``."""
    names = available_platforms()
    if requested:
        for name in names:
            if name.lower() == requested.lower():
                return openmm.Platform.getPlatformByName(name)
        raise ValueError(f"no OpenMM platform named {requested!r}; available here: {', '.join(names)}")
    if n_atoms < REFERENCE_MAX_ATOMS:
        return openmm.Platform.getPlatformByName("Reference")
    for name in _LARGE_SYSTEM_ORDER:
        if name in names:
            return openmm.Platform.getPlatformByName(name)
    return openmm.Platform.getPlatform(0)
