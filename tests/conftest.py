"""Fixtures shared by the whole suite: the real data, NanoVer's side venv, free ports."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
NANOVER_PYTHON = REPO / ".venv-nanover" / "bin" / "python"
NANOVER_SIDE = REPO / "tests" / "nanover_side"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: NanoVer's nanotube system and real VR recordings."""
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"the reference data is missing: expected {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def nanotube_xml(shared_data: Path) -> Path:
    return shared_data / "systems" / "nanotube.xml"


@pytest.fixture(scope="session")
def nanover_python() -> Path:
    """Python 3.13 with ``nanover-server`` 0.1.3018: run NanoVer's side as a subprocess."""
    if not NANOVER_PYTHON.exists():
        raise RuntimeError("NanoVer's side venv is missing: run `make setup-nanover` (part of `make test`)")
    return NANOVER_PYTHON


@pytest.fixture(scope="session")
def nanover_side() -> Path:
    """Folder of scripts that run inside NanoVer's side venv."""
    return NANOVER_SIDE


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def costeer_python() -> str:
    """The interpreter running the suite (has costeer installed): for server subprocesses."""
    return sys.executable
