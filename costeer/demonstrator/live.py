"""Synthetic demonstrations through a live server: connect as a headset does, grab, steer, reset, repeat.

Each episode: ``playback/reset``, a new person (the task's ``demonstrator`` hand, e.g. the
nanotube's :class:`~costeer.tasks.hands.ThreadingHand`, seeded by ``(seed, episode)``) grabs the
task's atoms with a spring of the hand's ``strength`` and steers them until they let go. The hand is moved once per
frame received, on a person's clock: simulated time over the human pace. So a server run
faster than a person's pace (``costeer serve --steps-per-frame 30`` is 6 times the default
5) compresses the whole human timeline faithfully: every move, pause and push lands at the
same simulated time as at a person's pace, only sooner on the wall clock.

The sessions say they are synthetic: the shared state holds ``costeer.demonstrator``
(``origin: synthetic``, seed, episode, and the hand's ``attempt``, ``phase`` and ``persona`` when it has them) and the interaction has
``label: synthetic`` and ``owner.id: costeer-demonstrator-<seed>``; a recording keeps both.

    reports = asyncio.run(demonstrate("ws://127.0.0.1:38801", episodes=20, seed=1))
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from costeer.client.session import NanoverSession
from costeer.core import keys
from costeer.tasks import Chemistry, resolve_task

from .person import require_synthetic_person, synthetic_person
from costeer.tasks.hand import HUMAN_PACE_PS_PER_S

__all__ = ["DEMONSTRATOR_KEY", "EpisodeReport", "demonstrate", "measure_pace"]

DEMONSTRATOR_KEY = keys.STATE_DEMONSTRATOR
"""Shared-state key labelling the session's demonstrations as synthetic."""

LINGER_S = 0.5
"""A person's seconds of frames kept after letting go, so the recording shows methane leave."""
FRAME_TIMEOUT_S = 15.0

_LOG = logging.getLogger(__name__)


@dataclass
class EpisodeReport:
    """One synthetic demonstration, as the demonstrator saw it."""

    index: int
    success: bool
    """The task's success detector on the frames this client received."""
    hand_outcome: str
    """What the person believed: ``threaded``, ``gave_up`` or ``timeout``."""
    attempts: int
    frames: int
    person_s: float
    """Length in a person's seconds (simulated time over the human pace)."""
    wall_s: float
    persona: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


class _FrameFeed:
    """The latest positions frame and how many resets came before it, awaitable frame by frame."""

    def __init__(self) -> None:
        self.resets = 0
        self.frame: dict[str, Any] = {}
        self._count = 0
        self._taken = 0
        self._arrived = asyncio.Event()

    def __call__(self, delta: dict[str, Any], merged: dict[str, Any]) -> None:
        if delta.get(keys.FRAME_INDEX) == 0:
            self.resets += 1
        if keys.PARTICLE_POSITIONS in delta and keys.SIMULATION_TIME in merged:
            self.frame, self._count = merged, self._count + 1
            self._arrived.set()

    async def next(self) -> dict[str, Any]:
        """The newest positions frame not yet returned (waiting for one if need be)."""
        if self._count == self._taken:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), FRAME_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"no frame from the server for {FRAME_TIMEOUT_S:.0f} s: is the simulation paused or stuck?"
                ) from None
        self._taken = self._count
        return self.frame


async def measure_pace(session: NanoverSession, *, seconds: float = 1.0) -> float:
    """How many times a person's pace the server's simulated time runs (1.0 = NanoVer's default pacing)."""
    feed = _FrameFeed()
    session.add_frame_listener(feed)
    try:
        first = await feed.next()
        start_wall, start_time = time.monotonic(), float(first[keys.SIMULATION_TIME])
        while (wall := time.monotonic() - start_wall) < seconds:
            frame = await feed.next()
        elapsed_ps = float(frame[keys.SIMULATION_TIME]) - start_time
    finally:
        session.remove_frame_listener(feed)
    return elapsed_ps / wall / HUMAN_PACE_PS_PER_S


async def demonstrate(
    url: str,
    *,
    episodes: int,
    task_name: str = "nanotube",
    seed: int = 0,
    time_compression: float | None = None,
    max_person_s: float = 60.0,
    on_episode: Callable[[EpisodeReport], None] | None = None,
    ssl: Any = None,
    token: str | None = None,
) -> list[EpisodeReport]:
    """Run ``episodes`` synthetic demonstrations on the server at ``url``; return their reports.

    ``ssl`` and ``token``: as ``NanoverSession.connect`` takes them (wss trust, the server's token).

    ``time_compression``: how many times a person's pace the server runs; when given it is
    checked (a factor 1.5 either way is an error that says how to start the server).
    """
    if episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {episodes}")
    task = resolve_task(task_name)
    require_synthetic_person(task)
    owner = f"costeer-demonstrator-{seed}"
    async with NanoverSession.connect(url, ssl=ssl, token=token) as session:
        await session.wait_for_frame(lambda frame: keys.PARTICLE_POSITIONS in frame and keys.BOND_PAIRS in frame)
        pace = await measure_pace(session)
        if time_compression is not None and not (1 / 1.5 <= pace / time_compression <= 1.5):
            raise ValueError(
                f"the server runs at {pace:.1f} times a person's pace, not {time_compression:g}: start it "
                f"with `costeer serve --steps-per-frame {round(5 * time_compression)}` "
                "(a person's pace is NanoVer's default, 5 steps per frame at 30 frames/s)"
            )
        _LOG.info("server at %.1f times a person's pace", pace)
        feed = _FrameFeed()
        session.add_frame_listener(feed)
        reports = []
        try:
            for index in range(episodes):
                label = {
                    "origin": "synthetic",
                    "generator": "costeer demonstrate",
                    "seed": seed,
                    "episode": index,
                    "task": task_name,
                    "time_compression": round(pace, 3),
                }
                report = await _episode(session, feed, task, index, seed, owner, label, max_person_s)
                reports.append(report)
                if on_episode is not None:
                    on_episode(report)
        finally:
            session.remove_frame_listener(feed)
    return reports


async def _episode(
    session: NanoverSession,
    feed: _FrameFeed,
    task: Any,
    index: int,
    seed: int,
    owner: str,
    label: dict[str, Any],
    max_person_s: float,
) -> EpisodeReport:
    frame = await _reset(session, feed)
    wall_start = time.monotonic()
    start = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64)
    chemistry = Chemistry.from_frame(frame)
    selection = task.select(chemistry)
    hand = synthetic_person(task, selection, chemistry, start, np.random.default_rng(np.random.SeedSequence([seed, index])))
    key = f"{keys.INTERACTION_PREFIX}{owner}"
    interaction = {
        "particles": [int(i) for i in selection.grabbed],
        "interaction_type": "spring",
        "scale": hand.strength,
        "mass_weighted": True,
        "reset_velocities": False,
        "max_force": float("inf"),
        "owner.id": owner,
        "label": "synthetic",
    }
    persona = hand.persona.to_dict() if hasattr(hand, "persona") else {}
    label = {**label, "persona": persona}
    time0 = float(frame[keys.SIMULATION_TIME])
    positions, person_s, told = [start], 0.0, None
    while not hand.finished and person_s <= max_person_s:
        target = hand(person_s, positions[-1])
        phase, attempt = getattr(hand, "phase", "acting"), getattr(hand, "attempt", 1)
        if told != (phase, attempt):
            told = (phase, attempt)
            await session.update_state({DEMONSTRATOR_KEY: {**label, "phase": phase, "attempt": attempt}})
        await session.update_state({key: {**interaction, "position": [float(x) for x in target]}})
        person_s = await _next_positions(feed, positions, time0)
    await session.update_state(removals=[key])
    outcome = getattr(hand, "outcome", None) or ("let go" if hand.finished else "timeout")
    attempts = getattr(hand, "attempt", 1)
    released = {**label, "phase": "released", "attempt": attempts, "outcome": outcome}
    await session.update_state({DEMONSTRATOR_KEY: released})
    let_go = person_s
    while person_s < let_go + LINGER_S:
        person_s = await _next_positions(feed, positions, time0)
    return EpisodeReport(
        index=index,
        success=bool(task.evaluate(np.array(positions), selection).success),
        hand_outcome=outcome,
        attempts=attempts,
        frames=len(positions),
        person_s=person_s,
        wall_s=time.monotonic() - wall_start,
        persona=persona,
        events=[
            {"time_s": round(event.time_s, 3), "phase": event.phase, "attempt": event.attempt, "reason": event.reason}
            for event in getattr(hand, "events", ())
        ],
    )


async def _reset(session: NanoverSession, feed: _FrameFeed) -> dict[str, Any]:
    """``playback/reset``, then the first positions frame after it."""
    resets = feed.resets
    await session.run_command(keys.RESET_COMMAND)
    frame = await feed.next()
    while feed.resets == resets:  # frames sent before the reset took effect
        frame = await feed.next()
    return frame


async def _next_positions(feed: _FrameFeed, positions: list[np.ndarray], time0: float) -> float:
    """Append the next frame's positions; return its time in a person's seconds since ``time0`` (ps)."""
    frame = await feed.next()
    positions.append(np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64))
    return (float(frame[keys.SIMULATION_TIME]) - time0) / HUMAN_PACE_PS_PER_S
