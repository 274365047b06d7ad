"""NanoVer's reference iMD forces for test cases: run with the side venv's python.

Reads a JSON list of cases on stdin; each case has ``positions`` (N, 3), ``masses`` (N,),
``box`` (three lengths or null), ``interactions`` (NanoVer ``ParticleInteraction`` fields)
and ``work`` (pairs of forces and positions for ``calculate_contribution_to_work``).
Prints a JSON list of ``{"energy", "forces", "indices", "sparse_forces", "work"}``.
"""

import json
import sys

import numpy as np
from nanover.imd.imd_force import (
    calculate_contribution_to_work,
    calculate_imd_force,
    get_sparse_forces,
)
from nanover.imd.particle_interaction import ParticleInteraction


def run_case(case: dict) -> dict:
    positions = np.asarray(case["positions"], dtype=np.float64)
    masses = np.asarray(case["masses"], dtype=np.float64)
    box = None if case["box"] is None else np.asarray(case["box"], dtype=np.float64)
    interactions = [ParticleInteraction(**fields) for fields in case["interactions"]]
    energy, forces = calculate_imd_force(positions, masses, interactions, box)
    indices, sparse = get_sparse_forces(forces)
    work = [
        float(calculate_contribution_to_work(np.asarray(f), np.asarray(p)))
        for f, p in case.get("work", [])
    ]
    return {
        "energy": float(energy),
        "forces": np.asarray(forces, dtype=np.float64).tolist(),
        "indices": [int(i) for i in indices],
        "sparse_forces": np.asarray(sparse, dtype=np.float64).tolist(),
        "work": work,
    }


def main() -> None:
    cases = json.load(sys.stdin)
    json.dump([run_case(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
