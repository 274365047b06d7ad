"""The co-pilot from the command line: ``costeer serve --copilot`` and ``costeer copilot`` (a client of our server)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from costeer.agent.copilot import COPILOT_INTERACTION_KEY
from costeer.cli.main import main
from costeer.client.session import NanoverSession
from costeer.core import keys

COPILOT_KEYS = {COPILOT_INTERACTION_KEY, keys.STATE_COPILOT, keys.STATE_COPILOT_SUGGESTION}
WAIT = 30.0


def test_serve_refuses_a_cut_short_checkpoint_naming_the_file(shipped_path: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(shipped_path.read_bytes()[:5000])
    assert main(["serve", "--copilot", str(broken), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert str(broken) in error and "costeer train" in error, error


def test_serve_refuses_a_missing_checkpoint_and_a_bad_blend(shipped_path: Path, tmp_path: Path, capsys) -> None:
    assert main(["serve", "--copilot", str(tmp_path / "nowhere.pt"), "--port", "0"]) == 2
    assert "nowhere.pt" in capsys.readouterr().err
    assert main(["serve", "--copilot", str(shipped_path), "--copilot-blend", "1.5", "--port", "0"]) == 2
    assert "--copilot-blend" in capsys.readouterr().err
    assert main(["serve", "--copilot", str(shipped_path), "--copilot-max-force", "inf", "--port", "0"]) == 2
    assert "--copilot-max-force must be a finite positive force" in capsys.readouterr().err


def test_serve_refuses_a_copilot_trained_for_another_task_than_the_one_served(shipped_path: Path, capsys) -> None:
    assert main(["serve", "--task", "helix", "--copilot", str(shipped_path), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "a policy for task 'nanotube', not 'helix'" in error and "Traceback" not in error, error


@pytest.mark.slow
def test_serve_with_a_copilot_suggests_and_says_so_in_the_session(costeer_server, shipped_path: Path) -> None:
    server = costeer_server("--copilot", str(shipped_path), "--copilot-mode", "suggest", "--copilot-max-force", "1500")

    async def look() -> dict:
        async with NanoverSession.connect(server.url) as session:
            return await session.wait_for_state(lambda state: keys.STATE_COPILOT_SUGGESTION in state, timeout=WAIT)

    state = asyncio.run(look())
    assert state[keys.STATE_COPILOT]["mode"] == "suggest" and state[keys.STATE_COPILOT]["max_force"] == 1500.0
    assert state[keys.STATE_COPILOT]["policy"] == shipped_path.name
    assert state[keys.STATE_SESSION]["settings"]["copilot"]["policy"] == shipped_path.name
    assert server.stop() == 0, server.output()
    assert f"co-pilot {shipped_path.name} in suggest" in server.output()


@pytest.mark.slow
def test_the_client_copilot_pulls_answers_commands_and_leaves_cleanly_on_ctrl_c(
    nanotube_server, costeer_cli: list[str], shipped_path: Path
) -> None:
    server = nanotube_server()
    url = f"ws://127.0.0.1:{server.port}"
    process = subprocess.Popen([*costeer_cli, "copilot", "--server", url, "--policy", str(shipped_path), "--mode", "apply"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        async def drive() -> None:
            async with NanoverSession.connect(url) as session:
                state = await session.wait_for_state(
                    lambda state: state.get(COPILOT_INTERACTION_KEY, {}).get("label") == "copilot", timeout=WAIT)
                assert state[COPILOT_INTERACTION_KEY]["owner.id"] == keys.COPILOT_OWNER
                assert state[COPILOT_INTERACTION_KEY]["max_force"] <= 2000.0
                listed = {command["name"]: command for command in (await session.run_command(keys.LIST_COMMANDS))["commands"]}
                assert listed[keys.COPILOT_MODE_COMMAND]["label"] == "Co-pilot mode"
                status = await session.run_command(keys.COPILOT_MODE_COMMAND, mode="suggest")
                assert status["mode"] == "suggest"
                await session.wait_for_state(
                    lambda state: keys.STATE_COPILOT_SUGGESTION in state and COPILOT_INTERACTION_KEY not in state, timeout=WAIT)
                await session.run_command(keys.COPILOT_MODE_COMMAND, mode="apply")
                await session.wait_for_state(lambda state: COPILOT_INTERACTION_KEY in state, timeout=WAIT)

        asyncio.run(drive())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err
    assert "costeer copilot on" in out
    deadline = time.monotonic() + WAIT
    while COPILOT_KEYS & set(server.state.snapshot()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not COPILOT_KEYS & set(server.state.snapshot()), "the client co-pilot left its keys behind"
    assert keys.COPILOT_MODE_COMMAND not in server.commands.names


@pytest.mark.slow
def test_the_client_copilot_exits_with_an_error_when_the_server_goes_away(
    nanotube_server, costeer_cli: list[str], shipped_path: Path
) -> None:
    server = nanotube_server()
    process = subprocess.Popen([*costeer_cli, "copilot", "--server", f"ws://127.0.0.1:{server.port}", "--policy",
                                str(shipped_path), "--mode", "suggest"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while keys.STATE_COPILOT_SUGGESTION not in server.state.snapshot():
            assert time.monotonic() < deadline and process.poll() is None, "the client co-pilot never suggested"
            time.sleep(0.05)
        server.close()
        _, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 2 and "closed the connection" in err, err
