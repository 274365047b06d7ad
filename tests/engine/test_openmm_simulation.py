"""OpenMMSimulation on the real nanotube: frames, steps, reset, user forces, blow-ups."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.engine.frame_guard import FrameGuard, UnsafeFrameError
from costeer.engine.imd_force import IMD_FORCE_GROUP
from costeer.engine.nanover_xml import read_nanover_xml
from costeer.engine.openmm_simulation import OpenMMSimulation, SimulationBlowUpError

TOPOLOGY_KEYS = {
    keys.PARTICLE_COUNT, keys.PARTICLE_NAMES, keys.PARTICLE_ELEMENTS, keys.PARTICLE_RESIDUES,
    keys.RESIDUE_COUNT, keys.RESIDUE_NAMES, keys.RESIDUE_IDS, keys.RESIDUE_CHAINS,
    keys.CHAIN_COUNT, keys.CHAIN_NAMES, keys.BOND_PAIRS,
}
STATE_KEYS = {
    keys.PARTICLE_POSITIONS, keys.BOX_VECTORS, keys.SIMULATION_TIME, keys.KINETIC_ENERGY, keys.POTENTIAL_ENERGY, keys.ENERGY_TIME,
    keys.SIMULATION_STEP, keys.SIMULATION_TIMESTEP,
}
USER_KEYS = {keys.USER_ENERGY, keys.USER_FORCES_SPARSE, keys.USER_FORCES_INDEX, keys.USER_WORK_DONE}


@pytest.fixture
def simulation(nanotube_xml: Path) -> OpenMMSimulation:
    sim = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", energy_budget=None)
    sim.load()
    return sim


def spring_on_60(target: np.ndarray) -> Interaction:
    return Interaction.from_state(
        {"position": target.tolist(), "particles": [60], "interaction_type": "spring",
         "scale": 300.0, "max_force": float("inf")},
        particle_count=65,
    )


def test_attributes(simulation: OpenMMSimulation) -> None:
    assert simulation.name == "nanotube"
    assert simulation.particle_count == 65
    assert simulation.masses.shape == (65,)
    assert simulation.masses[60] == pytest.approx(12.01, abs=0.1)
    assert simulation.periodic is False
    assert simulation.platform == "Reference"


def test_full_frame_keys_and_dtypes(simulation: OpenMMSimulation) -> None:
    frame = simulation.reset()
    assert set(frame) == TOPOLOGY_KEYS | STATE_KEYS | {keys.SIMULATION_NAME}
    assert frame[keys.SIMULATION_NAME] == "nanotube"
    assert frame[keys.PARTICLE_COUNT] == 65
    assert frame[keys.PARTICLE_ELEMENTS].dtype == np.uint8
    assert frame[keys.PARTICLE_ELEMENTS][:61].tolist() == [6] * 61
    assert frame[keys.PARTICLE_ELEMENTS][61:].tolist() == [1] * 4
    assert frame[keys.BOND_PAIRS].dtype == np.uint32 and frame[keys.BOND_PAIRS].shape == (88, 2)
    assert frame[keys.PARTICLE_RESIDUES].dtype == np.uint32
    assert frame[keys.RESIDUE_CHAINS].dtype == np.uint32
    assert len(frame[keys.PARTICLE_NAMES]) == 65
    assert frame[keys.RESIDUE_COUNT] == len(frame[keys.RESIDUE_NAMES]) == len(frame[keys.RESIDUE_IDS])
    assert frame[keys.CHAIN_COUNT] == len(frame[keys.CHAIN_NAMES])
    assert frame[keys.PARTICLE_POSITIONS].dtype == np.float32 and frame[keys.PARTICLE_POSITIONS].shape == (65, 3)
    assert frame[keys.BOX_VECTORS].dtype == np.float32 and frame[keys.BOX_VECTORS].shape == (3, 3)
    assert isinstance(frame[keys.SIMULATION_TIME], float)


def test_delta_frame_keys(simulation: OpenMMSimulation) -> None:
    simulation.reset()
    frame = simulation.advance(1 / 30)
    assert set(frame) == STATE_KEYS | USER_KEYS | {keys.SYSTEM_TEMPERATURE}
    assert frame[keys.USER_FORCES_SPARSE].dtype == np.float32 and frame[keys.USER_FORCES_SPARSE].shape == (0, 3)
    assert frame[keys.USER_FORCES_INDEX].dtype == np.uint32 and frame[keys.USER_FORCES_INDEX].shape == (0,)
    assert frame[keys.USER_ENERGY] == 0.0 and frame[keys.USER_WORK_DONE] == 0.0
    assert 0 < frame[keys.SYSTEM_TEMPERATURE] < 2000


def test_optional_keys(nanotube_xml: Path) -> None:
    sim = OpenMMSimulation(
        read_nanover_xml(nanotube_xml), include_velocities=True, include_forces=True, include_energies=False
    )
    sim.load()
    sim.reset()
    frame = sim.advance(0.0)
    assert frame[keys.PARTICLE_VELOCITIES].dtype == np.float32
    assert frame[keys.PARTICLE_FORCES_SYSTEM].shape == (65, 3)
    assert keys.KINETIC_ENERGY not in frame and keys.SYSTEM_TEMPERATURE not in frame


def test_advance_runs_steps_per_frame(nanotube_xml: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    sim = OpenMMSimulation(loaded, steps_per_frame=7)
    sim.load()
    start = sim.reset()[keys.SIMULATION_TIME]
    frame = sim.advance(1.0)
    step_ps = loaded.integrator.getStepSize()._value
    assert frame[keys.SIMULATION_TIME] - start == pytest.approx(7 * step_ps)
    assert sim.steps_taken == 7


def test_free_running_chunks_grow_while_nobody_interacts_and_shrink_for_a_pull(simulation) -> None:
    from costeer.engine.openmm_simulation import IDLE_CHUNK_SECONDS

    simulation.reset()
    chunks = []
    for _ in range(6):
        before = simulation.steps_taken
        simulation.run_chunk()
        chunks.append(simulation.steps_taken - before)
    assert chunks[0] == simulation.steps_per_frame  # the first idle chunk only measures the step time
    assert max(chunks[1:]) > simulation.steps_per_frame  # the nanotube steps far faster than 5 per 5 ms
    simulation.advance(1.0)  # paced frames stay exactly steps_per_frame, idle or not
    assert simulation.steps_taken - sum(chunks) == simulation.steps_per_frame
    simulation.set_interactions({"interaction.a": spring_on_60(np.zeros(3))})
    before = simulation.steps_taken
    simulation.run_chunk()
    assert simulation.steps_taken - before == simulation.steps_per_frame  # forces refreshed every 5 steps
    assert IDLE_CHUNK_SECONDS <= 0.01  # a new pull waits at most this for the chunk under way


def test_reset_returns_to_the_start(simulation: OpenMMSimulation) -> None:
    first = simulation.reset()
    for _ in range(5):
        simulation.advance(0.0)
    again = simulation.reset()
    assert again[keys.SIMULATION_TIME] == pytest.approx(first[keys.SIMULATION_TIME])
    np.testing.assert_array_equal(again[keys.PARTICLE_POSITIONS], first[keys.PARTICLE_POSITIONS])


def _steps_the_user_group(simulation: OpenMMSimulation) -> bool:
    return bool(simulation.context.getIntegrator().getIntegrationForceGroups() & (1 << IMD_FORCE_GROUP))


def test_spring_pulls_atom_60_towards_target(simulation: OpenMMSimulation) -> None:
    start = simulation.reset()[keys.PARTICLE_POSITIONS][60].astype(np.float64)
    assert not _steps_the_user_group(simulation)  # nobody pulls: the zero user force costs no step time
    target = start + np.array([1.0, 0.0, 0.0])
    simulation.set_interactions({"interaction.test": spring_on_60(target)})
    frame = simulation.advance(0.0)
    assert _steps_the_user_group(simulation)
    assert frame[keys.USER_FORCES_INDEX].tolist() == [60]
    assert frame[keys.USER_ENERGY] > 0
    assert frame[keys.USER_FORCES_SPARSE][0, 0] > 0  # towards +x
    # the force is really in OpenMM, in its own group
    force = simulation.context.getState(getForces=True, groups=1 << IMD_FORCE_GROUP).getForces(asNumpy=True)
    np.testing.assert_allclose(force[60]._value, frame[keys.USER_FORCES_SPARSE][0], rtol=1e-5)
    for _ in range(200):
        frame = simulation.advance(0.0)
    distance = np.linalg.norm(frame[keys.PARTICLE_POSITIONS][60] - target)
    assert distance < 0.5
    assert frame[keys.USER_WORK_DONE] > 0
    simulation.set_interactions({})
    frame = simulation.advance(0.0)
    assert frame[keys.USER_FORCES_INDEX].size == 0 and frame[keys.USER_ENERGY] == 0.0
    assert not _steps_the_user_group(simulation)
    force = simulation.context.getState(getForces=True, groups=1 << IMD_FORCE_GROUP).getForces(asNumpy=True)
    assert not np.any(force._value)


def test_out_of_range_interaction_is_ignored(simulation: OpenMMSimulation) -> None:
    simulation.reset()
    bad = Interaction.from_state({"position": [0, 0, 0], "particles": [100]})
    simulation.set_interactions({"interaction.bad": bad})
    frame = simulation.advance(0.0)
    assert frame[keys.USER_FORCES_INDEX].size == 0


def test_reset_clears_user_forces_and_work(simulation: OpenMMSimulation) -> None:
    start = simulation.reset()[keys.PARTICLE_POSITIONS][60].astype(np.float64)
    simulation.set_interactions({"interaction.test": spring_on_60(start + 1.0)})
    for _ in range(3):
        simulation.advance(0.0)
    simulation.set_interactions({})
    simulation.reset()
    frame = simulation.advance(0.0)
    assert frame[keys.USER_WORK_DONE] == 0.0 and frame[keys.USER_FORCES_INDEX].size == 0


def test_nan_positions_raise_blow_up(simulation: OpenMMSimulation) -> None:
    simulation.reset()
    positions = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    positions[60] = np.nan
    simulation.context.setPositions(positions)
    with pytest.raises(SimulationBlowUpError, match="reset"):
        simulation.advance(0.0)
    frame = simulation.reset()  # recovers
    assert np.isfinite(frame[keys.PARTICLE_POSITIONS]).all()
    assert np.isfinite(simulation.advance(0.0)[keys.PARTICLE_POSITIONS]).all()


def test_the_loaded_system_is_not_modified(nanotube_xml: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    forces = loaded.system.getNumForces()
    OpenMMSimulation(loaded).load()
    OpenMMSimulation(loaded).load()  # the integrator is not bound to the first context
    assert loaded.system.getNumForces() == forces


@pytest.mark.parametrize("reset_velocities", [True, False])
def test_releasing_a_velocity_reset_interaction_stops_the_group(nanotube_xml: Path, reset_velocities: bool) -> None:
    """NanoVer's velocity reset: when such an interaction ends, its atoms lose their mean velocity."""
    sim = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", steps_per_frame=1)
    sim.load()
    start = sim.reset()[keys.PARTICLE_POSITIONS]
    methane = [60, 61, 62, 63, 64]
    push = Interaction.from_state(
        {"position": (start[60] + [5.0, 0.0, 0.0]).tolist(), "particles": methane,
         "interaction_type": "constant", "scale": 2000.0, "reset_velocities": reset_velocities},
        particle_count=65,
    )

    def group_speed() -> float:
        velocities = sim.context.getState(getVelocities=True).getVelocities(asNumpy=True)._value
        return float(np.linalg.norm(velocities[methane].mean(axis=0)))

    sim.set_interactions({"interaction.push": push})
    for _ in range(40):
        sim.advance(1 / 30)
    moving = group_speed()
    sim.set_interactions({})
    sim.advance(1 / 30)
    assert moving > 1.0, "the push should have set the methane moving"
    if reset_velocities:
        assert group_speed() < 0.2 * moving
    else:
        assert group_speed() > 0.8 * moving


def test_close_drops_the_context_and_load_builds_a_new_one(simulation: OpenMMSimulation) -> None:
    first = simulation.context
    simulation.close()
    with pytest.raises(RuntimeError, match="not loaded"):
        simulation.context
    simulation.close()  # twice is fine
    simulation.load()
    assert simulation.context is not first
    assert keys.PARTICLE_POSITIONS in simulation.reset()


def test_a_frame_beyond_float32_is_refused_by_the_guard_without_a_numpy_cast_warning(simulation) -> None:
    guard = FrameGuard()
    guard.start(simulation.reset())
    positions = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    positions[60] = [1e39, -1e39, 1e39]  # finite in float64, infinite in float32
    simulation.context.setPositions(positions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = simulation.current_frame()
    assert np.isinf(frame[keys.PARTICLE_POSITIONS][60]).all()
    with pytest.raises(UnsafeFrameError):
        guard.check(frame)


def _trajectory(simulation: OpenMMSimulation, *, seed: int | None = None, frames: int = 10) -> np.ndarray:
    simulation.reset() if seed is None else simulation.reset(seed=seed)
    return np.stack([simulation.advance(0.0)[keys.PARTICLE_POSITIONS] for _ in range(frames)])


def test_a_reset_does_not_replay_the_thermostat_noise_of_the_last(simulation: OpenMMSimulation) -> None:
    trajectories = [_trajectory(simulation) for _ in range(3)]
    assert not np.array_equal(trajectories[1], trajectories[2])  # NanoVer's reset replays the noise here
    assert not np.array_equal(trajectories[0], trajectories[1])
    assert simulation.resets == 3 and simulation.thermostat_seed is not None


def test_the_first_reset_replays_the_noise_the_load_seeded_even_after_steps(nanotube_xml: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    fresh = OpenMMSimulation(loaded, platform="Reference", energy_budget=None, seed=5)
    fresh.load()
    expected = _trajectory(fresh)
    stepped = OpenMMSimulation(loaded, platform="Reference", energy_budget=None, seed=5)  # after: Reference's
    stepped.load()                                                                         # generator is shared
    for _ in range(5):
        stepped.advance(0.0)
    assert np.array_equal(_trajectory(stepped), expected)


def test_reset_with_a_seed_repeats_its_trajectory_and_other_seeds_differ(simulation: OpenMMSimulation) -> None:
    seeded = _trajectory(simulation, seed=3)
    _trajectory(simulation)
    assert np.array_equal(_trajectory(simulation, seed=3), seeded)
    assert not np.array_equal(_trajectory(simulation, seed=4), seeded)
    assert simulation.reset(seed=3)[keys.SIMULATION_TIME] == simulation.reset()[keys.SIMULATION_TIME]


@pytest.mark.parametrize("seed", [11, 0, -2])  # 0 is a seed like any other (OpenMM's own 0 means "pick one")
def test_a_seeded_simulation_repeats_each_reset_in_a_new_run(nanotube_xml: Path, seed: int) -> None:
    runs = []
    for _ in range(2):
        simulation = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", seed=seed)
        simulation.load()
        runs.append([_trajectory(simulation) for _ in range(3)])
        simulation.close()
    for first, second in zip(*runs):
        assert np.array_equal(first, second)
    assert not np.array_equal(runs[0][1], runs[0][2])


def test_frames_carry_the_step_count_and_time_step(simulation):
    first = simulation.reset()
    later = simulation.advance(1 / 30)
    assert later[keys.SIMULATION_STEP] == first[keys.SIMULATION_STEP] + simulation.steps_per_frame
    assert later[keys.SIMULATION_TIMESTEP] > 0
    assert later[keys.SIMULATION_TIME] - first[keys.SIMULATION_TIME] == pytest.approx(
        simulation.steps_per_frame * later[keys.SIMULATION_TIMESTEP]
    )
