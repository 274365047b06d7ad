"""Helpers for the recording tests: synthetic frames and running NanoVer's reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from costeer.core.frame import pack_frame

HERE = Path(__file__).resolve().parent
RECORDINGS = ("nanotube-example", "nanotube-methane-01", "nanotube-methane-02")


def synthetic_frame(index: int, *, particles: int = 5) -> dict[str, Any]:
    """A packed frame: full (topology) at index 0, positions-only delta after."""
    rng = np.random.default_rng(index)
    frame: dict[str, Any] = {
        "frame.index": index,
        "particle.positions": rng.random((particles, 3), dtype=np.float32),
    }
    if index == 0:
        frame["particle.count"] = particles
        frame["particle.elements"] = np.full(particles, 6, dtype=np.uint8)
        frame["bond.pairs"] = np.array([[i, i + 1] for i in range(particles - 1)], dtype=np.uint32)
    return pack_frame(frame)


@pytest.fixture
def nanover_read(nanover_python: Path) -> Callable[[Path], dict[str, Any]]:
    """Open a recording with NanoVer's own reader (side venv); returns what it saw."""

    def read(path: Path) -> dict[str, Any]:
        result = subprocess.run(
            [str(nanover_python), str(HERE / "nanover_read.py"), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return read


@pytest.fixture
def make_frame() -> Callable[..., dict[str, Any]]:
    """``make_frame(index, particles=5)``: see :func:`synthetic_frame`."""
    return synthetic_frame


@pytest.fixture
def recordings(shared_data: Path) -> dict[str, Path]:
    """The real sessions in ``../shared/data/recordings`` by short name."""
    return {name: shared_data / "recordings" / f"{name}.nanover.zip" for name in RECORDINGS}


def damage_index(path: Path) -> None:
    """Flip a byte inside a complete recording's ``index.msgpack``, so that its CRC fails."""
    import zipfile

    from costeer.recording.format import INDEX_NAME, read_local_header

    with zipfile.ZipFile(path) as archive:
        header_offset = archive.getinfo(INDEX_NAME).header_offset
    data = bytearray(path.read_bytes())
    with open(path, "rb") as file:
        data[read_local_header(file, header_offset)[1] + 3] ^= 0xFF
    path.write_bytes(bytes(data))
