"""The files a command takes, checked before it starts: each refusal is one line naming the file and what to do.

    existing_file(args.pdb, option="--pdb")
    readable_recording(path, option="RECORDING", cut_short_ok=True)
    new_recording(args.record, option="--record")
    output_file(args.output, option="-o")        # written at the end: checked at the start
    output_folder(args.output, option="-o")

The errors are the ones ``costeer``'s entry point prints as one line without a traceback
(``OSError``, ``RecordingError``).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

__all__ = ["existing_file", "readable_recording", "new_recording", "output_file", "output_folder", "output_folder_of"]


def existing_file(path: str | os.PathLike[str], *, option: str) -> Path:
    """``path`` when it is a file this process can read; otherwise an ``OSError`` saying so."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder: give a file")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path} ({option})")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"cannot read {path} ({option}): check its permissions")
    return path


def readable_recording(path: str | os.PathLike[str], *, option: str, cut_short_ok: bool = False) -> Path:
    """``path`` when it opens as a ``.nanover.zip`` recording; otherwise the reader's ``RecordingError``.

    ``cut_short_ok`` accepts a recording whose writer was killed (for commands that repair a copy).
    """
    from ..recording import RecordingReader, TruncatedRecordingError

    path = existing_file(path, option=option)
    try:
        RecordingReader(path).close()
    except TruncatedRecordingError:
        if not cut_short_ok:
            raise
    return path


def new_recording(path: str | os.PathLike[str], *, option: str) -> Path:
    """Where to start a recording: ``path``, or a new time-stamped file when ``path`` is a folder.

    Recordings are never overwritten: an existing file is refused, and in a folder the name
    ``session-YYYYMMDD-HHMMSS.nanover.zip`` (with ``-2``, ``-3``... if taken) is always new, so a
    server restarted with the same ``--record FOLDER`` (e.g. under docker-compose) starts a new one.
    """
    path = Path(path)
    if path.is_dir():
        stem = f"session-{datetime.now():%Y%m%d-%H%M%S}"
        candidate, count = path / f"{stem}.nanover.zip", 1
        while candidate.exists():
            count += 1
            candidate = path / f"{stem}-{count}.nanover.zip"
        path = candidate
    elif path.exists():
        raise FileExistsError(
            f"{path} exists already ({option}): recordings are never overwritten; give a new path, or move the old one away"
        )
    output_folder_of(path, option=option)
    return path


def output_folder_of(path: str | os.PathLike[str], *, option: str) -> Path:
    """The nearest existing folder above ``path`` (missing ones are created), when it can be written to."""
    folder = Path(path).absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {path} ({option}): {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path} ({option}): {folder} is not writable")
    return folder


def output_file(path: str | os.PathLike[str], *, option: str) -> Path:
    """``path`` when a file can be written there (one already there is replaced); otherwise an
    ``OSError`` saying why. Commands that write their results after minutes of work check first."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder: give a file name")
    output_folder_of(path, option=option)
    return path


def output_folder(path: str | os.PathLike[str], *, option: str) -> Path:
    """``path`` when it is a folder this process can write in, or can be made one; otherwise an ``OSError``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option} {path} is a file: give a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write in {path} ({option}): it is not writable")
        return path
    output_folder_of(path, option=option)
    return path
