"""End to end in one process: a nanotube ``CosteerServer``, the shipped co-pilot in each mode, people as NanoVer clients.

The person is a ``NanoverSession`` pulling the methane like a headset (label ``synthetic``).
What reached the simulation is read from the frames the server published (its own hub
subscription here), what the co-pilot wrote from the shared state.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.agent.copilot import COPILOT_INTERACTION_KEY, CopilotSettings
from costeer.agent.copilot.inprocess import attach_copilot
from costeer.client.session import CommandError, NanoverSession
from costeer.core import keys
from costeer.core.frame import FrameDict, unpack_frame
from costeer.tasks import Chemistry, get_task

pytestmark = pytest.mark.slow

PERSON_KEY = "interaction.person-1"
WAIT = 20.0


class FrameLog:
    """Every frame the server publishes (its own hub subscription, in a thread): index, positions, user forces."""

    def __init__(self, server: Any) -> None:
        self._subscription = server.hub.subscribe()
        self.frames: list[FrameDict] = []
        self.condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (packed := self._subscription.wait(None)) is not None:
            with self.condition:
                self.frames.append(unpack_frame(packed))
                self.condition.notify_all()

    def wait_count(self, count: int, timeout: float = WAIT) -> list[FrameDict]:
        with self.condition:
            if not self.condition.wait_for(lambda: len(self.frames) >= count, timeout):
                raise AssertionError(f"only {len(self.frames)} frames within {timeout} s")
            return list(self.frames)

    def positions(self) -> np.ndarray:
        with self.condition:
            return np.array([frame[keys.PARTICLE_POSITIONS] for frame in self.frames if keys.PARTICLE_POSITIONS in frame],
                            dtype=np.float64)


class StateLog:
    """Every change to the server's shared state, with the index of the frame just published when it came."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.changes: list[tuple[int, dict[str, Any], frozenset[str]]] = []
        self.applied: list[set[str]] = []
        """After each change: the interactions the gate hands the simulation for its next steps."""
        self.condition = threading.Condition()
        server.state.add_listener(self._on_change)

    def _on_change(self, updates: Any, removals: frozenset[str]) -> None:
        current = self._server.hub.current_frame or {}
        with self.condition:
            self.changes.append((int(current.get(keys.FRAME_INDEX, -1)), dict(updates), removals))
            self.applied.append(set(self._server.interactions.applied))
            self.condition.notify_all()

    def wait(self, predicate, what: str, timeout: float = WAIT) -> None:
        with self.condition:
            if not self.condition.wait_for(lambda: predicate(self._server.state.snapshot()), timeout):
                raise AssertionError(f"{what} within {timeout} s; state keys {sorted(self._server.state.snapshot())}")

    def first(self, match, start: int = 0) -> tuple[int, int]:
        """(position in the log, frame index) of the first change at or after ``start`` that ``match``es."""
        with self.condition:
            for position, (index, updates, removals) in enumerate(self.changes[start:], start):
                if match(updates, removals):
                    return position, index
        raise AssertionError("no such change")


def selection_of(server: Any) -> Any:
    return get_task("nanotube").select(Chemistry.from_frame(unpack_frame(server.hub.current_frame)))


def person_pull(server: Any, *, label: str = "synthetic") -> dict[str, Any]:
    """A person's spring on the methane, 1 nm off to the side of the tube's axis."""
    selection = selection_of(server)
    positions = unpack_frame(server.hub.current_frame)[keys.PARTICLE_POSITIONS]
    target = positions[selection.grabbed].mean(axis=0) + np.array([0.0, 1.0, 0.0])
    return {"position": [float(x) for x in target], "particles": [int(i) for i in selection.grabbed],
            "interaction_type": "spring", "scale": 800.0, "mass_weighted": True, "reset_velocities": False,
            "max_force": 5000.0, "owner.id": "person-1", "label": label}


def user_index(frame: FrameDict) -> list[int]:
    return [int(i) for i in np.asarray(frame.get(keys.USER_FORCES_INDEX, ())).reshape(-1)]


def acting(state: dict[str, Any]) -> bool:
    return COPILOT_INTERACTION_KEY in state and state.get(keys.STATE_COPILOT, {}).get("acting") is True


def test_suggest_publishes_a_ghost_and_no_copilot_force_reaches_the_simulation(nanotube_server, shipped_policy) -> None:
    server = nanotube_server()
    log, frames = StateLog(server), FrameLog(server)
    attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="suggest"), policy_name="nanotube.pt")
    log.wait(lambda state: keys.STATE_COPILOT_SUGGESTION in state, "no suggestion appeared")
    first = server.state.get(keys.STATE_COPILOT_SUGGESTION)
    seen = len(frames.wait_count(1))
    published = frames.wait_count(seen + 45)  # 1.5 s of frames with the suggestion there
    later = server.state.get(keys.STATE_COPILOT_SUGGESTION)
    assert later["frame.index"] > first["frame.index"], "the suggestion is not renewed every frame"
    assert later["owner.id"] == keys.COPILOT_OWNER and later["label"] == "copilot"
    assert 0.0 <= later["confidence"] <= 1.0 and len(later["position"]) == 3
    assert later["particles"] == [int(i) for i in selection_of(server).grabbed]
    pulled = [frame[keys.FRAME_INDEX] for frame in published if user_index(frame)]
    assert not pulled, f"a user force reached the simulation in suggest mode (frames {pulled[:5]})"
    assert not any(COPILOT_INTERACTION_KEY in updates for _, updates, _ in log.changes)
    assert server.state.get(keys.STATE_COPILOT)["mode"] == "suggest"


def test_apply_threads_the_methane(nanotube_server, shipped_policy) -> None:
    server = nanotube_server(frame_rate=90.0)  # three times a person's pace: the policy still acts every frame
    frames, log = FrameLog(server), StateLog(server)
    selection = selection_of(server)
    task = get_task("nanotube")
    attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="apply", stall_frames=10), policy_name="nanotube.pt")
    deadline = time.monotonic() + 90.0
    outcome = None
    while time.monotonic() < deadline:
        count = len(frames.wait_count(len(frames.frames) + 45))
        outcome = task.evaluate(frames.positions(), selection)
        if outcome.success:
            break
    assert outcome is not None and outcome.success, f"methane not threaded in {count} frames: {outcome.details()}"
    pulled = [user_index(frame) for frame in frames.frames if user_index(frame)]
    assert pulled and all(index == [int(i) for i in selection.grabbed] for index in pulled)
    pulls = [updates[COPILOT_INTERACTION_KEY] for _, updates, _ in log.changes if COPILOT_INTERACTION_KEY in updates]
    assert {(pull["label"], pull["owner.id"]) for pull in pulls} == {("copilot", keys.COPILOT_OWNER)}
    assert max(pull["max_force"] for pull in pulls) <= 2000.0


def test_assist_lets_go_within_a_frame_when_a_person_grabs_and_takes_over_when_they_let_go(nanotube_server, shipped_policy) -> None:
    server = nanotube_server()
    log = StateLog(server)
    attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="assist", stall_frames=10), policy_name="nanotube.pt")
    log.wait(acting, "the co-pilot never pulled in assist")

    async def person() -> None:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            await session.wait_for_frame()
            await session.update_state({PERSON_KEY: person_pull(server)})
            await session.wait_for_state(lambda state: COPILOT_INTERACTION_KEY not in state, timeout=WAIT)
            assert list(server.interactions.applied) == [PERSON_KEY], "the co-pilot's pull reached the simulation beside the person's"
            await asyncio.sleep(0.5)
            assert COPILOT_INTERACTION_KEY not in server.state.snapshot(), "the co-pilot grabbed again while the person held on"
            await session.update_state(removals=[PERSON_KEY])
            await session.wait_for_state(lambda state: COPILOT_INTERACTION_KEY in state, timeout=WAIT)

    asyncio.run(person())
    grabbed_at, grab_index = log.first(lambda updates, removals: PERSON_KEY in updates)
    assert log.applied[grabbed_at] == {PERSON_KEY}, "the co-pilot's force stayed in the simulation once the person grabbed"
    _, let_go_index = log.first(lambda updates, removals: COPILOT_INTERACTION_KEY in removals, grabbed_at)
    # the frame being acted on when the person grabbed may still carry the co-pilot's pull; the next one does not
    assert let_go_index - grab_index <= 2, f"the person grabbed at frame {grab_index}, the co-pilot let go at {let_go_index}"
    assert server.state.get(keys.STATE_COPILOT)["acting"] is True


def test_modes_switch_by_command_from_a_client(nanotube_server, shipped_policy) -> None:
    server = nanotube_server()
    log = StateLog(server)
    attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="apply", stall_frames=10), policy_name="nanotube.pt")
    log.wait(acting, "the co-pilot never pulled")

    async def client() -> None:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            listed = await session.run_command(keys.LIST_COMMANDS)
            described = {command["name"]: command for command in listed["commands"]}
            assert described[keys.COPILOT_MODE_COMMAND]["label"] == "Co-pilot mode"
            assert set(described[keys.COPILOT_MODE_COMMAND]["arguments"]) == {"mode", "blend"}
            assert described[keys.COPILOT_STOP_COMMAND]["label"] == "Stop the co-pilot"
            status = await session.run_command(keys.COPILOT_MODE_COMMAND, mode="suggest")
            assert status["mode"] == "suggest"
            await session.wait_for_state(
                lambda state: keys.STATE_COPILOT_SUGGESTION in state and COPILOT_INTERACTION_KEY not in state, timeout=WAIT)
            with pytest.raises(CommandError, match="assist"):
                await session.run_command(keys.COPILOT_MODE_COMMAND, mode="autopilot")
            status = await session.run_command(keys.COPILOT_MODE_COMMAND, mode="assist", blend=0.3)
            assert (status["mode"], status["blend"]) == ("assist", 0.3)
            await session.wait_for_state(lambda state: state.get(COPILOT_INTERACTION_KEY, {}).get("label") == "copilot",
                                         timeout=WAIT)
            status = await session.run_command(keys.COPILOT_STOP_COMMAND)
            assert status["mode"] == "off"
            await session.wait_for_state(
                lambda state: not {COPILOT_INTERACTION_KEY, keys.STATE_COPILOT_SUGGESTION} & set(state)
                and state[keys.STATE_COPILOT]["mode"] == "off", timeout=WAIT)

    asyncio.run(client())


def test_the_recording_and_its_dataset_keep_the_copilot_apart_from_the_person(nanotube_server, shipped_policy, tmp_path: Path) -> None:
    from costeer.datasets import build_dataset, read_episodes
    from costeer.datasets.reading import read_steps
    from costeer.recording import RecordingReader

    recording = tmp_path / "costeering.nanover.zip"
    server = nanotube_server(record=recording)
    log = StateLog(server)
    attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="assist", stall_frames=10), policy_name="nanotube.pt")
    log.wait(acting, "the co-pilot never pulled")

    async def person() -> None:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            await session.wait_for_frame()
            await asyncio.sleep(1.0)
            await session.update_state({PERSON_KEY: person_pull(server)})
            await asyncio.sleep(1.5)
            await session.update_state(removals=[PERSON_KEY])
            await session.wait_for_state(lambda state: COPILOT_INTERACTION_KEY in state, timeout=WAIT)
            await asyncio.sleep(1.0)

    asyncio.run(person())
    server.close()
    labels: dict[str, set[Any]] = {}
    with RecordingReader(recording) as reader:
        for _, updates, _ in reader.state_updates():
            for key in (COPILOT_INTERACTION_KEY, PERSON_KEY):
                if key in updates:
                    labels.setdefault(key, set()).add((updates[key].get("label"), updates[key].get("owner.id")))
    assert labels == {COPILOT_INTERACTION_KEY: {("copilot", keys.COPILOT_OWNER)}, PERSON_KEY: {("synthetic", "person-1")}}

    def valid_steps(labelled: str) -> np.ndarray:
        dataset = build_dataset([recording], task="nanotube", output=tmp_path / labelled, progress=False,
                                actions_labelled=labelled)
        owners = {owner for row in read_episodes(dataset).column("owners").to_pylist() for owner in row}
        assert owners == {keys.COPILOT_OWNER, "person-1"}
        return np.asarray(read_steps(dataset, columns=["action.valid"]).column("action.valid").to_pylist(), dtype=bool)

    agent, person_steps = valid_steps("copilot"), valid_steps("synthetic")
    assert agent.any() and person_steps.any(), "the dataset lost one of the two"
    assert not (agent & person_steps).any(), "a step counted as both the co-pilot's and the person's"


@pytest.mark.parametrize("misbehaviour", ["raises", "hangs"])
def test_a_failing_or_hung_policy_never_stalls_frames_to_another_client(nanotube_server, shipped_policy, misbehaving,
                                                                         misbehaviour: str) -> None:
    server = nanotube_server()
    log = StateLog(server)
    policy = misbehaving(shipped_policy)
    attach_copilot(server, policy, settings=CopilotSettings(mode="apply"), policy_name="nanotube.pt")
    log.wait(acting, "the co-pilot never pulled")

    async def watcher() -> tuple[int, float]:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            await session.wait_for_frame()
            if misbehaviour == "raises":
                policy.failing = True
            else:
                policy.hanging.set()
            await session.wait_for_state(lambda state: COPILOT_INTERACTION_KEY not in state, timeout=WAIT)
            start, started = session.frames_received, time.monotonic()
            await asyncio.sleep(2.0)
            return session.frames_received - start, time.monotonic() - started

    received, seconds = asyncio.run(watcher())
    assert received / seconds >= 20.0, f"{received} frames in {seconds:.1f} s to another client while the policy {misbehaviour}"
    status = server.state.get(keys.STATE_COPILOT)
    assert status["acting"] is False and status["error"]
    if misbehaviour == "raises":
        assert status["mode"] == "off" and "exploded" in status["error"]
    else:
        assert "fell behind" in status["error"]


def test_playback_reset_starts_the_policy_afresh(nanotube_server, shipped_policy, misbehaving) -> None:
    server = nanotube_server()
    log = StateLog(server)
    policy = misbehaving(shipped_policy)
    attach_copilot(server, policy, settings=CopilotSettings(mode="apply", stall_frames=10), policy_name="nanotube.pt")
    log.wait(lambda state: acting(state) and state[COPILOT_INTERACTION_KEY][keys.FRAME_INDEX] > 30,
             "the co-pilot never pulled for a second")
    resets = policy.resets

    async def reset() -> None:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            await session.run_command(keys.RESET_COMMAND)

    asyncio.run(reset())
    log.wait(lambda state: policy.resets > resets and acting(state) and state[COPILOT_INTERACTION_KEY][keys.FRAME_INDEX] < 30,
             "the co-pilot did not start afresh on the reset's frame")
