"""The bench's servers: a server waiting for its next window is frozen, and runs again for it."""

from __future__ import annotations

from pathlib import Path

import pytest

import servers
from run import _Paused
from tests.waiting import wait_until


def _state(pid: int) -> str:
    """The process's state letter from /proc (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]


@pytest.mark.slow
def test_a_server_between_its_windows_is_frozen_and_measured_when_thawed(nanotube_xml: Path) -> None:
    with servers.costeer(["--omm", str(nanotube_xml), "--free-run", "--platform", "Reference"]) as url:
        server = _Paused(url, timestep_ps=0.0005, seconds=0.5)
        wait_until(lambda: _state(url.process.pid) == "T", timeout=10.0)
        assert server.window(1) > 0 and server.fps  # thawed for its window
        wait_until(lambda: _state(url.process.pid) == "T", timeout=10.0)
    assert url.process.poll() is not None  # it ended, though it had been frozen
