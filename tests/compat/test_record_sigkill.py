"""SIGKILL during ``costeer serve --record``: repair loses at most the last second, NanoVer reads it.

A NanoVer client pulls atom 60 while costeer records; after ~4 s the server gets kill -9.
``costeer recording repair`` must then give a file that NanoVer's own
``NanoverRecordingReader`` opens, whose last frame reached the client at most ~1 s before
the kill, and which holds the user's interaction (state and ``forces.user.index``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

SESSION_SECONDS = 4.0
MAX_LOSS_SECONDS = 1.0
SLACK_SECONDS = 0.25
"""Frames reach the watching client a little after they are recorded: allowed on top."""


@pytest.mark.slow
def test_sigkill_then_repair_keeps_all_but_the_last_second(
    tmp_path: Path, costeer_server, costeer_cli, nanover_python, nanover_side, nanotube_xml
) -> None:
    recording = tmp_path / "killed.nanover.zip"
    server = costeer_server("--omm", str(nanotube_xml), "--record", str(recording))
    watcher = subprocess.Popen(
        [
            str(nanover_python), str(nanover_side / "nanover_client.py"), "watch",
            "--url", server.url, "--interact", "--duration", str(SESSION_SECONDS + 2.0),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready_line = watcher.stderr.readline()
    assert ready_line, f"watcher failed: {watcher.stderr.read()}"
    ready = json.loads(ready_line)["ready"]
    time.sleep(max(0.0, ready + SESSION_SECONDS - time.time()))
    server.process.send_signal(signal.SIGKILL)
    killed = time.time()
    server.process.wait(10)
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, f"watcher failed: {err[-3000:]}"
    seen = json.loads(out)["frames"]
    assert any(f["user_index"] == [60] for f in seen), "the client never saw its interaction in a frame"

    repair = subprocess.run(
        [*costeer_cli, "recording", "repair", str(recording)], capture_output=True, text=True, timeout=60
    )
    assert repair.returncode == 0, f"costeer recording repair failed:\n{repair.stdout}\n{repair.stderr}"

    read = subprocess.run(
        [str(nanover_python), str(nanover_side / "recording_summary.py"), str(recording)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert read.returncode == 0, f"NanoVer's reader could not open the repaired file:\n{read.stderr[-3000:]}"
    summary = json.loads(read.stdout)
    frames = summary["frames"]
    assert frames, f"the repaired recording has no frames ({summary['entries']} entries)"
    assert any(key.startswith("interaction.") for key in summary["state_keys_seen"]), (
        f"the user's interaction is not in the recorded state: {summary['state_keys_seen']}"
    )
    assert any(f["user_index"] == [60] for f in frames), "no recorded frame shows forces.user.index == [60]"

    last_recorded = max(f["index"] for f in frames if f["index"] is not None)
    shown = [f["wall"] for f in seen if f["index"] is not None and f["index"] <= last_recorded]
    assert shown, f"the client never saw frame {last_recorded} or earlier"
    lost = killed - max(shown)
    assert lost <= MAX_LOSS_SECONDS + SLACK_SECONDS, (
        f"the repaired recording ends at frame {last_recorded}, which the client saw {lost:.2f} s before "
        f"the kill; at most {MAX_LOSS_SECONDS} s may be lost (client saw up to frame "
        f"{max(f['index'] for f in seen if f['index'] is not None)})"
    )
    span = (frames[-1]["timestamp"] - frames[0]["timestamp"]) / 1e6
    assert span >= SESSION_SECONDS - MAX_LOSS_SECONDS - 0.5, f"the recording covers only {span:.2f} s"
