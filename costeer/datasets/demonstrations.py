"""Read demonstrations from ``.nanover.zip`` recordings: frame by frame, split into episodes.

Each recorded frame becomes a :class:`DemonstrationFrame`: wall and simulation time, full
positions (delta frames merged), the user's force (``forces.user.sparse``/``index``), the
live interactions and avatars from the shared state as it was at that frame (the last state
update at or before it). A recording is cut into :class:`Demonstration` episodes where the
simulation restarts (``frame.index`` 0, or a change of ``system.simulation.counter`` /
``system.reset.counter``), and optionally at each new grab.

A file with frames only (no shared state) has no interactions: whether the user was pulling
comes from ``forces.user.*``, and where the hand was is unknown. A truncated recording is
repaired into a temporary copy (the file itself is left alone) with a
:class:`RepairedRecordingWarning` saying what was lost.

    for demo in iter_demonstrations("session.nanover.zip"):      # or read_demonstrations: a list
        print(demo.source.name, len(demo), demo.origin, demo.pulling.sum())
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction, InvalidInteractionError
from costeer.recording import RecordingReader, TruncatedRecordingError, repair_recording
from costeer.tasks.chemistry import Chemistry

__all__ = [
    "Demonstration",
    "DemonstrationFrame",
    "RepairedRecordingWarning",
    "SplitReason",
    "iter_demonstrations",
    "read_demonstrations",
    "read_frames",
    "recording_origin",
]

SplitReason = Literal["start", "restart", "grab"]
"""Why an episode begins: the recording's start, a simulation restart, or a new grab (``per_grab``)."""

KNOWN_ORIGINS = {"human": "human", "synthetic": "synthetic", "co-pilot": "co-pilot", "copilot": "co-pilot"}


class RepairedRecordingWarning(UserWarning):
    """A truncated recording was read from a repaired copy; the message says what was lost."""


@dataclass(frozen=True, eq=False)
class DemonstrationFrame:
    """One recorded frame with the shared state of its moment.

    Usage: ``frame.positions[frame.user_force_index] ; frame.interactions["interaction.abc"].position``
    """

    wall_time_s: float
    """Seconds since the recording's first message (the recording's own timestamps)."""
    simulation_time_ps: float
    """``system.simulation.time`` (ps); NaN when the frame lacks it."""
    frame_index: int
    """NanoVer's ``frame.index``."""
    counter: int | None
    """``system.simulation.counter`` (or the older ``system.reset.counter``), if any."""
    positions: np.ndarray
    """``(n, 3)`` float32, nm."""
    velocities: np.ndarray | None
    """``(n, 3)`` float32, nm/ps, when the recording has them."""
    user_force_index: np.ndarray
    """Atoms the users' forces act on, ``(k,)`` int64 (empty when nobody pulls)."""
    user_force: np.ndarray
    """The users' forces on those atoms, ``(k, 3)`` float32, kJ/(mol nm)."""
    interactions: Mapping[str, Interaction]
    """Live interactions by state key (``interaction.<id>``); owner and label in ``properties``."""
    avatars: Mapping[str, Any]
    """Avatar entries by state key (``avatar.<owner>``: headset and controller poses)."""


@dataclass(eq=False)
class Demonstration:
    """One episode: consecutive frames of one simulation run (or one grab), with where it came from.

    Usage: ``demo.positions  # (T, n, 3) float32 ; demo.pulling  # (T,) bool``
    """

    source: Path
    """The recording it was read from."""
    part: int
    """Which episode of that recording (0, 1, ...)."""
    split: SplitReason
    """Why this episode begins."""
    chemistry: Chemistry
    """Elements and bonds of the system (from the episode's full frame)."""
    frames: list[DemonstrationFrame]
    origin: str = "unknown"
    """``human``, ``synthetic``, ``co-pilot`` (from ``costeer.session`` labels, else a synthetic
    demonstrator's ``costeer.demonstrator`` entry), or ``unknown``."""
    has_state: bool = True
    """Whether the recording holds shared state (interactions); ``False`` for frames-only files."""
    session: Mapping[str, Any] = field(default_factory=dict)
    """The ``costeer.session`` state entry, if the recording has one."""
    repaired: str | None = None
    """What repairing a truncated recording lost, or ``None``."""

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def positions(self) -> np.ndarray:
        return np.stack([frame.positions for frame in self.frames])

    @property
    def wall_time_s(self) -> np.ndarray:
        return np.array([frame.wall_time_s for frame in self.frames])

    @property
    def pulling(self) -> np.ndarray:
        """``(T,)`` bool: someone pulls (a live interaction; frames-only files: a user force)."""
        return np.array([_pulling(frame, self.has_state) for frame in self.frames], dtype=bool)


def recording_origin(session: Mapping[str, Any] | None) -> str:
    """``labels.origin`` of a ``costeer.session`` entry, normalised; ``"unknown"`` when absent."""
    labels = (session or {}).get("labels") or {}
    origin = str(labels.get("origin", "") or "").strip().lower()
    return KNOWN_ORIGINS.get(origin, origin or "unknown")


def read_demonstrations(path: str | Path, *, per_grab: bool = False, keep_idle: bool = False) -> list[Demonstration]:
    """The episodes of one recording, in order (see the module docstring and :func:`iter_demonstrations`)."""
    return list(iter_demonstrations(path, per_grab=per_grab, keep_idle=keep_idle))


def iter_demonstrations(path: str | Path, *, per_grab: bool = False, keep_idle: bool = False) -> Iterator[Demonstration]:
    """The episodes of one recording, one at a time (memory: one episode's frames).

    Stretches where nobody pulls (a server idling before anyone connected) are no
    demonstrations and are left out unless ``keep_idle``. An episode's origin comes from the
    session labels recorded up to its end.
    """
    path = Path(path)
    part = 0
    for episode in _episodes(path):
        for piece in _split_grabs(episode) if per_grab else [episode]:
            if keep_idle or piece.pulling.any():
                piece.part, piece.origin, piece.session, piece.repaired = (
                    part, episode.origin, episode.session, episode.repaired)
                part += 1
                yield piece


def _episodes(path: Path) -> Iterator[Demonstration]:
    """Every simulation run of the recording, idle or not, with its origin and session so far."""
    current: list[DemonstrationFrame] = []
    chemistry: Chemistry | None = None
    split: SplitReason = "start"
    session: dict[str, Any] = {}
    demonstrator: dict[str, Any] = {}
    with _open(path) as (reader, repaired):
        has_state = reader.state_count > 0

        def episode() -> Demonstration:
            origin = recording_origin(session)
            origin = recording_origin({"labels": demonstrator}) if origin == "unknown" else origin
            return Demonstration(path, 0, split, chemistry, current, origin=origin, has_state=has_state,
                                 session=session, repaired=repaired)

        for restart, frame, merged, state in read_frames(reader):
            session = state.get(keys.STATE_SESSION) or session
            demonstrator = state.get(keys.STATE_DEMONSTRATOR) or demonstrator
            if restart and current and chemistry is not None:
                yield episode()
                current, split = [], "restart"
            elif restart:
                split = "restart"
            if not current:
                chemistry = Chemistry.from_frame(merged) if _has_topology(merged) else chemistry
                if chemistry is None:
                    raise ValueError(
                        f"{path}: the frames have no particle.elements and bond.pairs, so the episode's "
                        "system is unknown: record from the start of a session"
                    )
            current.append(frame)
        if current and chemistry is not None:
            yield episode()


def read_frames(reader: RecordingReader) -> Iterator[tuple[bool, DemonstrationFrame, FrameDict, dict[str, Any]]]:
    """``(restart, frame, merged frame, shared state)`` per recorded frame with positions.

    ``restart`` is true for the first frame of a new simulation run (``frame.index`` 0 after
    earlier frames, or a new simulation counter).
    """
    merged: FrameDict = {}
    state: dict[str, Any] = {}
    interactions = _InteractionCache()
    start_us: int | None = None
    seen = restart = False
    last_counter: int | None = None
    for timestamp_us, delta, change in reader.updates():  # a malformed message raises RecordingError
        start_us = timestamp_us if start_us is None else start_us
        if change is not None:
            updates, removals = change
            state = {**state, **updates}
            for key in removals:
                state.pop(key, None)
        if delta is None:
            continue
        if delta.get(keys.FRAME_INDEX) == 0:
            merged, restart = dict(delta), restart or seen
        else:
            merged = {**merged, **delta}
        if keys.PARTICLE_POSITIONS not in delta:
            continue
        counter = merged.get(keys.SIMULATION_COUNTER)
        counter = None if counter is None else int(counter)
        restart = restart or (seen and counter != last_counter)
        frame = DemonstrationFrame(
            wall_time_s=(timestamp_us - start_us) / 1e6,
            simulation_time_ps=float(merged.get(keys.SIMULATION_TIME, np.nan)),
            frame_index=int(merged.get(keys.FRAME_INDEX, -1)),
            counter=counter,
            positions=np.asarray(merged[keys.PARTICLE_POSITIONS], dtype=np.float32),
            velocities=_optional_array(merged.get(keys.PARTICLE_VELOCITIES)),
            user_force_index=np.asarray(merged.get(keys.USER_FORCES_INDEX, ()), dtype=np.int64).reshape(-1),
            user_force=np.asarray(merged.get(keys.USER_FORCES_SPARSE, ()), dtype=np.float32).reshape(-1, 3),
            interactions=interactions.live(state, particle_count=len(merged[keys.PARTICLE_POSITIONS])),
            avatars={key: value for key, value in state.items() if key.startswith(keys.AVATAR_PREFIX)},
        )
        yield restart, frame, merged, state
        seen, restart, last_counter = True, False, counter


class _InteractionCache:
    """Parses each ``interaction.*`` state value once (values are replaced, never mutated)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[Any, Interaction | None]] = {}

    def live(self, state: Mapping[str, Any], *, particle_count: int) -> dict[str, Interaction]:
        live: dict[str, Interaction] = {}
        for key, value in state.items():
            if not key.startswith(keys.INTERACTION_PREFIX):
                continue
            known = self._parsed.get(key)
            if known is None or known[0] is not value:
                known = (value, self._parse(key, value, particle_count))
                self._parsed[key] = known
            if known[1] is not None:
                live[key] = known[1]
        return live

    @staticmethod
    def _parse(key: str, value: Any, particle_count: int) -> Interaction | None:
        try:
            return Interaction.from_state(value, particle_count=particle_count)
        except InvalidInteractionError as error:
            warnings.warn(f"ignoring state entry {key}: {error}", stacklevel=3)
            return None


@contextmanager
def _open(path: Path) -> Iterator[tuple[RecordingReader, str | None]]:
    """A reader on ``path``, or on a repaired temporary copy when the recording was cut short."""
    if not path.is_file():
        raise FileNotFoundError(f"no such recording: {path}")
    try:
        reader = RecordingReader(path)
    except TruncatedRecordingError:
        with tempfile.TemporaryDirectory(prefix="costeer-repair-") as folder:
            report = repair_recording(path, output=Path(folder) / path.name)
            lost = (
                f"{path} was cut short; read a repaired copy ({report.frames} frames, {report.states} "
                f"states, {report.duration_s:.1f} s kept; {report.bytes_lost:,} bytes of cut-off messages "
                f"lost). Run `costeer recording repair {path}` to fix the file itself."
            )
            warnings.warn(lost, RepairedRecordingWarning, stacklevel=4)
            with RecordingReader(report.output) as reader:
                yield reader, lost
        return
    with reader:
        yield reader, None


def _split_grabs(episode: Demonstration) -> list[Demonstration]:
    """One episode per grab: each runs from a grab's first frame to the next grab (the first from the start)."""
    pulling = episode.pulling
    starts = np.flatnonzero(pulling[1:] & ~pulling[:-1]) + 1
    if pulling.any() and not pulling[0]:
        starts = starts[1:]  # the lead-in before the first grab belongs to it
    bounds = [0, *starts.tolist(), len(episode)]
    return [
        Demonstration(
            episode.source, 0, episode.split if number == 0 else "grab", episode.chemistry,
            episode.frames[begin:end], has_state=episode.has_state,
        )
        for number, (begin, end) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]


def _pulling(frame: DemonstrationFrame, has_state: bool) -> bool:
    if has_state:
        return bool(frame.interactions)
    return bool(len(frame.user_force_index)) and bool(np.any(frame.user_force))


def _has_topology(frame: Mapping[str, Any]) -> bool:
    return keys.PARTICLE_ELEMENTS in frame and keys.BOND_PAIRS in frame


def _optional_array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=np.float32)
