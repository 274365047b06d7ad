"""Recordings (``.nanover.zip``): write crash-safely, read every variant, repair, replay, record.

    from costeer.recording import RecordingReader, RecordingWriter, repair_recording
"""

from .format import NotARecordingError, RecordingError, TruncatedRecordingError
from .reader import RecordingReader
from .repair import RepairReport, repair_recording
from .writer import RecordingWriter

__all__ = [
    "RecordingReader",
    "RecordingWriter",
    "RecordingError",
    "NotARecordingError",
    "TruncatedRecordingError",
    "RepairReport",
    "repair_recording",
]
