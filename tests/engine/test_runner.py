"""SimulationRunner: pacing, free running, play/pause/step/reset/load, blow-ups, seeds (closing: test_runner_closing)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.engine.nanover_xml import read_nanover_xml
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.engine.outlet import READERS_WAIT_SHARE
from costeer.engine.runner import SimulationRunner
from tests.engine.runner_doubles import CountingSimulation, FakePublisher


@pytest.fixture
def nanotube_sim(nanotube_xml: Path) -> OpenMMSimulation:
    return OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference")


def test_start_sends_clear_then_full_frame(run, nanotube_sim, wait_for) -> None:
    changes: list[tuple[int, str]] = []
    runner, publisher = run([nanotube_sim], on_simulation_changed=lambda i, n: changes.append((i, n)))
    wait_for(lambda: len(publisher.frames()) >= 2)
    assert publisher.events[0] == ("clear", None)
    first = publisher.events[1][1]
    assert first[keys.PARTICLE_COUNT] == 65 and keys.BOND_PAIRS in first
    assert changes == [(0, "nanotube")]
    assert runner.simulation_names == ["nanotube"] and runner.index == 0
    assert runner.particle_count == 65 and not runner.is_paused


def test_paced_runs_advance_at_most_once_per_frame_interval(run, wait_for) -> None:
    sim = CountingSimulation()
    runner, publisher = run([sim], frame_rate=50.0)
    wait_for(lambda: publisher.frames())
    started, first = time.perf_counter(), sim.advances
    wait_for(lambda: sim.advances >= first + 20, timeout=30)
    runner.pause()
    wait_for(lambda: runner.is_paused)
    elapsed = time.perf_counter() - started
    # a busy machine can only make fewer advances; an unpaced runner would make thousands
    assert sim.advances - first <= 50 * elapsed + 2, (sim.advances - first, elapsed)


def test_pause_stops_frames_and_step_advances_one_frame(run, nanotube_sim, wait_for) -> None:
    runner, publisher = run([nanotube_sim], frame_rate=30.0)
    wait_for(lambda: len(publisher.frames()) >= 3)
    runner.pause()
    wait_for(lambda: runner.is_paused)  # set on the simulation thread: every earlier frame is in
    publisher.clear_events()
    before = nanotube_sim.context.getState().getTime()._value
    time.sleep(0.3)  # room for a runner that ignored the pause to run ~9 frames
    runner.step()
    runner.step()
    frames = wait_for(lambda: len(publisher.frames()) >= 2 and publisher.frames())
    # only the two steps ran since the pause, one frame (5 MD steps) each, and it stays paused
    step_ps = nanotube_sim.loaded.integrator.getStepSize()._value
    times = [frame[keys.SIMULATION_TIME] - before for frame in frames]
    assert times == pytest.approx([5 * step_ps, 10 * step_ps])
    assert runner.is_paused
    runner.play()
    wait_for(lambda: len(publisher.frames()) >= 4)
    assert publisher.frames()[2][keys.SIMULATION_TIME] - before == pytest.approx(15 * step_ps)


def test_reset_clears_and_sends_full_frame(run, nanotube_sim, wait_for) -> None:
    runner, publisher = run([nanotube_sim])
    first = wait_for(lambda: publisher.frames())[0]
    wait_for(lambda: len(publisher.frames()) >= 5)
    runner.pause()
    wait_for(lambda: runner.is_paused)
    publisher.clear_events()
    runner.reset()
    wait_for(lambda: len(publisher.events) >= 2)
    kind, _ = publisher.events[0]
    assert kind == "clear"
    full = publisher.events[1][1]
    assert keys.PARTICLE_ELEMENTS in full
    assert full[keys.SIMULATION_TIME] == pytest.approx(first[keys.SIMULATION_TIME])
    assert runner.is_paused  # as in NanoVer, reset does not change play/pause


def test_interactions_reach_the_simulation(run, nanotube_sim, wait_for) -> None:
    runner, publisher = run([nanotube_sim], frame_rate=60.0)
    start = wait_for(lambda: publisher.frames())[0][keys.PARTICLE_POSITIONS][60].astype(np.float64)
    target = start + np.array([0.0, 1.0, 0.0])
    interaction = Interaction.from_state(
        {"position": target.tolist(), "particles": [60], "interaction_type": "spring", "scale": 300.0},
        particle_count=65,
    )
    runner.set_interactions({"interaction.a": interaction})
    frame = wait_for(lambda: [f for f in publisher.frames() if len(f.get(keys.USER_FORCES_INDEX, ()))])[-1]
    assert frame[keys.USER_FORCES_INDEX].tolist() == [60] and frame[keys.USER_ENERGY] > 0

    def close_enough() -> bool:
        positions = publisher.frames()[-1][keys.PARTICLE_POSITIONS]
        return np.linalg.norm(positions[60] - target) < 0.5

    wait_for(close_enough, timeout=10)


def test_blow_up_pauses_with_exception_frame_and_reset_recovers(run, nanotube_sim, wait_for) -> None:
    runner, publisher = run([nanotube_sim])
    wait_for(lambda: len(publisher.frames()) >= 2)
    runner.pause()
    wait_for(lambda: runner.is_paused)
    positions = nanotube_sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value
    positions[60] = np.nan
    nanotube_sim.context.setPositions(positions)  # safe: the runner is paused
    publisher.clear_events()
    runner.play()
    frame = wait_for(lambda: [f for f in publisher.frames() if keys.SIMULATION_EXCEPTION in f])[0]
    assert "during simulation `nanotube`" in frame[keys.SIMULATION_EXCEPTION]
    wait_for(lambda: runner.is_paused)
    runner.reset()
    runner.play()
    wait_for(lambda: len([f for f in publisher.frames() if keys.USER_WORK_DONE in f]) >= 3)
    assert np.isfinite(publisher.frames()[-1][keys.PARTICLE_POSITIONS]).all()


def test_any_exception_pauses_and_reports(run, wait_for) -> None:
    sim = CountingSimulation("fragile")

    def broken(seconds: float) -> FrameDict:
        raise ZeroDivisionError("boom")

    sim.advance = broken  # type: ignore[method-assign]
    runner, publisher = run([sim])
    frame = wait_for(lambda: [f for f in publisher.frames() if keys.SIMULATION_EXCEPTION in f])[0]
    assert frame[keys.SIMULATION_EXCEPTION].startswith("ZeroDivisionError during simulation `fragile`")
    wait_for(lambda: runner.is_paused)


def test_load_and_next_switch_simulations(run, wait_for) -> None:
    a, b = CountingSimulation("a"), CountingSimulation("b")
    changes: list[tuple[int, str]] = []
    runner, publisher = run([a, b], on_simulation_changed=lambda i, n: changes.append((i, n)))
    wait_for(lambda: publisher.frames())
    runner.set_interactions({"interaction.x": Interaction.from_state({"particles": [0]})})
    wait_for(lambda: a.interactions)
    runner.pause()
    runner.load(1)
    assert runner.index == 1 and changes[-1] == (1, "b")
    assert not runner.is_paused  # load plays, as NanoVer
    assert b.interactions == {}  # interactions do not carry over
    wait_for(lambda: b.advances > 0)
    runner.next()
    assert runner.index == 0 and changes[-1] == (0, "a")
    runner.load(3)  # modulo, as NanoVer
    assert runner.index == 1


def test_a_load_forgets_the_old_pulls_before_the_new_simulation_shows_its_first_frame(run, wait_for) -> None:
    """A client pulls on seeing the new simulation's first frame; forgetting the previous simulation's
    pulls (the listeners) must come before that frame, or that pull is forgotten too (a CI failure)."""
    events: list[str] = []

    class Shown(CountingSimulation):
        def reset(self) -> FrameDict:
            events.append(f"first frame of {self.name}")
            return super().reset()

    a, b = Shown("a"), Shown("b")
    runner, publisher = run([a, b], on_simulation_changed=lambda i, n: events.append(f"changed to {n}"))
    wait_for(lambda: publisher.frames())
    runner.load(1)
    wait_for(lambda: "first frame of b" in events)
    assert events == ["changed to a", "first frame of a", "changed to b", "first frame of b"]


def test_free_run_makes_many_steps_per_frame_and_paced_one_chunk(nanotube_xml: Path, wait_for) -> None:
    steps_per_frame = {}
    for free in (False, True):
        sim = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference")
        publisher = FakePublisher()
        runner = SimulationRunner([sim], publisher, frame_rate=10.0, free_run=free)
        started = time.perf_counter()
        runner.start()
        try:
            wait_for(lambda: len(publisher.frames()) >= 6, timeout=60)
        finally:
            runner.close()
        elapsed = time.perf_counter() - started
        frames = len(publisher.frames())
        assert frames <= 10 * elapsed + 3  # at most frame_rate frames per second either way (+ the reset frame)
        steps_per_frame[free] = sim.steps_taken / frames
    assert steps_per_frame[False] <= sim.steps_per_frame  # paced: one chunk a frame (the reset frame none)
    assert steps_per_frame[True] > 3 * sim.steps_per_frame  # free: chunk after chunk between frames


class LoopingSimulation(CountingSimulation):
    """Starts a new frame sequence (``frame.index`` 0) every third frame, as a looping playback does."""

    def advance(self, seconds: float) -> FrameDict:
        frame = super().advance(seconds)
        if self.advances % 3 == 0:
            frame = {keys.FRAME_INDEX: 0, keys.PARTICLE_COUNT: 3, **frame}
        return frame


def test_a_new_sequence_from_the_simulation_is_a_clear(run, wait_for) -> None:
    runner, publisher = run([LoopingSimulation()], frame_rate=100.0)
    wait_for(lambda: len(publisher.frames()) >= 8)
    runner.pause()
    kinds = [kind for kind, _ in publisher.events]
    # start: clear + full frame; then every third advance: clear + frame
    assert kinds.count("clear") >= 3
    assert all(keys.FRAME_INDEX not in frame for frame in publisher.frames())
    after_clear = [publisher.events[i + 1][1] for i, (kind, _) in enumerate(publisher.events[:-1]) if kind == "clear"]
    assert all(frame[keys.PARTICLE_COUNT] == 3 for frame in after_clear)


def test_free_running_shows_a_new_grab_without_waiting_for_the_frame_clock(run, nanotube_sim, wait_for) -> None:
    runner, publisher = run([nanotube_sim], frame_rate=0.01, free_run=True)  # the clock ticks every 100 s
    wait_for(lambda: len(publisher.frames()) >= 2)  # the reset frame and the clock's first tick
    grab = Interaction.from_state({"position": [2.0, 2.0, 2.0], "particles": [60]}, particle_count=65)
    runner.set_interactions({"interaction.grab": grab})
    grabbed = wait_for(lambda: [f for f in publisher.frames() if len(f.get(keys.USER_FORCES_INDEX, ()))], timeout=30)
    assert grabbed[0][keys.USER_FORCES_INDEX].tolist() == [60]  # well before the clock's next tick


def _episodes_after_resets(runner: SimulationRunner, publisher: FakePublisher, wait_for, *, resets: int, frames: int = 8) -> list[np.ndarray]:
    """Positions of ``frames`` stepped frames after each of ``resets`` playback resets (paused)."""
    wait_for(lambda: publisher.frames())
    runner.pause()
    wait_for(lambda: runner.is_paused)
    episodes = []
    for _ in range(resets):
        publisher.clear_events()
        runner.reset()
        for _ in range(frames):
            runner.step()
        stepped = wait_for(lambda: len(publisher.frames()) >= frames + 1 and publisher.frames())
        episodes.append(np.stack([frame[keys.PARTICLE_POSITIONS] for frame in stepped]))
    return episodes


def test_each_reset_draws_new_thermostat_noise_unless_seeded(run, nanotube_xml: Path, wait_for) -> None:
    runner, publisher = run([OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference")])
    _, second, third = _episodes_after_resets(runner, publisher, wait_for, resets=3)
    assert np.array_equal(second[0], third[0])  # the same start
    assert not np.array_equal(second[-1], third[-1])  # NanoVer's reset replays the same noise: not here


def test_seeded_servers_repeat_reset_by_reset(run, nanotube_xml: Path, wait_for) -> None:
    runs = []
    for _ in range(2):
        simulation = OpenMMSimulation(read_nanover_xml(nanotube_xml), platform="Reference", seed=7)
        runner, publisher = run([simulation])
        runs.append(_episodes_after_resets(runner, publisher, wait_for, resets=3))
        runner.close()
    for episode_a, episode_b in zip(*runs):
        assert np.array_equal(episode_a, episode_b)
    assert not np.array_equal(runs[0][1][-1], runs[0][2][-1])  # each reset has noise of its own


def test_the_runner_lets_a_frames_readers_finish_only_when_the_simulation_fills_the_cores(run, wait_for) -> None:
    class FillingSimulation(CountingSimulation):
        fills_cores = True  # OpenMM's CPU workers on every core: a send meanwhile would stall them

    _, filling = run([FillingSimulation()], frame_rate=20.0)
    _, sharing = run([CountingSimulation()], frame_rate=20.0)
    wait_for(lambda: len(filling.readers_waits) >= 3 and len(sharing.frames()) >= 3)
    assert filling.readers_waits[0] == pytest.approx(READERS_WAIT_SHARE / 20.0)
    assert sharing.readers_waits == []


def test_an_openmm_simulation_fills_the_cores_with_one_cpu_worker_per_core(nanotube_xml: Path) -> None:
    from costeer.engine.affinity import process_cores

    loaded = read_nanover_xml(nanotube_xml)
    cpu = OpenMMSimulation(loaded, platform="CPU", cpu_threads=len(process_cores()), cpu_core="off")
    reference = OpenMMSimulation(loaded, platform="Reference")
    assert not cpu.fills_cores  # not loaded yet: no platform
    cpu.load(), reference.load()
    try:
        assert cpu.fills_cores and not reference.fills_cores
    finally:
        cpu.close(), reference.close()
