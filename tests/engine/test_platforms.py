"""Platform choice by timing (fake trials: fast and deterministic), candidates and overrides."""

from __future__ import annotations

import pytest

from costeer.engine.platforms import (
    REFERENCE_TRIAL_MAX_STEP_SECONDS,
    ContextTrial,
    PlatformCandidate,
    available_platforms,
    choose_platform,
    platform_candidates,
)

REFERENCE = PlatformCandidate("Reference")
CPU_1 = PlatformCandidate("CPU", 1)
CPU_2 = PlatformCandidate("CPU", 2)


class FakeTrial:
    """Steps at preset rates, one per round (the last repeats), and a preset step time."""

    def __init__(self, rates: list[float], step_seconds: float = 0.001) -> None:
        self.rates = list(rates)
        self.step_seconds = step_seconds
        self.rounds = 0
        self.closed = False

    def seconds_per_step(self) -> float:
        return self.step_seconds

    def steps_per_second(self, seconds: float) -> float:
        rate = self.rates[min(self.rounds, len(self.rates) - 1)]
        self.rounds += 1
        return rate

    def close(self) -> None:
        self.closed = True


def test_the_fastest_median_wins_and_losers_are_closed() -> None:
    trials = {REFERENCE: FakeTrial([3000, 4000, 4100, 4200]), CPU_1: FakeTrial([3000, 4900, 100, 4800]),
              CPU_2: FakeTrial([1900])}
    choice = choose_platform([CPU_2, CPU_1, REFERENCE], open_trial=trials.__getitem__, rounds=3, close_rounds=0)
    assert choice.candidate == CPU_1  # median 4,800 beats Reference's 4,100 despite one bad round
    assert choice.trial is trials[CPU_1] and not trials[CPU_1].closed
    assert trials[REFERENCE].closed and trials[CPU_2].closed
    assert choice.steps_per_second == {CPU_2: 1900, CPU_1: 4800, REFERENCE: 4100}
    assert "-> CPU (1 thread)" in choice.describe()


def test_rounds_interleave_candidates() -> None:
    order: list[str] = []

    class Recording(FakeTrial):
        def __init__(self, name: str) -> None:
            super().__init__([1.0])
            self.name = name

        def steps_per_second(self, seconds: float) -> float:
            order.append(self.name)
            return super().steps_per_second(seconds)

    trials = {CPU_2: Recording("a"), CPU_1: Recording("b")}
    choose_platform([CPU_2, CPU_1], open_trial=trials.__getitem__, rounds=3, close_rounds=0, clock=lambda: 0.0)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]  # the warm-up, then each round starts one candidate later


def test_a_candidate_far_behind_in_the_warm_up_round_is_not_timed_again() -> None:
    trials = {CPU_2: FakeTrial([5000.0]), CPU_1: FakeTrial([4000.0]), REFERENCE: FakeTrial([2400.0])}
    choice = choose_platform([CPU_2, CPU_1, REFERENCE], open_trial=trials.__getitem__, rounds=4, close_rounds=0,
                             clock=lambda: 0.0)
    assert choice.candidate == CPU_2
    assert (trials[CPU_2].rounds, trials[CPU_1].rounds, trials[REFERENCE].rounds) == (5, 5, 1)  # warm-up + 4
    assert trials[REFERENCE].closed and choice.steps_per_second[REFERENCE] == 2400.0


def test_rounds_stop_once_the_budget_is_spent() -> None:
    ticks = iter(range(100))
    trials = {CPU_2: FakeTrial([1.0]), CPU_1: FakeTrial([2.0])}
    choose_platform([CPU_2, CPU_1], open_trial=trials.__getitem__, rounds=5, budget_seconds=2, clock=lambda: next(ticks))
    assert trials[CPU_1].rounds == 2  # the warm-up and one round
    slow = {CPU_2: FakeTrial([1.0]), CPU_1: FakeTrial([2.0])}
    choice = choose_platform([CPU_2, CPU_1], open_trial=slow.__getitem__, budget_seconds=0, close_budget_seconds=0)
    assert (slow[CPU_2].rounds, slow[CPU_1].rounds) == (1, 1)  # a slow system: the warm-up alone decides
    assert choice.candidate == CPU_1 and choice.steps_per_second == {CPU_2: 1.0, CPU_1: 2.0}


def test_the_warm_up_round_does_not_count() -> None:
    trials = {CPU_2: FakeTrial([300.0, 700.0]), CPU_1: FakeTrial([600.0])}
    choice = choose_platform([CPU_2, CPU_1], open_trial=trials.__getitem__, rounds=2, clock=lambda: 0.0)
    assert choice.candidate == CPU_2  # a slow first slice (OpenMM's threads starting) is not held against it
    assert choice.steps_per_second == {CPU_2: 700.0, CPU_1: 600.0}


def test_a_close_call_between_thread_counts_is_timed_longer_and_a_clear_lead_is_not() -> None:
    def villin() -> dict[PlatformCandidate, FakeTrial]:  # 2 threads read no faster than 1 for a while, then 1.4x
        return {CPU_2: FakeTrial([300.0, 500.0, 500.0, 700.0]), CPU_1: FakeTrial([500.0, 520.0]),
                PlatformCandidate("CPU", 1, 0): FakeTrial([510.0])}

    trials = villin()
    choice = choose_platform(list(trials), open_trial=trials.__getitem__, rounds=2, close_rounds=6, clock=lambda: 0.0)
    assert choice.candidate == CPU_2
    assert [trial.rounds for trial in trials.values()] == [9, 9, 3]  # the pinned twin of the rival is not timed on
    trials, ticks = villin(), iter(range(100))
    choose_platform(list(trials), open_trial=trials.__getitem__, rounds=2, budget_seconds=10, close_rounds=6,
                    close_budget_seconds=5, clock=lambda: next(ticks))
    assert trials[CPU_2].rounds == 1 + 2 + 2  # the warm-up, two rounds, then extra rounds until the close budget

    clear = {CPU_2: FakeTrial([1000.0]), CPU_1: FakeTrial([500.0])}
    choose_platform(list(clear), open_trial=clear.__getitem__, rounds=2, close_rounds=6, clock=lambda: 0.0)
    assert [trial.rounds for trial in clear.values()] == [3, 3]


def test_reference_is_not_timed_when_a_step_elsewhere_is_slow() -> None:
    opened: list[PlatformCandidate] = []
    slow = 2 * REFERENCE_TRIAL_MAX_STEP_SECONDS

    def open_trial(candidate: PlatformCandidate) -> FakeTrial:
        opened.append(candidate)
        return FakeTrial([10.0 if candidate == CPU_2 else 5.0], step_seconds=slow)

    choice = choose_platform([CPU_2, CPU_1, REFERENCE], open_trial=open_trial)
    assert opened == [CPU_2, CPU_1]
    assert choice.candidate == CPU_2


def test_a_platform_that_fails_to_start_is_skipped() -> None:
    def open_trial(candidate: PlatformCandidate) -> FakeTrial:
        if candidate.name == "CUDA":
            raise RuntimeError("no CUDA device")
        return FakeTrial([1.0])

    choice = choose_platform([PlatformCandidate("CUDA"), REFERENCE], open_trial=open_trial)
    assert choice.candidate == REFERENCE
    assert choice.steps_per_second == {}  # one runnable candidate: nothing to compare


def test_a_single_candidate_is_not_timed() -> None:
    choice = choose_platform([REFERENCE], open_trial=lambda candidate: pytest.fail("timed a lone candidate"))
    assert choice.candidate == REFERENCE and choice.trial is None


def test_candidates_time_cpu_with_all_cores_and_one_left_free() -> None:
    candidates = platform_candidates(cores=2)
    assert CPU_2 in candidates and CPU_1 in candidates
    assert candidates[-1] == REFERENCE  # timed last, after the rule above can skip it
    assert platform_candidates("cpu", cores=8) == [PlatformCandidate("CPU", 8), PlatformCandidate("CPU", 7)]
    assert platform_candidates("CPU", cpu_threads=3, cores=8) == [PlatformCandidate("CPU", 3)]
    assert platform_candidates("auto", cores=1) == platform_candidates(None, cores=1)
    assert CPU_1.properties == {"Threads": "1"} and REFERENCE.properties == {}


def test_requested_platform_overrides_any_case() -> None:
    assert platform_candidates("reference") == [REFERENCE]


def test_unknown_platform_lists_available() -> None:
    with pytest.raises(ValueError, match="Reference") as raised:
        platform_candidates("NoSuchPlatform")
    assert "NoSuchPlatform" in str(raised.value)
    with pytest.raises(ValueError, match="at least 1"):
        platform_candidates("CPU", cpu_threads=0)


def test_context_trial_restores_the_state_it_started_in(nanotube_xml) -> None:
    import openmm

    from costeer.engine.nanover_xml import read_nanover_xml

    loaded = read_nanover_xml(nanotube_xml)
    integrator = openmm.XmlSerializer.clone(loaded.integrator)
    context = openmm.Context(loaded.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(loaded.positions)
    before = context.getState(getPositions=True).getPositions(asNumpy=True)
    trial = ContextTrial(context, integrator, steps_per_call=5)
    trial.seconds_per_step()
    assert trial.steps_per_second(0.01) > 0
    restored = trial.restored()
    assert restored.getState().getTime()._value == 0.0
    assert (restored.getState(getPositions=True).getPositions(asNumpy=True) == before).all()
    assert "Reference" in available_platforms()


def test_auto_load_runs_on_the_timed_winner_from_the_initial_state(nanotube_xml, caplog) -> None:
    import logging

    import numpy as np

    from costeer.core import keys
    from costeer.engine.nanover_xml import read_nanover_xml
    from costeer.engine.openmm_simulation import OpenMMSimulation

    loaded = read_nanover_xml(nanotube_xml)
    simulation = OpenMMSimulation(loaded, platform="auto")
    with caplog.at_level(logging.INFO, logger="costeer.engine"):
        simulation.load()
    assert "platform timing for nanotube" in caplog.text
    assert simulation.platform == simulation.platform_candidate.name
    untimed = OpenMMSimulation(loaded, platform="Reference")
    untimed.load()
    frame, expected = simulation.reset(), untimed.reset()  # the timing steps left no trace
    assert frame[keys.SIMULATION_TIME] == expected[keys.SIMULATION_TIME]
    np.testing.assert_allclose(frame[keys.PARTICLE_POSITIONS], expected[keys.PARTICLE_POSITIONS], atol=1e-6)


def test_cpu_with_one_thread_is_also_timed_on_each_core_to_pin_to() -> None:
    candidates = platform_candidates(cores=2, pin_cores=[1, 0])
    assert candidates.count(CPU_1) == 1
    assert PlatformCandidate("CPU", 1, 1) in candidates and PlatformCandidate("CPU", 1, 0) in candidates
    assert str(PlatformCandidate("CPU", 1, 1)) == "CPU (1 thread, core 1)"
    assert platform_candidates("CPU", cpu_threads=2, cores=2, pin_cores=[0]) == [CPU_2]  # pinned: one thread only
    assert platform_candidates("reference", pin_cores=[0]) == [REFERENCE]
    assert platform_candidates("CPU", cores=2, pin_cores=[1], pinned_only=True) == [CPU_2, PlatformCandidate("CPU", 1, 1)]


def test_a_cpu_candidate_fills_the_cores_when_its_workers_cover_them() -> None:
    assert CPU_2.fills(2) and PlatformCandidate("CPU").fills(2)  # no thread count: OpenMM's one per core
    assert CPU_1.fills(1) and not CPU_1.fills(2)
    assert not REFERENCE.fills(1) and not PlatformCandidate("CUDA").fills(1)
