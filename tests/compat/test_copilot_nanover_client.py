"""The co-pilot and NanoVer: NanoVer's own client sees it and commands it; ``costeer copilot`` runs on NanoVer's own server.

``costeer serve --copilot`` (the shipped nanotube policy, in ``apply``) with NanoVer 0.1.3018's
``NanoverImdClient`` in the side venv (``tests/nanover_side/copilot_client.py``); and the
client co-pilot against NanoVer's server on ``nanotube.xml``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import pytest

from costeer.agent.checkpoint import shipped_checkpoint
from costeer.client.session import NanoverSession
from costeer.core import keys

pytestmark = pytest.mark.slow

COPILOT_INTERACTION = f"{keys.INTERACTION_PREFIX}{keys.COPILOT_OWNER}"
METHANE = {60, 61, 62, 63, 64}
"""The nanotube system's methane atoms (the task grabs some of them)."""


def test_nanover_client_sees_the_copilot_and_switches_its_mode(costeer_server, nanover_python: Path, nanover_side: Path) -> None:
    server = costeer_server("--copilot", str(shipped_checkpoint("nanotube")), "--copilot-mode", "apply")
    done = subprocess.run([str(nanover_python), str(nanover_side / "copilot_client.py"), "--url", server.url],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, f"{done.stderr[-4000:]}\nserver:\n{server.output()}"
    seen = json.loads(done.stdout)
    pull = seen["interaction"]
    assert (pull["label"], pull["owner"], pull["type"]) == ("copilot", "costeer-copilot", "spring")
    assert pull["particles"] and set(pull["particles"]) <= METHANE and 0 < pull["max_force"] <= 2000.0 and pull["scale"] > 0
    assert seen["status_before"]["mode"] == "apply" and seen["status_before"]["acting"] is True
    mode = seen["commands"]["copilot/mode"]
    assert mode["label"] == "Co-pilot mode" and set(mode["arguments"]) == {"mode", "blend"}
    assert seen["commands"]["copilot/stop"]["label"] == "Stop the co-pilot"
    assert {"copilot/mode", "copilot/stop"} <= set(seen["command_names"])
    assert seen["mode_reply"]["mode"] == "suggest" and seen["status_after"]["mode"] == "suggest"
    suggestion = seen["suggestion"]
    assert suggestion["particles"] == pull["particles"] and suggestion["label"] == "copilot"
    assert 0.0 <= suggestion["confidence"] <= 1.0 and len(suggestion["position"]) == 3


def test_the_client_copilot_works_on_nanovers_own_server(nanover_server, costeer_cli: list[str], nanotube_xml: Path) -> None:
    server = nanover_server("--omm", str(nanotube_xml))
    command = [*costeer_cli, "copilot", "--server", server.url, "--policy", str(shipped_checkpoint("nanotube")), "--mode", "apply"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    async def drive() -> None:
        async with NanoverSession.connect(server.url) as session:
            state = await session.wait_for_state(lambda state: COPILOT_INTERACTION in state, timeout=60)
            assert state[COPILOT_INTERACTION]["label"] == "copilot" and state[keys.STATE_COPILOT]["acting"] is True
            assert (await session.run_command(keys.COPILOT_MODE_COMMAND, mode="suggest"))["mode"] == "suggest"
            await session.wait_for_state(
                lambda state: keys.STATE_COPILOT_SUGGESTION in state and COPILOT_INTERACTION not in state, timeout=30)

    try:
        asyncio.run(drive())
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err
