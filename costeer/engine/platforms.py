"""Pick the OpenMM platform (and CPU thread count) that runs a system fastest, by timing it.

    candidates = platform_candidates(requested=None, cpu_threads=None)
    choice = choose_platform(candidates, open_trial=lambda candidate: ContextTrial(...))
    context = choice.trial.restored()

Which platform is fastest depends on the machine as much as on the system: on one 2-core
machine the nanotube (65 atoms) ran 7,170 steps/s on Reference against 1,890 on CPU, on
another of the same kind 4,050-4,560 against 4,330-4,920 (PERF-NOTES). So no size rule: at
load each candidate runs the actual system for a fraction of a second, in interleaved
rounds (A, B, C, then B, C, A, ...: drift on a shared machine hits every candidate alike,
and no candidate always follows the same one), and the best median rate wins. The first
round only warms up: on villin the 2-thread CPU platform's first slice mostly ran at 330-570
steps/s against 600-840 later, and counted among four rounds it handed the choice to 1 thread (~470
steps/s steady against 635) in 1 load of 12. A candidate under half the fastest's rate in
that round is not timed again: on villin, a slice right after Reference's (at a third of the
CPU platform's rate) ran the 2-thread CPU platform ~20% slower. A close call (the leader less
than ``CLOSE_RATIO`` ahead of another platform or thread count) is timed longer, since one
second of slices on a shared machine still chose 1 thread for villin in 2 loads of 16 (3
seconds: none of 16). The CPU platform is tried with all cores and with one left to
the server's own threads (network, recording, co-pilot), and, given cores to pin to, with one
thread kept on one of them (``costeer.engine.affinity``: on 2-core machines the nanotube ran
20-26% faster so). The timing runs without clients:
clients on the same machine take CPU time from a platform that uses every core (villin on
both cores of a 2-core machine lost 15-29% to one local client, issue 6), so where they
run beside the server, ``--cpu-threads`` can leave them a core.

The Reference platform is timed only when the fastest other candidate takes under
``REFERENCE_TRIAL_MAX_STEP_SECONDS`` per step: only there does the CPU platform's per-step
thread overhead let Reference win, and on large systems one Reference step can take
seconds (8,867-atom PME villin: 1.3 s).
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Generic, Protocol, Sequence, TypeVar

import openmm

from .affinity import on_core, process_cores

__all__ = [
    "PlatformCandidate",
    "PlatformTrial",
    "PlatformChoice",
    "ContextTrial",
    "available_platforms",
    "check_platform",
    "platform_candidates",
    "choose_platform",
    "REFERENCE_TRIAL_MAX_STEP_SECONDS",
]

_LOG = logging.getLogger(__name__)

REFERENCE_TRIAL_MAX_STEP_SECONDS = 0.004
"""Reference is timed only if the best other candidate's step is faster than this."""
ROUNDS = 5
"""Timing rounds after the warm-up round: every candidate once per round; the median of its rounds counts
(of the warm-up's alone, for a system so slow to step that the budget is spent by then)."""
SLICE_SECONDS = 0.04
"""Wall time each candidate steps for in one round (at least one ``step`` call)."""
BUDGET_SECONDS = 1.0
"""No new round starts once the rounds so far (the warm-up's included) took this long."""
SLOW_FRACTION = 0.5
"""After the warm-up round, candidates under this share of the fastest one's rate are dropped."""
CLOSE_RATIO = 1.25
"""A leader less than this factor ahead of another way to run is a close call, timed longer."""
CLOSE_ROUNDS = 20
"""Most extra rounds for the two candidates of a close call."""
CLOSE_BUDGET_SECONDS = 3.0
"""No extra round starts once the timing (all of it) took this long."""
_GPU_PLATFORMS = ("CUDA", "HIP", "OpenCL")


@dataclass(frozen=True)
class PlatformCandidate:
    """One way to run: an OpenMM platform and, for the CPU platform, a thread count."""

    name: str
    threads: int | None = None
    """CPU worker threads; ``None`` leaves OpenMM's default."""
    core: int | None = None
    """The core the stepping thread and OpenMM's worker are kept on; ``None``: wherever the OS runs them."""

    def fills(self, cores: int) -> bool:
        """True when this candidate's CPU workers take all ``cores`` (OpenMM's default: one per core)."""
        return self.name == "CPU" and (self.threads is None or self.threads >= cores)

    @property
    def properties(self) -> dict[str, str]:
        """Platform properties for ``openmm.Context``."""
        return {"Threads": str(self.threads)} if self.threads is not None else {}

    @property
    def platform(self) -> openmm.Platform:
        return openmm.Platform.getPlatformByName(self.name)

    def __str__(self) -> str:
        details = [] if self.threads is None else [f"{self.threads} thread{'s' if self.threads != 1 else ''}"]
        details += [] if self.core is None else [f"core {self.core}"]
        return f"{self.name} ({', '.join(details)})" if details else self.name


class PlatformTrial(Protocol):
    """A system ready to step on one candidate, for timing."""

    def seconds_per_step(self) -> float:
        """Warm the platform up, then time one step: its seconds."""

    def steps_per_second(self, seconds: float) -> float:
        """Step for about ``seconds`` (at least one call) and return the rate."""

    def close(self) -> None:
        """Release the trial's resources (a losing candidate's context)."""


Trial = TypeVar("Trial", bound=PlatformTrial)


@dataclass
class PlatformChoice(Generic[Trial]):
    """The fastest candidate, its trial (to reuse) and every median rate measured."""

    candidate: PlatformCandidate
    trial: Trial | None
    """``None`` when nothing was timed (a single candidate)."""
    steps_per_second: dict[PlatformCandidate, float] = field(default_factory=dict)

    def describe(self) -> str:
        """``'Reference 4,100, CPU (1 thread) 4,800 steps/s -> CPU (1 thread)'``"""
        if not self.steps_per_second:
            return f"{self.candidate} (not timed)"
        rates = ", ".join(f"{candidate} {rate:,.0f}" for candidate, rate in self.steps_per_second.items())
        return f"{rates} steps/s -> {self.candidate}"


class ContextTrial:
    """Times an OpenMM context, then hands it back in the state it started in.

    ``trial = ContextTrial(context, integrator, steps_per_call=5)`` ... ``trial.restored()``
    With ``core``, it steps with the calling thread kept on that core (as the context's own
    CPU workers are, when it was made ``on_core(core)``).
    """

    def __init__(
        self, context: openmm.Context, integrator: openmm.Integrator, *, steps_per_call: int, core: int | None = None
    ) -> None:
        self.context = context
        self.integrator = integrator
        self.steps_per_call = max(1, steps_per_call)
        """Steps per ``step`` call: the runner's chunk, or 1 once a step is slow."""
        self.core = core
        self._checkpoint = context.createCheckpoint()

    def seconds_per_step(self) -> float:
        with on_core(self.core):
            self.integrator.step(1)  # the first step sets the platform up
            started = time.perf_counter()
            self.integrator.step(1)
            seconds = time.perf_counter() - started
        if seconds * self.steps_per_call > SLICE_SECONDS:
            self.steps_per_call = 1
        return seconds

    def steps_per_second(self, seconds: float) -> float:
        steps = 0
        with on_core(self.core):
            started = time.perf_counter()
            while True:
                self.integrator.step(self.steps_per_call)
                steps += self.steps_per_call
                elapsed = time.perf_counter() - started
                if elapsed >= seconds:
                    return steps / elapsed

    def restored(self) -> openmm.Context:
        """The context back in its state from before the timing."""
        self.context.loadCheckpoint(self._checkpoint)
        return self.context

    def close(self) -> None:
        self.context = None
        self.integrator = None


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms installed here."""
    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


def check_platform(requested: str | None) -> list[str]:
    """The installed platforms ``requested`` names (any case; ``None`` or ``"auto"``: all of them).

    Raises ``ValueError`` naming the platforms available here for one that is not installed.
    """
    names = available_platforms()
    if not requested or requested.lower() == "auto":
        return names
    match = [name for name in names if name.lower() == requested.lower()]
    if not match:
        raise ValueError(f"no OpenMM platform named {requested!r}; available here: auto, {', '.join(names)}")
    return match


def platform_candidates(
    requested: str | None = None, *, cpu_threads: int | None = None, cores: int | None = None,
    pin_cores: Sequence[int] = (), pinned_only: bool = False,
) -> list[PlatformCandidate]:
    """What to time: the ``requested`` platform (any case; ``None`` or ``"auto"``: every one).

    The CPU platform comes with ``cpu_threads`` threads if given, else with all ``cores``
    and with all but one; with one thread, also kept on each of ``pin_cores`` (``pinned_only``:
    instead of left to the OS). Raises
    ``ValueError`` naming the platforms available for an unknown one, and for
    ``cpu_threads`` below 1.
    """
    if cpu_threads is not None and cpu_threads < 1:
        raise ValueError(f"the CPU thread count must be at least 1, got {cpu_threads}")
    names = check_platform(requested)
    cores = cores or len(process_cores())
    thread_counts = [cpu_threads] if cpu_threads is not None else sorted({cores, max(1, cores - 1)}, reverse=True)
    candidates: list[PlatformCandidate] = []
    for name in [*_GPU_PLATFORMS, "CPU", "Reference"]:  # fastest first, for the Reference rule
        if name not in names:
            continue
        if name == "CPU":
            pinned = [PlatformCandidate("CPU", 1, core) for core in pin_cores] if 1 in thread_counts else []
            candidates += [PlatformCandidate("CPU", threads) for threads in thread_counts
                           if not (threads == 1 and pinned and pinned_only)] + pinned
        else:
            candidates.append(PlatformCandidate(name))
    candidates += [PlatformCandidate(name) for name in names if name not in (*_GPU_PLATFORMS, "CPU", "Reference")]
    return candidates


def choose_platform(
    candidates: Sequence[PlatformCandidate],
    *,
    open_trial: Callable[[PlatformCandidate], Trial],
    rounds: int = ROUNDS,
    slice_seconds: float = SLICE_SECONDS,
    budget_seconds: float = BUDGET_SECONDS,
    close_rounds: int = CLOSE_ROUNDS,
    close_budget_seconds: float = CLOSE_BUDGET_SECONDS,
    clock: Callable[[], float] = time.perf_counter,
) -> PlatformChoice[Trial]:
    """Time every candidate in interleaved rounds and return the fastest, its trial kept open.

    When the leader and the best of another way to run (platform or thread count) are within
    ``CLOSE_RATIO`` of each other, those two go on for up to ``close_rounds`` more rounds, until
    ``close_budget_seconds`` from the start.

    A single candidate is returned untimed (``trial`` ``None``). Candidates that fail to
    start (a GPU platform without a usable device) are skipped with a warning; the losers'
    trials are closed.
    """
    if not candidates:
        raise ValueError("no platform to choose from")
    if len(candidates) == 1:
        return PlatformChoice(candidates[0], None)
    trials: dict[PlatformCandidate, Trial] = {}
    fastest_step = float("inf")
    for candidate in candidates:
        if candidate.name == "Reference" and trials and fastest_step > REFERENCE_TRIAL_MAX_STEP_SECONDS:
            continue
        trial = None
        try:
            trial = open_trial(candidate)
            fastest_step = min(fastest_step, trial.seconds_per_step())
        except Exception as error:  # an OpenMMException from a platform that cannot run here
            _LOG.warning("platform %s cannot run this system, skipped: %s", candidate, error)
            if trial is not None:
                trial.close()
            continue
        trials[candidate] = trial
    if not trials:
        raise RuntimeError(f"no OpenMM platform could run this system (tried {', '.join(map(str, candidates))})")
    if len(trials) == 1:
        (candidate, trial), = trials.items()
        return PlatformChoice(candidate, trial)
    started = clock()
    warm_up = {candidate: trial.steps_per_second(slice_seconds) for candidate, trial in trials.items()}
    fastest = max(warm_up.values())  # far behind: not timed again (its slices would cool the caches)
    timed = [candidate for candidate, rate in warm_up.items() if rate >= SLOW_FRACTION * fastest]
    rates: dict[PlatformCandidate, list[float]] = {candidate: [] for candidate in timed}

    def time_rounds(candidates: list[PlatformCandidate], count: int, until: float) -> None:
        for round_index in range(count):
            if clock() >= until:  # a system slow to step may get no round beyond the warm-up
                break
            shift = (round_index + 1) % len(candidates)
            for candidate in candidates[shift:] + candidates[:shift]:
                rates[candidate].append(trials[candidate].steps_per_second(slice_seconds))

    def medians() -> dict[PlatformCandidate, float]:
        return {candidate: statistics.median(rates[candidate]) if rates.get(candidate) else rate
                for candidate, rate in warm_up.items()}

    time_rounds(timed, rounds, started + budget_seconds)
    so_far = medians()
    close = _close_call({candidate: so_far[candidate] for candidate in timed})
    if close and close_rounds > 0:
        _LOG.info("platform timing: %s close, timing them longer", " and ".join(map(str, close)))
        time_rounds(close, close_rounds, started + close_budget_seconds)
    rate_of = medians()
    best = max(timed, key=rate_of.get)
    for candidate, trial in trials.items():
        if candidate != best:
            trial.close()
    return PlatformChoice(best, trials[best], rate_of)


def _close_call(medians: dict[PlatformCandidate, float]) -> list[PlatformCandidate]:
    """The leader and the best candidate of another platform or thread count, when within ``CLOSE_RATIO``; else none.

    Candidates that differ only in the core they are kept on run alike: a close call between them costs nothing.
    """
    ranked = sorted(medians, key=medians.get, reverse=True)
    leader = ranked[0]
    rival = next((candidate for candidate in ranked[1:]
                  if (candidate.name, candidate.threads) != (leader.name, leader.threads)), None)
    if rival is None or medians[rival] * CLOSE_RATIO < medians[leader]:
        return []
    return [leader, rival]
