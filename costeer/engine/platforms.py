"""Pick the OpenMM platform that runs a system fastest on this machine.

    platform = choose_platform(65)                  # Reference: tiny systems
    platform = choose_platform(584, requested="CPU")

Measured on these 2-core machines: the CPU platform's worker-thread wake-ups cap it near
2,500-2,900 steps/s, so the Reference platform wins for tiny systems (nanotube, 65 atoms:
Reference 6,500-7,200 steps/s, CPU 1,900-2,500), while already at 584 atoms (villin in
vacuum) CPU runs twice as fast (700-1,000 vs 320-470). Fitting both curves puts the
crossover near 180 atoms. A GPU platform (CUDA, HIP, OpenCL, in that order) is used for the larger systems when
OpenMM has one.
"""

from __future__ import annotations

import openmm

__all__ = ["choose_platform", "available_platforms", "REFERENCE_MAX_ATOMS"]

REFERENCE_MAX_ATOMS = 200
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
