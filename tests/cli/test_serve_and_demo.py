"""End to end through the command line: ``serve --playback`` and ``demo``."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import pytest

from costeer.client import NanoverSession
from costeer.core import keys
from costeer.recording.reader import RecordingReader

pytestmark = pytest.mark.slow


def test_playback_replays_frames_and_the_recorded_state(costeer_server, shared_data: Path):
    recording = shared_data / "recordings" / "nanotube-methane-01.nanover.zip"
    server = costeer_server("--playback", str(recording))

    async def watch() -> NanoverSession:
        async with NanoverSession.connect(server.url) as session:
            await session.wait_for_frame(lambda f: keys.PARTICLE_POSITIONS in f and keys.BOND_PAIRS in f)
            await session.wait_for_state(lambda s: any(k.startswith("interaction.") for k in s), timeout=15)
            first = np.array(session.frame[keys.PARTICLE_POSITIONS])
            seen = session.frames_received
            # the replay moves, frame after frame
            await session.wait_for_frame(
                lambda f: session.frames_received > seen + 10 and not np.allclose(f[keys.PARTICLE_POSITIONS], first),
                timeout=30,
            )
            return session

    session = asyncio.run(watch())
    assert session.frame[keys.PARTICLE_COUNT] == 65
    assert any(key.startswith("avatar.") for key in session.state), "headset poses are replayed too"


def test_demo_serves_pulls_records_and_summarises(costeer_cli, tmp_path: Path):
    folder = tmp_path / "recordings"  # a folder: the demo records to a new file in it
    folder.mkdir()
    done = subprocess.run(
        [*costeer_cli, "demo", "--duration", "4", "--output", str(folder)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (output,) = folder.iterdir()
    assert output.name.endswith(".nanover.zip")
    summary = done.stdout
    for line in ("frames received", "MD steps/s", "methane (atom 60)", "threaded through the tube", str(output)):
        assert line in summary, summary
    reader = RecordingReader(output)
    assert reader.frame_count > 10
    user_frames = [frame for _, frame in reader.frames() if len(frame.get(keys.USER_FORCES_INDEX, ())) > 0]
    assert user_frames and all(60 in frame[keys.USER_FORCES_INDEX] for frame in user_frames)
    session = [state for _, state in reader.states() if keys.STATE_SESSION in state]
    assert session and session[-1][keys.STATE_SESSION]["labels"]["run"] == "demo"
