"""``costeer serve --copilot --mqtt --record``: the shipped co-pilot through its modes beside a person, heard over MQTT
and kept in the recording.

A person (a NanoVer client, label ``synthetic``) switches the co-pilot by command: ``suggest`` (suggestions, no
pull), ``assist`` (it pulls; the person grabs, it lets go; the person lets go, it pulls again), ``apply`` (it
threads methane). Every event is checked against the schema; the recording keeps the agent's and the person's
pulls apart by label.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.agent.checkpoint import shipped_checkpoint
from costeer.client.session import NanoverSession
from costeer.core import keys
from costeer.tasks import Chemistry, get_task

pytestmark = pytest.mark.slow

COPILOT_KEY = f"{keys.INTERACTION_PREFIX}{keys.COPILOT_OWNER}"
PERSON_KEY = "interaction.person-1"
WAIT = 90.0


async def _person(url: str, log: Any) -> None:
    async with NanoverSession.connect(url) as person:
        frame = await person.wait_for_frame(lambda f: keys.BOND_PAIRS in f and keys.PARTICLE_POSITIONS in f, timeout=WAIT)
        grabbed = [int(i) for i in get_task("nanotube").select(Chemistry.from_frame(frame)).grabbed]
        log.wait_for(lambda m: m.kind == "copilot/suggestion" and m.payload["active"], timeout=WAIT)
        assert COPILOT_KEY not in person.state, "the co-pilot pulled while it only suggests"

        await person.run_command(keys.COPILOT_MODE_COMMAND, mode="assist")
        await person.wait_for_state(lambda state: COPILOT_KEY in state, timeout=WAIT)
        here = np.asarray(person.frame[keys.PARTICLE_POSITIONS])[grabbed].mean(axis=0)
        pull = {"position": [float(x) for x in here], "particles": grabbed, "interaction_type": "spring", "scale": 50.0,
                "max_force": 5000.0, "owner.id": "person-1", "label": "synthetic"}
        await person.update_state({PERSON_KEY: pull})
        await person.wait_for_state(lambda state: COPILOT_KEY not in state, timeout=WAIT)
        await person.update_state(removals=[PERSON_KEY])
        await person.wait_for_state(lambda state: COPILOT_KEY in state, timeout=WAIT)

        await person.run_command(keys.COPILOT_MODE_COMMAND, mode="apply")
        log.wait_for(lambda m: m.kind == "task/success", timeout=WAIT)
        await person.run_command(keys.COPILOT_STOP_COMMAND)
        await person.wait_for_state(lambda state: COPILOT_KEY not in state, timeout=WAIT)


def test_the_co_pilot_through_its_modes_is_heard_over_mqtt_and_kept_in_the_recording(
    tmp_path: Path, mosquitto, mqtt_log, costeer_server, assert_valid
) -> None:
    from costeer.recording import RecordingReader

    log = mqtt_log(mosquitto.port)
    recording = tmp_path / "session.nanover.zip"
    server = costeer_server("--task", "nanotube", "--frame-rate", "60", "--copilot", str(shipped_checkpoint("nanotube")),
                            "--copilot-mode", "suggest", "--mqtt", f"127.0.0.1:{mosquitto.port}", "--name", "lab",
                            "--record", str(recording))
    asyncio.run(_person(server.url, log))
    assert server.stop() == 0
    log.wait_for(lambda m: m.kind == "recording/finished", timeout=WAIT)
    messages = list(log.messages)
    assert_valid(messages)

    modes = [m.payload["mode"] for m in messages if m.kind == "copilot/mode"]
    assert [mode for i, mode in enumerate(modes) if i == 0 or mode != modes[i - 1]] == ["suggest", "assist", "apply", "off"]
    pulls = [(m.kind, m.payload["owner_id"], m.payload["agent"]) for m in messages
             if m.kind in ("interaction/started", "interaction/stopped")]
    agent, person = (keys.COPILOT_OWNER, True), ("person-1", False)
    # assist: it pulls, the person grabs and it lets go, the person lets go and it pulls again; apply; stop
    # (the person's grab and the co-pilot's letting go may reach the events thread as one change)
    assert pulls[0] == ("interaction/started", *agent) and pulls[3] == ("interaction/stopped", *person)
    assert set(pulls[1:3]) == {("interaction/started", *person), ("interaction/stopped", *agent)}
    assert pulls[4] == ("interaction/started", *agent) and pulls[-1] == ("interaction/stopped", *agent)
    assert all(m.payload["label"] == "copilot" for m in messages
               if m.kind.startswith("interaction/") and m.payload["owner_id"] == keys.COPILOT_OWNER)
    first_suggestion = next(i for i, m in enumerate(messages) if m.kind == "copilot/suggestion")
    assert first_suggestion < next(i for i, m in enumerate(messages) if m.kind == "interaction/started")

    labels: dict[str, set[tuple[Any, Any]]] = {}
    with RecordingReader(recording) as reader:
        for _, updates, _ in reader.state_updates():
            for key in (COPILOT_KEY, PERSON_KEY):
                if key in updates:
                    labels.setdefault(key, set()).add((updates[key].get("label"), updates[key].get("owner.id")))
    assert labels == {COPILOT_KEY: {("copilot", keys.COPILOT_OWNER)}, PERSON_KEY: {("synthetic", "person-1")}}
