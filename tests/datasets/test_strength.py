"""Which force law made a recording's forces: measured on the real sessions, snapped to 1 or the grabbed mass."""

from __future__ import annotations

from pathlib import Path

import pytest

from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.strength import measure_force_ratio, snap_strength_factor
from costeer.tasks import get_task
from costeer.tasks.encoding import element_masses

SYNTHETIC = Path(__file__).resolve().parents[2] / "recordings" / "synthetic-nanotube-seed2.nanover.zip"


@pytest.mark.parametrize(("name", "ratio"), [("nanotube-methane-01", 11.94), ("nanotube-methane-02", 12.011)])
def test_older_nanover_sessions_show_the_grabbed_mass(sessions: dict[str, Path], name: str, ratio: float) -> None:
    (demo,) = read_demonstrations(sessions[name])
    selection = get_task("nanotube").select(demo.chemistry)
    assert measure_force_ratio(demo, selection, element_masses(demo.chemistry)) == pytest.approx(ratio, rel=1e-3)


def test_costeer_sessions_show_no_mass_factor_and_frames_only_ones_cannot_tell(sessions: dict[str, Path]) -> None:
    task = get_task("nanotube")
    for demo in read_demonstrations(SYNTHETIC):
        assert measure_force_ratio(demo, task.select(demo.chemistry), element_masses(demo.chemistry)) == pytest.approx(1.0, abs=1e-5)
    (demo,) = read_demonstrations(sessions["nanotube-example"])
    assert measure_force_ratio(demo, task.select(demo.chemistry), element_masses(demo.chemistry)) is None


def test_a_ratio_snaps_to_the_nearer_law_and_an_odd_one_is_reported() -> None:
    assert snap_strength_factor(11.94, grabbed_mass=12.011) == 12.011
    assert snap_strength_factor(1.02, grabbed_mass=12.011) == 1.0
    with pytest.warns(UserWarning, match=r"odd.nanover.zip: recorded user forces are 3 x scale.*taking 1"):
        assert snap_strength_factor(3.0, grabbed_mass=12.011, source="odd.nanover.zip") == 1.0
