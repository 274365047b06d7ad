"""Fixtures for the dataset tests: the real sessions, a dataset built from them, synthetic recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.core.frame import pack_frame
from costeer.datasets.build import build_dataset
from costeer.recording import RecordingWriter
from costeer.tasks import Chemistry, build_task_system

SESSIONS = ("nanotube-example", "nanotube-methane-01", "nanotube-methane-02")
OWNER = "929680e7-b96d-4ead-9878-1f56462ab669"
"""The user id in the real sessions' interactions and avatars."""


@pytest.fixture(scope="session")
def sessions(shared_data: Path) -> dict[str, Path]:
    """The real VR sessions by short name."""
    return {name: shared_data / "recordings" / f"{name}.nanover.zip" for name in SESSIONS}


@pytest.fixture(scope="session")
def real_dataset(sessions: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three real sessions as a dataset (origin ``human``: NanoVer's files carry no label)."""
    output = tmp_path_factory.mktemp("real") / "dataset"
    return build_dataset(list(sessions.values()), task="nanotube", output=output, origin="human")


@pytest.fixture(scope="session")
def anonymised_dataset(sessions: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("anonymised") / "dataset"
    return build_dataset(list(sessions.values()), task="nanotube", output=output, anonymise=True)


class ScriptedRecording:
    """Writes a nanotube recording message by message: frames, interactions, restarts.

    Usage: ``rec = ScriptedRecording(path); rec.frame(0, full=True); rec.grab(); rec.frame(1); rec.close()``
    """

    def __init__(self, path: Path, *, origin: str | None = "synthetic") -> None:
        built = build_task_system("nanotube")
        chemistry = Chemistry.from_topology(built.topology)
        self.positions = built.positions.astype(np.float32)
        self.topology = {"particle.elements": chemistry.elements, "bond.pairs": chemistry.bonds.astype(np.uint32)}
        self.writer = RecordingWriter(path)
        self.time_us = 0
        self.counter = 0
        if origin is not None:
            self.state({"costeer.session": {"server": "costeer", "labels": {"origin": origin, "user": "alice"}}})

    def _write(self, message: dict[str, Any]) -> None:
        self.time_us += 33_000
        self.writer.write(message, timestamp_us=self.time_us)

    def state(self, updates: dict[str, Any], removals: tuple[str, ...] = ()) -> None:
        self._write({"state": {"updates": updates, "removals": list(removals)}})

    def frame(self, index: int, *, full: bool = False, shift: float = 0.0, force: bool = False,
              state: dict[str, Any] | None = None) -> None:
        """A frame (with ``state`` updates in the same message, if given); methane moved by ``shift`` nm along x."""
        positions = self.positions.copy()
        positions[60:] += np.float32(shift)
        frame: dict[str, Any] = {
            "frame.index": index,
            "particle.positions": positions,
            "system.simulation.time": 0.0025 * index,
            "system.simulation.counter": self.counter,
            "forces.user.index": np.array([60] if force else [], dtype=np.uint32),
            "forces.user.sparse": np.array([[100.0, 0.0, 0.0]] if force else [], dtype=np.float32).reshape(-1, 3),
        }
        if full:
            frame.update(self.topology)
        message: dict[str, Any] = {"frame": pack_frame(frame)}
        if state is not None:
            message["state"] = {"updates": state, "removals": []}
        self._write(message)

    def clear(self) -> None:
        """costeer's reset: a frame with only ``frame.index`` 0 and the next simulation counter."""
        self.counter += 1
        self._write({"frame": {"frame.index": 0, "system.simulation.counter": self.counter}})

    @staticmethod
    def interaction(x: float, *, owner: str = OWNER) -> dict[str, Any]:
        return {"interaction.one": {"position": [x, 2.7, 2.2], "particles": [60], "interaction_type": "spring",
                                    "scale": 50.0, "owner.id": owner, "label": "hand.right"}}

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def scripted() -> type[ScriptedRecording]:
    """:class:`ScriptedRecording`, to write small nanotube recordings message by message."""
    return ScriptedRecording


@pytest.fixture(scope="session")
def owner() -> str:
    """The user id in the real sessions."""
    return OWNER
