"""ThreadingHand, steering the nanotube in a rollout environment: threads when careful, fails and retries when not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costeer.core import keys
from costeer.rollout import TaskEnvironment, hand_actor, run_rollout
from costeer.tasks import Chemistry, build_task_system, get_task, human_scale
from costeer.tasks.hands.nanotube import ThreadingHand
from costeer.tasks.hands.persona import Persona

_ENVIRONMENTS: dict[int, TaskEnvironment] = {}


def _person(seed: int, **changes: object) -> Persona:
    return dataclasses.replace(Persona.sample(np.random.default_rng(seed)), **changes)


@dataclasses.dataclass
class _Episode:
    hand: ThreadingHand
    outcome: object
    times_s: np.ndarray
    targets: np.ndarray
    """(k, 3): the hand's targets while it held on."""
    forces: np.ndarray
    """(T,) magnitude of the user's force in each frame."""


def _rollout(persona: Persona, *, seed: int, steps_per_frame: int = 30) -> _Episode:
    env = _ENVIRONMENTS.get(steps_per_frame) or _ENVIRONMENTS.setdefault(
        steps_per_frame, TaskEnvironment("nanotube", steps_per_frame=steps_per_frame)
    )
    hand = ThreadingHand(env.task, env.selection, env.initial_positions, rng=np.random.default_rng(seed), persona=persona)
    rollout = run_rollout(env, hand_actor(hand, env.selection), seed=seed + 1, max_s=45.0)
    targets = np.array([interaction.position for interaction in rollout.interactions if interaction is not None])
    return _Episode(hand, rollout.outcome, rollout.times_s, targets, np.linalg.norm(rollout.user_forces, axis=1))


@pytest.mark.parametrize("steps_per_frame", [5, 30])
def test_a_careful_person_threads_methane(steps_per_frame: int) -> None:
    episode = _rollout(_person(11, sloppiness=0.0, pause_rate=0.0), seed=11, steps_per_frame=steps_per_frame)
    assert episode.outcome.success, episode.hand.events
    assert episode.hand.outcome == "threaded" and episode.hand.attempt == 1
    phases = [event.phase for event in episode.hand.events]
    assert phases[:4] == ["react", "approach", "align", "push"]
    assert 8.0 < episode.times_s[-1] < 30.0  # people take 8-17 s from a start away from the tube
    details = episode.outcome.details()
    assert (details["entry_end"], details["exit_end"]) == ("near", "far")


def test_an_off_axis_person_backs_out_retries_and_gives_up() -> None:
    persona = _person(12, sloppiness=1.0, persistence=1.0, max_attempts=2, budget_s=40.0, pause_rate=0.0)
    episode = _rollout(persona, seed=12)
    hand = episode.hand
    assert not episode.outcome.success
    assert hand.outcome == "gave_up" and hand.attempt == 2 and hand.retries == 1
    backs = [event for event in hand.events if event.phase == "back_out"]
    assert len(backs) == 2 and all(event.reason for event in backs)
    assert [event.attempt for event in hand.events if event.phase == "approach"][:2] == [1, 2]


def test_forces_and_speeds_are_human_sized() -> None:
    episode = _rollout(_person(13, sloppiness=0.0), seed=13)
    pulling = episode.forces[episode.forces > 0]
    assert 600 < np.median(pulling) < 2000  # humans: medians 930-1370 kJ/(mol nm)
    steps = np.linalg.norm(np.diff(episode.targets, axis=0), axis=1) / np.diff(episode.times_s[: len(episode.targets)])
    assert np.percentile(steps, 90) < 1.5  # nm per person's second; humans' p90 0.49-0.75


def test_choices_do_not_depend_on_the_frame_rate() -> None:
    persona = _person(14, pause_rate=0.0)
    coarse, fine = (_rollout(persona, seed=14, steps_per_frame=spf).hand for spf in (30, 5))
    first = [(event.phase, event.reason) for event in coarse.events if event.phase == "approach"][:1]
    assert first == [(event.phase, event.reason) for event in fine.events if event.phase == "approach"][:1]


def test_the_hand_starts_at_the_methane_and_holds_while_reacting() -> None:
    task = get_task("nanotube")
    built = build_task_system("nanotube")
    frame = {keys.PARTICLE_ELEMENTS: np.array([a.element.atomic_number for a in built.topology.atoms()]),
             keys.BOND_PAIRS: np.array([(a.index, b.index) for a, b in built.topology.bonds()])}
    chemistry = Chemistry.from_frame(frame)
    selection = task.select(chemistry)
    positions = np.asarray(built.positions, dtype=float)
    hand = ThreadingHand(task, selection, positions, rng=np.random.default_rng(0), persona=_person(0, wobble_nm=0.0))
    methane = positions[selection.grabbed[0]]
    for elapsed in (0.0, 0.1, 0.2):
        assert np.linalg.norm(hand(elapsed, positions) - methane) < 1e-6
    assert hand.phase == "react" and not hand.finished
    assert human_scale(chemistry, selection) == pytest.approx(1201.1, abs=0.5)


def test_a_pause_holds_the_hand_then_resumes_the_phase_and_lining_up_starts_afresh() -> None:
    persona = _person(15, sloppiness=0.0, pause_rate=1.0, pause_s=(1.0, 1.0), wobble_nm=0.0)
    episode = _rollout(persona, seed=15)
    events = episode.hand.events
    pauses = [i for i, event in enumerate(events) if event.phase == "pause"]
    assert any(events[i - 1].phase == "align" for i in pauses), events
    times = episode.times_s[: len(episode.targets)]
    for i in pauses:
        before, pause, after = events[i - 1], events[i], events[i + 1]
        assert (after.phase, after.attempt) == (before.phase, before.attempt)
        assert after.time_s - pause.time_s >= 1.0
        held = episode.targets[(times >= pause.time_s) & (times <= after.time_s)]
        assert np.linalg.norm(held - held[0], axis=1).max() < 0.1  # nm; moving, the hand covers ~0.5 nm/s
    # Settling counts only time lined up since the last return from a pause.
    pushes = [(events[i - 1], event) for i, event in enumerate(events) if event.phase == "push" and not event.reason]
    assert pushes and all(push.time_s - align.time_s >= persona.settle_s for align, push in pushes), events
