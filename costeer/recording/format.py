"""The ``.nanover.zip`` layout shared by the writer, reader and repair: names, index, errors.

A recording is an uncompressed zip holding ``messages.msgpack`` (WebSocket messages, each a
msgpack map with ``frame`` and/or ``state``, back to back) and ``index.msgpack`` (a list of
``{"offset", "length", "metadata": {"types", "frame.index", "timestamp"}}``, timestamps in
microseconds since the recording started). While costeer records, the index also goes to a
journal beside the file (``NAME.nanover.zip.journal``, a msgpack stream of the same entries)
so that a killed recorder leaves enough to rebuild the zip: see :mod:`.repair`.

    entry = IndexEntry(offset=0, length=len(data), metadata=message_metadata(message, 1234))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from costeer.core import keys

__all__ = [
    "MESSAGES_NAME",
    "INDEX_NAME",
    "JOURNAL_SUFFIX",
    "RECORDED_TYPES",
    "IndexEntry",
    "RecordingError",
    "NotARecordingError",
    "TruncatedRecordingError",
    "journal_path",
    "message_metadata",
    "read_local_header",
]

MESSAGES_NAME = "messages.msgpack"
INDEX_NAME = "index.msgpack"
JOURNAL_SUFFIX = ".journal"
LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
LOCAL_HEADER_SIZE = 30
RECORDED_TYPES = ("frame", "state")
"""The message kinds a recording keeps (NanoVer's recorder keeps whatever arrives)."""


class RecordingError(Exception):
    """A recording cannot be read."""


class NotARecordingError(RecordingError):
    """The file is not a ``.nanover.zip`` recording at all."""


class TruncatedRecordingError(RecordingError):
    """The recording was cut short (writer killed) or its index or zip directory is damaged;
    ``costeer recording repair`` recovers its messages."""


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where one message lies in ``messages.msgpack`` and what it holds.

        entry = IndexEntry(offset=0, length=120, metadata={"types": ["frame"], "timestamp": 0})
    """

    offset: int
    length: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def timestamp_us(self) -> int:
        """Microseconds since the recording started (0 when the index lacks it)."""
        return int(self.metadata.get("timestamp") or 0)

    @property
    def types(self) -> tuple[str, ...]:
        """The message's top-level keys (``frame``, ``state``); both when the index lacks them."""
        return tuple(self.metadata.get("types", RECORDED_TYPES))

    def as_dict(self) -> dict[str, Any]:
        """The entry as ``index.msgpack`` stores it."""
        return {"offset": self.offset, "length": self.length, "metadata": self.metadata}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "IndexEntry":
        """Read one stored entry; raises ``ValueError`` when it is not an index entry."""
        try:
            offset, length = int(data["offset"]), int(data["length"])
            metadata = dict(data.get("metadata") or {})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not an index entry: {data!r:.200}") from error
        if offset < 0 or length < 0:
            raise ValueError(f"index entry with negative offset or length: {data!r:.200}")
        return cls(offset=offset, length=length, metadata=metadata)


def message_metadata(message: Mapping[str, Any], timestamp_us: int) -> dict[str, Any]:
    """The index metadata NanoVer writes for ``message``: types, frame index, timestamp."""
    metadata: dict[str, Any] = {"types": list(message.keys())}
    frame = message.get("frame")
    if isinstance(frame, Mapping) and keys.FRAME_INDEX in frame:
        metadata[keys.FRAME_INDEX] = frame[keys.FRAME_INDEX]
    metadata["timestamp"] = int(timestamp_us)
    return metadata


def journal_path(path: str | Path) -> Path:
    """The index journal kept beside a recording while it is being written."""
    path = Path(path)
    return path.with_name(path.name + JOURNAL_SUFFIX)


def read_local_header(file: BinaryIO, offset: int = 0) -> tuple[str, int]:
    """The member name and data offset of the zip local header at ``offset``.

    Raises ``ValueError`` when there is no local header there.
    """
    if offset < 0:  # a damaged zip directory's offsets, less the bytes it believes precede the zip
        raise ValueError(f"no zip local header at offset {offset}")
    file.seek(offset)
    header = file.read(LOCAL_HEADER_SIZE)
    if len(header) < LOCAL_HEADER_SIZE or header[:4] != LOCAL_HEADER_SIGNATURE:
        raise ValueError(f"no zip local header at offset {offset}")
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    name = file.read(name_length).decode("utf-8", errors="replace")
    return name, offset + LOCAL_HEADER_SIZE + name_length + extra_length
