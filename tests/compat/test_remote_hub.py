"""``costeer serve --remote`` with NanoVer's own server as the hub and NanoVer's client on it.

"Done means" of issue 10: a NanoVer client connected to the hub only sees costeer's frames
and state, its pull (a spring on atom 60 of the nanotube) moves costeer's atoms, shown in
``forces.user.index``, and its ``playback/pause`` and ``playback/play`` reach costeer's
simulation. The hub is ``nanover_server.py`` without ``--omm``: what ``nanover-server`` with
no simulation is, a relay.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ATOM = 60
PULL_FRAMES = 60


@pytest.mark.slow
def test_a_nanover_client_on_the_hub_steers_costeers_simulation(
    nanover_server, costeer_server, nanover_python: Path, nanover_side: Path, nanotube_xml: Path
) -> None:
    hub = nanover_server()
    costeer = costeer_server("--omm", str(nanotube_xml), "--remote", hub.url)
    command = [str(nanover_python), str(nanover_side / "remote.py"), "--url", hub.url, "--atom", str(ATOM),
               "--frames", str(PULL_FRAMES), "--duration", "30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"NanoVer's client on the hub failed:\n{done.stderr[-4000:]}\ncosteer:\n{costeer.output()}"
    seen = json.loads(done.stdout)

    commands = seen["commands"]
    assert commands["session_server"] == "costeer", "costeer's state did not reach the hub's client"
    assert commands["paused_advance"] == 0, f"playback/pause through the hub: time still moved {commands}"
    assert commands["played_advance"] > 0, f"playback/play through the hub: time did not move {commands}"

    pull = seen["pull"]
    assert pull["particle_count"] == pull["position_count"] > ATOM
    track = pull["track"][:PULL_FRAMES]
    assert len(track) == PULL_FRAMES, f"only {len(track)} frames with positions came through the hub"
    shown = [point for point in track if point["user_index"] == [ATOM]]
    assert shown, f"no frame through the hub had forces.user.index == [{ATOM}]: {[p['user_index'] for p in track][:20]}"
    assert shown[0]["t"] < 2.0, f"the pull first showed {shown[0]['t']:.2f} s after it started"
    closest = min(point["distance"] for point in track)
    assert pull["start_distance"] - closest >= 0.3, (
        f"atom {ATOM} got only {pull['start_distance'] - closest:.3f} nm closer to the spring's point"
    )
    assert "costeer serving through the hub at" in costeer.output()


@pytest.mark.slow
def test_costeer_links_again_to_a_hub_that_restarted(nanover_server, costeer_server, side_client, nanotube_xml: Path, free_port: int) -> None:
    hub = nanover_server("--port", str(free_port))
    costeer = costeer_server("--omm", str(nanotube_xml), "--remote", hub.url)
    side_client("watch", hub.url, "--duration", "0.5")
    hub.stop()
    hub = nanover_server("--port", str(free_port))
    seen = side_client("pull", hub.url, "--frames", "30", "--duration", "30", timeout=90)
    track = seen["track"]
    assert len(track) == 30, f"only {len(track)} frames came through the restarted hub\n{costeer.output()}"
    assert any(point["user_index"] == [ATOM] for point in track), "the pull through the restarted hub did not steer"
    assert "linked to the hub at" in costeer.output() and "again" in costeer.output()
