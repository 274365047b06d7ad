"""Read ``.nanover.zip`` recordings: messages, merged frames and merged shared state.

Reads what NanoVer and costeer write, including the older variants found in real sessions:
arrays stored as lists instead of bytes, every bond stored twice (once each way), an empty
first frame (only ``frame.index`` 0) and ``system.reset.counter`` in place of
``system.simulation.counter``.
"""

from __future__ import annotations

import zlib
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple
from zipfile import ZIP_STORED, BadZipFile, ZipFile

import msgpack
import numpy as np

from costeer.core import keys
from costeer.core.frame import FrameDict, unpack_frame

from .format import (
    INDEX_NAME,
    MESSAGES_NAME,
    IndexEntry,
    NotARecordingError,
    RecordingError,
    TruncatedRecordingError,
    journal_path,
    read_local_header,
)

__all__ = ["RecordingReader", "RecordedMessage", "RecordedFrame", "RecordedState", "RecordedUpdate", "normalize_frame"]

_DAMAGED_MEMBER = (BadZipFile, ValueError, OSError, EOFError, zlib.error)
"""What ``ZipFile.read`` raises on a damaged member (bad CRC, bad offsets, bad deflate data)."""


class RecordedMessage(NamedTuple):
    """One recorded WebSocket message and when it was recorded."""

    timestamp_us: int
    message: dict[str, Any]


class RecordedFrame(NamedTuple):
    """A frame (arrays as numpy) and when it was recorded."""

    timestamp_us: int
    frame: FrameDict


class RecordedUpdate(NamedTuple):
    """One recorded message's frame delta and state change (either may be ``None``)."""

    timestamp_us: int
    frame: FrameDict | None
    change: tuple[dict[str, Any], list[str]] | None
    """``(updates, removals)``."""


class RecordedState(NamedTuple):
    """The whole shared state after one recorded change."""

    timestamp_us: int
    state: dict[str, Any]


def normalize_frame(packed: dict[str, Any]) -> FrameDict:
    """Unpack a recorded frame and smooth over the older variants (see the module docstring)."""
    frame = unpack_frame(packed)
    pairs = frame.get(keys.BOND_PAIRS)
    if pairs is not None and len(pairs):
        _, first = np.unique(np.sort(pairs, axis=1), axis=0, return_index=True)
        if len(first) < len(pairs):
            keep = np.sort(first)
            orders = frame.get(keys.BOND_ORDERS)
            frame[keys.BOND_PAIRS] = pairs[keep]
            if orders is not None and len(orders) == len(pairs):
                frame[keys.BOND_ORDERS] = orders[keep]
    if keys.RESET_COUNTER in frame and keys.SIMULATION_COUNTER not in frame:
        frame[keys.SIMULATION_COUNTER] = int(frame[keys.RESET_COUNTER])
    return frame


def _state_change(change: Any) -> tuple[dict[str, Any], list[str]] | None:
    """A recorded state change (a message's ``state``) as (updates, removals); ``None`` if it is not one."""
    if not isinstance(change, dict):
        return None
    updates, removals = change.get("updates") or {}, change.get("removals") or []
    if not isinstance(updates, dict) or not isinstance(removals, list) or not all(isinstance(key, str) for key in removals):
        return None
    return dict(updates), list(removals)


def _is_empty(frame: FrameDict) -> bool:
    return frame.keys() <= {keys.FRAME_INDEX}


class RecordingReader:
    """Reads a ``.nanover.zip`` recording (NanoVer's or costeer's).

        with RecordingReader("session.nanover.zip") as reader:
            for timestamp_us, frame in reader.frames():
                positions = frame["particle.positions"]     # (n, 3) float32, nm

    Raises :class:`NotARecordingError` for a file that is not a recording and
    :class:`TruncatedRecordingError` (run ``costeer recording repair FILE``) for one whose
    writer was killed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")
        try:
            self.entries: list[IndexEntry] = self._open()
            """The index: one entry per message, in recording order."""
            self._padding = self._first_message_padding()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> list[IndexEntry]:
        try:
            archive = ZipFile(self._file)
        except BadZipFile:
            if self._looks_cut_short():
                raise TruncatedRecordingError(
                    f"{self.path} was cut short (its recorder stopped before finishing the file): "
                    f"run `costeer recording repair {self.path}`"
                ) from None
            raise NotARecordingError(f"{self.path} is not a .nanover.zip recording (not a zip file)") from None
        with archive:
            names = set(archive.namelist())
            if MESSAGES_NAME not in names:
                raise NotARecordingError(f"{self.path} is not a .nanover.zip recording (no {MESSAGES_NAME} inside)")
            if INDEX_NAME not in names:
                raise TruncatedRecordingError(
                    f"{self.path} has no {INDEX_NAME}: run `costeer recording repair {self.path}`"
                )
            info = archive.getinfo(MESSAGES_NAME)
            if info.compress_type == ZIP_STORED:
                self._base = self._data_offset(info.header_offset)
                self._messages: BinaryIO = self._file
            else:
                self._base = 0
                try:
                    self._messages = BytesIO(archive.read(MESSAGES_NAME))
                except _DAMAGED_MEMBER as error:
                    raise RecordingError(f"{self.path}: its compressed {MESSAGES_NAME} is damaged ({error})") from None
            self._size = info.file_size
            try:
                raw = msgpack.unpackb(archive.read(INDEX_NAME))
                entries = [IndexEntry.from_dict(item) for item in raw]
            except (*_DAMAGED_MEMBER, TypeError, KeyError, msgpack.UnpackException) as error:
                raise TruncatedRecordingError(
                    f"{self.path} has a damaged index ({error}): run `costeer recording repair {self.path}`"
                ) from None
        for number, entry in enumerate(entries):
            if entry.offset + entry.length > self._size:
                raise TruncatedRecordingError(
                    f"{self.path}: index entry {number} points past the end of the messages: "
                    f"run `costeer recording repair {self.path}`"
                )
        return entries

    def _looks_cut_short(self) -> bool:
        """A zip whose first member is ``messages.msgpack`` but without its directory."""
        if journal_path(self.path).exists():
            return True
        try:
            name, _ = read_local_header(self._file, 0)
        except ValueError:
            return False
        return name == MESSAGES_NAME

    def _data_offset(self, header_offset: int) -> int:
        try:
            return read_local_header(self._file, header_offset)[1]
        except ValueError:
            raise TruncatedRecordingError(
                f"{self.path}: damaged zip (its directory points to no {MESSAGES_NAME}): "
                f"run `costeer recording repair {self.path}` to recover the messages"
            ) from None

    def _first_message_padding(self) -> tuple[int, int]:
        """Kinds (frame, state) the first entry lists but its message lacks: see ``write_raw``."""
        if not self.entries or not {"frame", "state"} <= set(self.entries[0].types):
            return 0, 0
        message = self.read(self.entries[0])
        return int("frame" not in message), int("state" not in message)

    # -- messages -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def frame_count(self) -> int:
        """Messages holding a frame (by the index)."""
        return sum("frame" in entry.types for entry in self.entries) - self._padding[0]

    @property
    def state_count(self) -> int:
        """Messages holding a state change (by the index)."""
        return sum("state" in entry.types for entry in self.entries) - self._padding[1]

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last message."""
        if not self.entries:
            return 0.0
        return (self.entries[-1].timestamp_us - self.entries[0].timestamp_us) / 1e6

    def read(self, entry: IndexEntry) -> dict[str, Any]:
        """The message an index entry points at."""
        self._messages.seek(self._base + entry.offset)
        data = self._messages.read(entry.length)
        try:
            message = msgpack.unpackb(data)
        except (ValueError, msgpack.UnpackException) as error:
            raise RecordingError(f"{self.path}: unreadable message at offset {entry.offset}: {error}") from None
        if not isinstance(message, dict):
            raise RecordingError(f"{self.path}: the message at offset {entry.offset} is not a map")
        return message

    def messages(self) -> Iterator[RecordedMessage]:
        """Every message, in order, as recorded (arrays still packed)."""
        for entry in self.entries:
            yield RecordedMessage(entry.timestamp_us, self.read(entry))

    # -- frames and state -----------------------------------------------------------------

    def update(self, entry: IndexEntry) -> RecordedUpdate:
        """The message ``entry`` points at, read and checked: its frame as sent (a delta, or a full
        frame at ``frame.index`` 0) and its state change, each ``None`` where it has none. A
        malformed frame or state change raises ``RecordingError`` naming its offset."""
        message = self.read(entry)
        return RecordedUpdate(entry.timestamp_us, self._frame_in(message, entry), self._change_in(message, entry))

    def updates(self) -> Iterator[RecordedUpdate]:
        """``update`` of every message, in order."""
        for entry in self.entries:
            yield self.update(entry)

    def _frame_in(self, message: dict[str, Any], entry: IndexEntry) -> FrameDict | None:
        packed = message.get("frame")
        if packed is None:
            return None
        if not isinstance(packed, dict):
            raise RecordingError(f"{self.path}: bad frame at offset {entry.offset}: not a map")
        try:
            return normalize_frame(packed)
        except (ValueError, TypeError) as error:
            raise RecordingError(f"{self.path}: bad frame at offset {entry.offset}: {error}") from None

    def _change_in(self, message: dict[str, Any], entry: IndexEntry) -> tuple[dict[str, Any], list[str]] | None:
        change = message.get("state")
        if change is None:
            return None
        parts = _state_change(change)
        if parts is None:
            raise RecordingError(
                f"{self.path}: bad state change at offset {entry.offset}: not a map of updates and a list of removed keys"
            )
        return parts

    def frame_updates(self) -> Iterator[RecordedFrame]:
        """Each recorded frame as it was sent (a delta, or a full frame at ``frame.index`` 0)."""
        for entry in self.entries:
            if "frame" in entry.types and (frame := self.update(entry).frame) is not None:
                yield RecordedFrame(entry.timestamp_us, frame)

    def frames(self) -> Iterator[RecordedFrame]:
        """The full frame after each recorded frame; empty frames are skipped.

        ``frame.index`` 0 starts afresh; other deltas update the current frame, which keeps
        the latest ``frame.index`` (NanoVer's merge would keep 0 for ever).
        """
        current: FrameDict = {}
        for timestamp_us, delta in self.frame_updates():
            current = dict(delta) if delta.get(keys.FRAME_INDEX) == 0 else {**current, **delta}
            if not _is_empty(delta):
                yield RecordedFrame(timestamp_us, current)

    def state_updates(self) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
        """Each recorded state change as ``(timestamp_us, updates, removals)``."""
        for entry in self.entries:
            if "state" in entry.types and (change := self.update(entry).change) is not None:
                yield entry.timestamp_us, *change

    def states(self) -> Iterator[RecordedState]:
        """The whole shared state after each recorded change (updates, then removals)."""
        current: dict[str, Any] = {}
        for timestamp_us, updates, removals in self.state_updates():
            current = {**current, **updates}
            for key in removals:
                current.pop(key, None)
            yield RecordedState(timestamp_us, current)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RecordingReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
