"""Energies as often as they are cheap: the schedule's rule, and the frames that carry them."""

from __future__ import annotations

from pathlib import Path

import pytest

from costeer.core import keys
from costeer.core.frame import merge_frames
from costeer.engine.energy_schedule import EnergySchedule
from costeer.engine.imd_force import NON_IMD_GROUPS
from costeer.engine.nanover_xml import read_nanover_xml
from costeer.engine.openmm_simulation import OpenMMSimulation


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_energies_are_due_once_their_cost_fits_the_budget() -> None:
    clock = FakeClock()
    schedule = EnergySchedule(0.05, clock=clock)
    assert schedule.due()  # nothing measured yet
    schedule.evaluated(0.010)  # 10 ms: due again after 0.2 s at 5%
    clock.now += 0.19
    assert not schedule.due()
    clock.now += 0.02
    assert schedule.due()


def test_cheap_energies_are_due_with_every_frame() -> None:
    clock = FakeClock()
    schedule = EnergySchedule(0.03, clock=clock)
    for _ in range(30):
        assert schedule.due()
        schedule.evaluated(0.0002)  # the nanotube: 0.2 ms per evaluation
        clock.now += 1 / 30


def test_an_interrupted_evaluation_does_not_hold_the_next_ones_back() -> None:
    clock = FakeClock()
    schedule = EnergySchedule(0.03, clock=clock)
    schedule.evaluated(0.0004)
    clock.now += 1 / 30
    schedule.evaluated(0.050)  # preempted on a busy machine
    clock.now += 1 / 30
    assert schedule.cost == 0.0004 and schedule.due()


def test_the_cost_estimate_follows_a_lasting_change() -> None:
    schedule = EnergySchedule(0.03, clock=FakeClock())
    schedule.evaluated(0.002)
    for _ in range(5):
        schedule.evaluated(0.010)
    assert schedule.cost == 0.010


def test_no_budget_means_every_frame_and_a_bad_budget_is_refused() -> None:
    schedule = EnergySchedule(None, clock=FakeClock())
    schedule.evaluated(10.0)
    assert schedule.due()
    with pytest.raises(ValueError, match="positive"):
        EnergySchedule(0.0)


def test_frames_carry_energies_stamped_with_their_time_equal_to_a_fresh_evaluation(nanotube_xml: Path) -> None:
    simulation = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", energy_budget=0.03)
    simulation.load()
    full = simulation.reset()
    assert full[keys.ENERGY_TIME] == full[keys.SIMULATION_TIME]
    merged = full
    with_energies = without = 0
    for _ in range(40):  # unpaced: frames come faster than cheap energies are due
        frame = simulation.advance(0.0)
        merged = merge_frames(merged, frame)
        if keys.POTENTIAL_ENERGY in frame:
            with_energies += 1
            assert frame[keys.ENERGY_TIME] == frame[keys.SIMULATION_TIME]
            assert keys.SYSTEM_TEMPERATURE in frame and keys.KINETIC_ENERGY in frame
            state = simulation.context.getState(getEnergy=True, groups=NON_IMD_GROUPS)
            assert frame[keys.POTENTIAL_ENERGY] == pytest.approx(state.getPotentialEnergy()._value, rel=1e-9)
            assert frame[keys.KINETIC_ENERGY] == pytest.approx(state.getKineticEnergy()._value, rel=1e-9)
        else:
            without += 1
            assert keys.ENERGY_TIME not in frame and keys.SYSTEM_TEMPERATURE not in frame
            # a client merging deltas still shows the last energies, and how old they are
            assert merged[keys.ENERGY_TIME] < merged[keys.SIMULATION_TIME]
    assert with_energies >= 1 and without >= 1


def test_energies_with_every_frame_when_asked(nanotube_xml: Path) -> None:
    simulation = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", energy_budget=None)
    simulation.load()
    simulation.reset()
    for _ in range(10):
        frame = simulation.advance(0.0)
        assert frame[keys.ENERGY_TIME] == frame[keys.SIMULATION_TIME]
