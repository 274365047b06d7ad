"""``forces.user.sparse`` in frames equals NanoVer's ``calculate_imd_force`` at the frame's positions.

Random interactions (spring, gaussian, constant; one to three particles; mass-weighted or
not; with and without ``max_force``) go through NanoVer's official client; for each, the
side script evaluates NanoVer's reference ``calculate_imd_force`` at the positions of the
very frame that carried the forces and reports both. (That OpenMM really applies these
forces is checked in tests/engine/test_imd*.py.) NanoVer's own server is held to the same
check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

# positions travel as float32: a few ulp of ~3 nm coordinates, times spring constants ~600
RTOL = 1e-4
ATOL = 5e-3


def _check(result: dict[str, Any], where: str) -> None:
    problems = []
    assert len(result["cases"]) >= 12, f"{where}: only {len(result['cases'])} cases ran"
    for case in result["cases"]:
        interaction = case["interaction"]
        label = (
            f"{interaction['interaction_type']} on {interaction['particles']} scale {interaction['scale']:.1f} "
            f"mass_weighted={interaction['mass_weighted']} max_force={interaction['max_force']}"
        )
        for frame in case["frames"]:
            sent, reference = np.array(frame["sent_sparse"]), np.array(frame["reference_sparse"])
            if frame["sent_index"] != sorted(interaction["particles"]):
                problems.append(f"{label}: forces.user.index {frame['sent_index']}")
                continue
            if sent.shape != reference.shape or not np.allclose(sent, reference, rtol=RTOL, atol=ATOL):
                problems.append(
                    f"{label} (frame {frame['frame_index']}): forces.user.sparse {sent.round(4).tolist()}, "
                    f"NanoVer's calculate_imd_force {reference.round(4).tolist()}"
                )
            energy, expected = frame["sent_energy"], frame["reference_energy"]
            if energy is None or not np.isclose(energy, expected, rtol=RTOL, atol=ATOL):
                problems.append(f"{label} (frame {frame['frame_index']}): energy.user.total {energy}, expected {expected}")
    assert not problems, f"{where}: user forces differ from NanoVer's reference:\n  " + "\n  ".join(problems)


@pytest.mark.slow
def test_nanover_reference_user_forces(nanover_server, side_client, nanotube_xml: Path) -> None:
    server = nanover_server("--omm", str(nanotube_xml))
    _check(side_client("forces", server.url, "--xml", str(nanotube_xml)), "NanoVer")


@pytest.mark.slow
def test_costeer_user_forces(costeer_server, side_client, nanotube_xml: Path) -> None:
    server = costeer_server("--omm", str(nanotube_xml))
    _check(side_client("forces", server.url, "--xml", str(nanotube_xml)), "costeer")
