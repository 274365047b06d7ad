"""ServerEvents on an in-process CosteerServer (a fast drifting simulation) with a real mosquitto:
a scripted session's events, schema-valid; a broker absent, restarted or hanging never stops the server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.client.session import NanoverSession
from costeer.core import keys
from costeer.events import ServerEvents
from costeer.server.app import CosteerServer
from costeer.tasks import AtomSelection, Task


class Drift:
    """A Simulation without OpenMM: a few carbons drifting 1 pm a frame; counts its steps."""

    name = "drift"
    particle_count = 5

    def __init__(self) -> None:
        self.steps_taken = 0
        self.interactions: dict = {}

    def load(self) -> None:
        pass

    def reset(self) -> dict[str, Any]:
        return {
            keys.PARTICLE_COUNT: self.particle_count,
            keys.PARTICLE_ELEMENTS: np.full(self.particle_count, 6, dtype=np.uint8),
            keys.BOND_PAIRS: np.array([[0, 1], [1, 2]], dtype=np.uint32),
            keys.PARTICLE_POSITIONS: np.zeros((self.particle_count, 3), dtype=np.float32),
            keys.SIMULATION_TIME: 0.0,
        }

    def advance(self, seconds: float) -> dict[str, Any]:
        self.steps_taken += 5
        positions = np.full((self.particle_count, 3), self.steps_taken * 2e-4, dtype=np.float32)
        return {keys.PARTICLE_POSITIONS: positions, keys.SIMULATION_TIME: self.steps_taken * 0.002}

    def set_interactions(self, interactions) -> None:
        self.interactions = dict(interactions)


def _pull(x: float) -> dict[str, Any]:
    return {"position": [x, 0.0, 0.0], "particles": [1, 2], "interaction_type": "spring", "scale": 1.0,
            "mass_weighted": True, "reset_velocities": False, "max_force": 1000.0, "owner.id": "alice", "label": "person"}


COPILOT_STATUS = {"mode": "suggest", "blend": None, "policy": "nanotube.pt", "task": "nanotube", "acting": False,
                  "max_force": 2000.0, "owner.id": keys.COPILOT_OWNER, "error": None}


async def _person_session(url: str, updates: int) -> float:
    """Connect, grab atoms 1-2, move ``updates`` times (one a millisecond or so), let go, leave; returns the seconds it moved."""
    async with NanoverSession.connect(url) as session:
        await session.wait_for_frame()
        await session.update_state({"interaction.alice": _pull(0.0)})
        started = time.monotonic()
        for step in range(1, updates + 1):
            await session.update_state({"interaction.alice": _pull(step * 0.01)})
            await asyncio.sleep(0.002)
        moved = time.monotonic() - started
        await asyncio.sleep(0.3)  # the last update goes out within 0.1 s
        await session.update_state(removals=["interaction.alice"])
        await session.wait_for_state(lambda state: "interaction.alice" not in state)
    return moved


def _serve(tmp_path: Path, port: int, **events_options: Any) -> tuple[CosteerServer, ServerEvents]:
    server = CosteerServer([Drift()], port=0, frame_rate=60.0, name="lab1", record=tmp_path / "session.nanover.zip")
    events = ServerEvents(server, broker=("127.0.0.1", port), **events_options)
    events.start()
    server.start()
    return server, events


@pytest.mark.slow
def test_a_scripted_session_is_told_in_order_and_every_payload_matches_the_schema(tmp_path, mosquitto, mqtt_log, assert_valid):
    log = mqtt_log(mosquitto.port)
    server, events = _serve(tmp_path, mosquitto.port)
    try:
        log.wait_for(lambda m: m.kind == "recording/started")
        url = f"ws://127.0.0.1:{server.port}"
        moved = asyncio.run(_person_session(url, updates=100))
        log.wait_for(lambda m: m.kind == "client/left")
        # the co-pilot, as the contract has it write the state (in process: origin costeer-copilot)
        server.state.update({keys.STATE_COPILOT: COPILOT_STATUS}, origin=keys.COPILOT_OWNER)
        for frame in range(60):
            suggestion = {"position": [0.1 * frame, 0.0, 0.0], "particles": [1], "interaction_type": "spring", "scale": 1.0,
                          "confidence": 0.7, "frame.index": frame, "owner.id": keys.COPILOT_OWNER, "label": "copilot"}
            server.state.update({keys.STATE_COPILOT_SUGGESTION: suggestion}, origin=keys.COPILOT_OWNER)
            time.sleep(1 / 60)
        server.state.update({keys.STATE_COPILOT: {**COPILOT_STATUS, "mode": "apply", "acting": True}},
                            [keys.STATE_COPILOT_SUGGESTION], origin=keys.COPILOT_OWNER)
        copilot = {**_pull(0.5), "owner.id": keys.COPILOT_OWNER, "label": "copilot"}
        server.state.update({"interaction.costeer-copilot": copilot}, origin=keys.COPILOT_OWNER)
        log.wait_for(lambda m: m.kind == "interaction/started" and m.payload["agent"])
        log.wait_for(lambda m: m.kind == "metrics" and m.payload["interactions"] == 1)
    finally:
        server.close()
        events.close()
    log.wait_for(lambda m: m.kind == "recording/finished")
    messages = list(log.messages)
    assert_valid(messages)
    assert [m.payload["seq"] for m in messages] == list(range(len(messages)))  # none lost, in order
    kinds = [m.kind for m in messages]
    person = [m for m in messages if m.kind.startswith("interaction/") and m.payload["owner_id"] == "alice"]
    assert [m.kind for m in person][0] == "interaction/started" and [m.kind for m in person][-1] == "interaction/stopped"
    assert kinds.index("client/connected") < kinds.index("interaction/started") < kinds.index("client/left")
    who = person[0].payload
    assert (who["connection"], who["agent"], who["label"], who["particles"]) == ("ws-1", False, "person", [1, 2])
    updated = [m for m in person if m.kind == "interaction/updated"]
    assert 2 <= len(updated) <= moved / 0.1 + 2  # at most 10 a second
    assert updated[-1].payload["position"][0] == pytest.approx(1.0)  # the last one is never lost
    assert len(updated) <= person[-1].payload["updates"] <= 100  # changes that came together count once
    modes = [(m.payload["mode"], m.payload["acting"]) for m in messages if m.kind == "copilot/mode"]
    assert modes == [("suggest", False), ("apply", True)]
    suggestions = [m.payload for m in messages if m.kind == "copilot/suggestion"]
    assert 3 <= len(suggestions) - 1 <= 60 / 60 / 0.2 + 2  # 5 a second, then the withdrawal
    assert suggestions[-1]["active"] is False and all(s["active"] for s in suggestions[:-1])
    agent = next(m.payload for m in messages if m.kind == "interaction/started" and m.payload["agent"])
    assert (agent["owner_id"], agent["connection"], agent["label"]) == (keys.COPILOT_OWNER, keys.COPILOT_OWNER, "copilot")
    metrics = [m.payload for m in messages if m.kind == "metrics"]
    assert metrics and all(m["frames_per_s"] > 0 and m["steps_per_s"] > 0 for m in metrics[1:])
    assert {m["clients"] for m in metrics} <= {0, 1}
    finished = messages[kinds.index("recording/finished")].payload
    assert finished["path"].endswith("session.nanover.zip") and finished["frames"] > 0 and finished["error"] is None
    assert kinds.index("recording/started") < kinds.index("client/connected")


@pytest.mark.slow
def test_the_server_runs_on_without_a_broker_and_events_resume_when_it_comes_back(tmp_path, stopped_mosquitto, mqtt_log, assert_valid):
    server, events = _serve(tmp_path, stopped_mosquitto.port)
    try:
        asyncio.run(_person_session(f"ws://127.0.0.1:{server.port}", updates=5))  # nobody hears it
        stopped_mosquitto.start()
        log = mqtt_log(stopped_mosquitto.port)
        log.wait_for(lambda m: m.kind == "metrics")
        stopped_mosquitto.stop()  # a restart mid-session
        frames = server.runner.frames_published
        deadline = time.monotonic() + 20
        while server.runner.frames_published < frames + 30:  # the simulation goes on meanwhile
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stopped_mosquitto.start()
        seen = len(log.messages)
        asyncio.run(_person_session(f"ws://127.0.0.1:{server.port}", updates=5))
        log.wait_for(lambda m: m.kind == "client/left", after=seen)
        log.wait_for(lambda m: m.kind == "metrics", after=seen)
    finally:
        server.close()
        events.close()
    assert events.link.connections >= 2
    assert_valid(list(log.messages))
    # what was published while the broker was away was queued, not lost: the first session is there too
    assert [m.kind for m in log.messages if m.kind == "client/connected"] == ["client/connected"] * 2


@pytest.mark.slow
def test_a_broker_that_never_answers_never_slows_frames_or_clients(tmp_path, black_hole):
    server, events = _serve(tmp_path, black_hole.port, capacity=4)
    try:
        url = f"ws://127.0.0.1:{server.port}"

        async def watch() -> tuple[int, float]:
            async with NanoverSession.connect(url) as session:
                await session.wait_for_frame()
                first = session.frames_received
                started = time.monotonic()
                for step in range(300):  # state writes through the same event loop as the events' listeners
                    await session.update_state({"interaction.alice": _pull(step * 0.001)})
                await session.wait_for_state(lambda state: state.get("interaction.alice", {}).get("position", [0])[0] > 0.29)
                await session.wait_for_frame(lambda frame: session.frames_received >= first + 60, timeout=30)
                return session.frames_received - first, time.monotonic() - started

        frames, seconds = asyncio.run(watch())
        deadline = time.monotonic() + 20
        while events.link.dropped == 0:  # the session and a metrics message a second fill the 4 places
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.close()
        started = time.monotonic()
        events.close(flush_timeout=0.5)
        closing = time.monotonic() - started
    assert frames >= 60 and events.link.sent == 0 and events.link.dropped > 0
    assert closing < 10


def test_a_server_name_that_is_no_topic_level_is_refused(mosquitto):
    server = CosteerServer([Drift()], port=0, name="lab/1")
    with pytest.raises(ValueError, match="without /"):
        ServerEvents(server, broker=("127.0.0.1", mosquitto.port))


class _Broken(Task):
    """A task whose frame fitting fails on every frame."""

    def build_system(self):
        raise NotImplementedError

    def select(self, chemistry):
        return AtomSelection(grabbed=[0], observed=[0])

    def frames(self, positions, selection, *, previous=None):
        raise RuntimeError("broken task frame")

    def evaluate(self, positions, selection):
        raise RuntimeError("broken detector")


@pytest.mark.slow
def test_a_failing_task_costs_its_events_only(tmp_path, mosquitto, mqtt_log, assert_valid, caplog):
    log = mqtt_log(mosquitto.port)
    server, events = _serve(tmp_path, mosquitto.port, task=_Broken())
    try:
        log.wait_for(lambda m: m.kind == "metrics")
        asyncio.run(_person_session(f"ws://127.0.0.1:{server.port}", updates=3))
        log.wait_for(lambda m: m.kind == "client/left")
        failures = events.failures
        log.wait_for(lambda m: m.kind == "metrics", after=len(log.messages))
    finally:
        server.close()
        events.close()
    assert failures > 10  # every frame's
    assert [record.exc_info[1].args for record in caplog.records if "could not be made" in record.getMessage()] == [
        ("broken task frame",)]  # logged once, with its traceback
    assert not log.of("task/progress") and log.of("interaction/stopped")
    assert_valid(list(log.messages))
