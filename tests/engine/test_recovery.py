"""Recovery from blow-ups: rolling back to recent good states, releasing the pulls, running on."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.engine.frame_guard import SimulationBlowUpError
from costeer.engine.good_states import GoodStates
from costeer.engine.loading import from_built
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.engine.recovery import LOOP_RECOVERIES, PULL_AFTERMATH_SECONDS, NothingToRollBackTo, Recovery, RolledBack
from costeer.engine.runner import SimulationRunner
from costeer.tasks import build_task_system


@pytest.fixture(scope="module")
def nanotube_task():
    return from_built(build_task_system("nanotube"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def poison(simulation: OpenMMSimulation) -> None:
    """Put a NaN into atom 60, as a blow-up does."""
    positions = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    positions[60] = np.nan
    simulation.context.setPositions(positions)


def pull(owner: str) -> Interaction:
    return Interaction.from_state(
        {"position": [3.0, 3.0, 3.0], "particles": [60], "interaction_type": "spring", "scale": 10.0, "owner.id": owner}
    )


def test_roll_back_goes_to_the_newest_good_state_then_older_ones_then_the_start_then_gives_up(nanotube_task) -> None:
    clock = Clock()
    simulation = OpenMMSimulation(nanotube_task, platform="Reference", seed=3)
    simulation.load()
    simulation.reset()
    simulation.good_states = GoodStates(interval=0.25, capacity=4, clock=clock)
    kept = []
    for _ in range(12):  # a frame every 0.1 s: a state kept every third frame
        frame = simulation.advance(0.0)
        if simulation.good_states.offer(lambda: (simulation.context.getState(getPositions=True, getVelocities=True), frame[keys.SIMULATION_TIME])):
            kept.append(frame[keys.SIMULATION_TIME])
        clock.now += 0.1
    assert len(kept) == 4
    simulation.set_interactions({"interaction.a": pull("user-1")})
    simulation.advance(0.0)
    poison(simulation)
    with pytest.raises(SimulationBlowUpError):
        simulation.advance(0.0)

    for expected in reversed(kept):
        rolled = simulation.roll_back()
        assert rolled.simulation_time == pytest.approx(expected)
        assert rolled.frame[keys.SIMULATION_TIME] == pytest.approx(expected)
        assert rolled.age is not None and 0.0 < rolled.age <= 1.3
        assert rolled.frame[keys.USER_FORCES_INDEX].size == 0
        assert np.isfinite(rolled.frame[keys.PARTICLE_POSITIONS]).all()
    start = simulation.roll_back()
    assert start.age is None and start.simulation_time == pytest.approx(0.0)
    next_frame = simulation.advance(0.0)  # the rolled-back state runs on, with no user force
    assert next_frame[keys.USER_FORCES_INDEX].size == 0 and np.isfinite(next_frame[keys.PARTICLE_POSITIONS]).all()
    with pytest.raises(NothingToRollBackTo, match="playback/play"):
        simulation.roll_back()


def test_rolling_back_to_the_start_forgets_the_kept_states(nanotube_task) -> None:
    simulation = OpenMMSimulation(nanotube_task, platform="Reference", seed=3)
    simulation.load()
    simulation.reset()
    simulation.good_states = GoodStates(interval=0.0, capacity=4)
    for _ in range(4):
        simulation.advance(0.0)
        simulation.remember_good_state()
    assert len(simulation.good_states) == 4
    poison(simulation)
    start = simulation.roll_back(to_start=True)
    assert start.age is None and start.simulation_time == pytest.approx(0.0)
    assert len(simulation.good_states) == 0 and np.isfinite(start.frame[keys.PARTICLE_POSITIONS]).all()
    with pytest.raises(NothingToRollBackTo):  # the start was tried and no good state kept since
        simulation.roll_back()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _native_bytes_in_use() -> int:
    """Bytes glibc's malloc has handed out and not had back (OpenMM's allocations included)."""
    try:
        mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc 2.33 or later (mallinfo2) to count native memory")
    mallinfo2.restype = _MallInfo2
    gc.collect()
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def test_resets_and_rollbacks_on_the_cpu_platform_keep_no_memory(nanotube_task) -> None:
    # OpenMM 8's CPU platform keeps ~2.6 KB on every loadCheckpoint: a session that resets and
    # recovers all day grew without end (the 2-hour soak: +16% RSS)
    simulation = OpenMMSimulation(nanotube_task, platform="CPU", seed=2)
    simulation.load()
    simulation.good_states = GoodStates(interval=0.0, capacity=2)

    def cycle() -> None:
        simulation.reset()
        simulation.advance(0.0)
        simulation.remember_good_state()
        simulation.roll_back()

    for _ in range(10):
        cycle()
    before = _native_bytes_in_use()
    for _ in range(100):
        cycle()
    grown = _native_bytes_in_use() - before
    assert grown < 100_000, f"{grown / 200:.0f} bytes kept per reset or rollback"


def test_a_blow_up_inside_openmm_is_a_blow_up(nanotube_task) -> None:
    simulation = OpenMMSimulation(nanotube_task, platform="CPU")
    simulation.load()
    simulation.reset()
    poison(simulation)
    with pytest.raises(SimulationBlowUpError, match="NaN"):
        simulation.run_chunk()
    assert np.isfinite(simulation.roll_back().frame[keys.PARTICLE_POSITIONS]).all()


def test_a_blow_up_rolls_back_releases_the_pulls_and_runs_on(nanotube_task, publisher, wait_for) -> None:
    simulation = OpenMMSimulation(nanotube_task, platform="Reference", seed=5)
    recoveries: list[Recovery] = []
    runner = SimulationRunner([simulation], publisher, frame_rate=60.0, on_blowup="recover")
    runner.recovery_listeners.append(recoveries.append)
    runner.start()
    try:
        runner.set_interactions({"interaction.a": pull("user-1"), "interaction.b": pull("user-2")})
        wait_for(lambda: len(publisher.snapshot()) > 30 and len(simulation.good_states) >= 2)
        runner.pause()
        wait_for(lambda: runner.is_paused)
        time.sleep(0.1)  # let the simulation thread go idle
        last_time = publisher.snapshot()[-1][keys.SIMULATION_TIME]
        poison(simulation)
        runner.play()
        recovery = wait_for(lambda: recoveries and recoveries[0])
        count = len(publisher.snapshot())
        wait_for(lambda: len(publisher.snapshot()) >= count + 10)
    finally:
        runner.close()
    assert recovery.count == 1 and runner.recoveries == 1
    assert recovery.released == {"interaction.a": "user-1", "interaction.b": "user-2"}
    assert recovery.seconds < 1.0
    assert recovery.state_age is not None and recovery.state_age < 1.0
    assert recovery.rollbacks == 1
    assert recovery.simulation_time <= last_time and recovery.lost_time == pytest.approx(last_time - recovery.simulation_time)
    assert "rolled back" in recovery.message and "interaction.a" in recovery.message
    assert recovery.cause == "non-finite positions"
    assert simulation._interactions == {}
    frames = publisher.snapshot()
    assert not [f for f in frames if keys.SIMULATION_EXCEPTION in f]
    for frame in frames:
        assert np.isfinite(frame[keys.PARTICLE_POSITIONS]).all()


class DoomedSimulation:
    """A Recoverable simulation whose every state blows up again at once (after two good frames, or,
    ``after_a_pull``, once it has been handed a pull); ``start_holds``: except its initial state."""

    def __init__(self, states: int, *, after_a_pull: bool = False, start_holds: bool = False) -> None:
        self.name = "doomed"
        self.particle_count = 1
        self.states = states
        self.set_off = not after_a_pull
        """Whether it blows up (from its third frame on)."""
        self.start_holds = start_holds
        self.rollbacks = 0
        self.advances = 0

    def load(self) -> None:
        pass

    def reset(self) -> FrameDict:
        return {keys.PARTICLE_POSITIONS: np.zeros((1, 3), dtype=np.float32), keys.SIMULATION_TIME: 0.0}

    def advance(self, seconds: float) -> FrameDict:
        self.advances += 1
        if self.advances > 2 and self.set_off:
            raise SimulationBlowUpError("boom")
        return {keys.PARTICLE_POSITIONS: np.zeros((1, 3), dtype=np.float32), keys.SIMULATION_TIME: 0.1 * self.advances}

    def set_interactions(self, interactions) -> None:
        self.set_off = self.set_off or bool(interactions)

    def remember_good_state(self) -> None:
        pass

    def roll_back(self, *, to_start: bool = False) -> RolledBack:
        self.rollbacks += 1
        if self.rollbacks > self.states:
            raise NothingToRollBackTo("nothing holds: playback/reset, then playback/play")
        if to_start and self.start_holds:
            self.set_off = False
        frame = {keys.PARTICLE_POSITIONS: np.zeros((1, 3), dtype=np.float32), keys.SIMULATION_TIME: 0.0}
        return RolledBack(frame, 0.0, None if to_start else 0.1)


def test_when_nothing_holds_the_runner_pauses_with_a_clear_message(publisher, wait_for) -> None:
    simulation = DoomedSimulation(states=3)
    recoveries: list[Recovery] = []
    runner = SimulationRunner([simulation], publisher, frame_rate=100.0, on_blowup="recover")
    runner.recovery_listeners.append(recoveries.append)
    runner.start()
    try:
        exception = wait_for(lambda: [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f])[0]
        wait_for(lambda: runner.is_paused)
    finally:
        runner.close()
    assert len(recoveries) == 3 and [r.count for r in recoveries] == [1, 2, 3]
    assert "nothing holds" in exception[keys.SIMULATION_EXCEPTION]


def test_a_simulation_that_keeps_blowing_up_with_nobody_pulling_pauses_instead_of_recovering_forever(publisher, wait_for) -> None:
    simulation = DoomedSimulation(states=10**9)  # every rollback works, and it blows up again at once, from the start too
    recoveries: list[Recovery] = []
    runner = SimulationRunner([simulation], publisher, frame_rate=100.0, on_blowup="recover")
    runner.recovery_listeners.append(recoveries.append)
    runner.start()
    try:
        exception = wait_for(lambda: [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f], timeout=20.0)[0]
        wait_for(lambda: runner.is_paused)
        advances = simulation.advances
    finally:
        runner.close()
    assert len(recoveries) == LOOP_RECOVERIES + 1  # the last one went back to the initial state, in vain
    assert [r.state_age is None for r in recoveries] == [False] * LOOP_RECOVERIES + [True]
    message = exception[keys.SIMULATION_EXCEPTION]
    assert "RecoveryLoopError" in message and "nobody pulling" in message and "time step" in message
    assert "playback/reset" in message and "playback/play" in message and "initial state" in message
    assert advances == simulation.advances  # paused: no stepping after the exception frame


def test_when_the_kept_states_keep_blowing_up_with_nobody_pulling_it_goes_back_to_the_start_and_runs_on(publisher, wait_for) -> None:
    simulation = DoomedSimulation(states=10**9, start_holds=True)  # as kept states a hard pull had filled
    recoveries: list[Recovery] = []
    runner = SimulationRunner([simulation], publisher, frame_rate=100.0, on_blowup="recover")
    runner.recovery_listeners.append(recoveries.append)
    runner.start()
    try:
        wait_for(lambda: len(recoveries) == LOOP_RECOVERIES + 1, timeout=20.0)
        advances = simulation.advances
        wait_for(lambda: simulation.advances >= advances + 20)
    finally:
        runner.close()
    assert [r.state_age is None for r in recoveries] == [False] * LOOP_RECOVERIES + [True]
    assert "its initial state" in recoveries[-1].message
    assert not runner.is_paused and not [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f]


def test_blow_ups_soon_after_a_pull_are_put_down_to_it_not_to_the_system(publisher, wait_for) -> None:
    simulation = DoomedSimulation(states=10**9, after_a_pull=True)
    recoveries: list[tuple[float, Recovery]] = []
    runner = SimulationRunner([simulation], publisher, frame_rate=100.0, on_blowup="recover")
    runner.recovery_listeners.append(lambda recovery: recoveries.append((time.monotonic(), recovery)))
    runner.start()
    try:
        wait_for(lambda: publisher.snapshot())
        runner.set_interactions({"interaction.a": pull("a")})  # it blows up while pulled, and on after the release
        exception = wait_for(lambda: [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f], timeout=20.0)[0]
    finally:
        runner.close()
    assert "RecoveryLoopError" in exception[keys.SIMULATION_EXCEPTION]  # unstable on its own: still caught
    (first, released), *_, (last, _) = recoveries
    assert released.released == {"interaction.a": "a"}
    assert len(recoveries) > LOOP_RECOVERIES  # the blow-ups in the pull's aftermath did not count
    assert last - first >= PULL_AFTERMATH_SECONDS - 0.05


def test_pause_mode_keeps_nanovers_behaviour_and_says_play_is_needed_after_reset(nanotube_task, publisher, wait_for) -> None:
    simulation = OpenMMSimulation(nanotube_task, platform="Reference")
    runner = SimulationRunner([simulation], publisher, frame_rate=60.0, on_blowup="pause")
    recoveries: list[Recovery] = []
    runner.recovery_listeners.append(recoveries.append)
    runner.start()
    try:
        wait_for(lambda: len(publisher.snapshot()) > 5)
        runner.pause()
        wait_for(lambda: runner.is_paused)
        time.sleep(0.1)
        poison(simulation)
        runner.play()
        exception = wait_for(lambda: [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f])[0]
        wait_for(lambda: runner.is_paused)
    finally:
        runner.close()
    assert not recoveries
    assert "playback/reset" in exception[keys.SIMULATION_EXCEPTION] and "playback/play" in exception[keys.SIMULATION_EXCEPTION]


def test_on_blowup_must_be_recover_or_pause(publisher) -> None:
    with pytest.raises(ValueError, match="recover, pause"):
        SimulationRunner([DoomedSimulation(1)], publisher, on_blowup="ignore")
