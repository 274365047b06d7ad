"""costeer on Python 3.13, as labs run it beside NanoVer: served from ``.venv-py313``, steered from here.

``make test`` builds ``.venv-py313`` (``make setup-py313``) and sets ``COSTEER_REQUIRE_PY313``,
so there a missing venv fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.client import NanoverSession
from costeer.core import keys

pytestmark = pytest.mark.slow

PY313_PYTHON = Path(__file__).resolve().parents[2] / ".venv-py313" / "bin" / "python"
METHANE = 60


@pytest.fixture(scope="module")
def python313() -> Path:
    if not PY313_PYTHON.exists():
        message = f"costeer's Python 3.13 venv is missing ({PY313_PYTHON}): run `make setup-py313` (part of `make test`)"
        if os.environ.get("COSTEER_REQUIRE_PY313"):
            pytest.fail(message)
        pytest.skip(message)
    return PY313_PYTHON


async def _watch_and_pull(url: str) -> tuple[dict[str, Any], int]:
    """Wait for frames, pull the methane 1 nm along y, wait until it has moved half way."""
    async with NanoverSession.connect(url, open_timeout=30) as session:
        frame = await session.wait_for_frame(lambda f: keys.PARTICLE_POSITIONS in f, timeout=60)
        state = await session.wait_for_state(lambda s: keys.STATE_SESSION in s, timeout=30)
        start = np.array(frame[keys.PARTICLE_POSITIONS][METHANE], dtype=float)
        target = start + np.array([0.0, 1.0, 0.0])
        pull = {"position": target.tolist(), "particles": [METHANE], "interaction_type": "spring", "scale": 300.0}
        await session.update_state({"interaction.py313": pull})
        await session.wait_for_frame(lambda f: METHANE in np.asarray(f.get(keys.USER_FORCES_INDEX, [])), timeout=30)
        await session.wait_for_frame(
            lambda f: np.linalg.norm(np.asarray(f[keys.PARTICLE_POSITIONS][METHANE]) - target) < 0.5, timeout=30
        )
        return dict(state[keys.STATE_SESSION]), session.frames_received


def test_serve_on_python_313_sends_frames_and_applies_a_pull(costeer_server, python313: Path) -> None:
    server = costeer_server("--task", "nanotube", command=[str(python313), "-m", "costeer.cli.main"])
    session, frames = asyncio.run(_watch_and_pull(server.url))
    assert session["python"].startswith("3.13."), session["python"]
    assert frames > 1
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output(), server.output()
