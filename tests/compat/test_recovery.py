"""NanoVer's official client sees a recovery: its pull released and refused, a notice, finite frames, a clean recording."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from costeer.core import keys
from costeer.recording.reader import RecordingReader


def _pull_until_recovered(nanover_python: Path, nanover_side: Path, url: str, *args: str) -> dict:
    command = [str(nanover_python), str(nanover_side / "recovery_client.py"), "--url", url, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("system", [["--task", "nanotube"], ["--pdb", "PDB", "--strip-water"]], ids=["builtin-task", "pdb"])
def test_the_official_client_sees_a_blow_up_recovered_from(
    costeer_server, nanover_python, nanover_side, villin_pdb: Path, tmp_path: Path, system: list[str]
) -> None:
    path = tmp_path / "session.nanover.zip"
    args = [str(villin_pdb) if arg == "PDB" else arg for arg in system]
    server = costeer_server(*args, "--max-force", "1e9", "--record", str(path))  # a cap high enough to blow up
    atom = "60" if "--task" in system else "4"
    seen = _pull_until_recovered(nanover_python, nanover_side, server.url, "--atom", atom)
    assert server.stop() == 0, server.output()

    notice = seen["notice"]
    assert notice is not None, f"no costeer.recovery within the time allowed: {server.output()}"
    assert [entry["key"] for entry in notice["released"]] == [seen["interaction"]]
    assert not seen["interaction_in_state"], "the released interaction came back while the grab was held"
    assert seen["frames_after_recovery"] >= 10 and seen["times_after_recovery_increase"]
    assert seen["all_finite"] and seen["largest_coordinate"] < 1e3 and not seen["exceptions"]
    assert notice["seconds"] < 1.0 and (notice["state_age"] is None or notice["state_age"] <= 1.0)
    assert "released" in server.output() and "rolled back" in server.output()

    with RecordingReader(path) as reader:
        for _, frame in reader.frame_updates():
            if keys.PARTICLE_POSITIONS in frame:
                assert np.isfinite(frame[keys.PARTICLE_POSITIONS]).all()
                assert np.abs(frame[keys.PARTICLE_POSITIONS]).max() < 1e3
        assert any(keys.STATE_RECOVERY in state for _, state in reader.states())
