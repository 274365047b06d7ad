"""The live loop without a server: frames fed by hand, changes kept in a dict, a policy that pulls, raises or hangs."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from costeer.agent.copilot import COPILOT_INTERACTION_KEY, Copilot, CopilotChange, CopilotSettings
from costeer.agent.copilot.live import LiveCopilot, combine_changes
from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.tasks.chemistry import ChemistryError

INTERVAL = 0.02
"""Seconds between frames in these tests (the watchdog's unit)."""
WAIT = 10.0


class Harness:
    """A LiveCopilot fed the newest frame (by hand or every ``INTERVAL`` s), with a state dict of its changes."""

    def __init__(self, policy: Any, first: FrameDict, *, settings: CopilotSettings) -> None:
        self.first = first
        self.state: dict[str, Any] = {}
        self.condition = threading.Condition()
        self.index = 0
        self._newest: FrameDict | None = None
        self._feeding = threading.Event()
        self._closed = threading.Event()
        self._feeder = threading.Thread(target=self._feed_steadily, daemon=True)
        self.live = LiveCopilot(
            lambda frame: Copilot.from_frame(policy, frame, settings=settings, policy_name="scripted"),
            next_frame=self._next, live_interactions=dict, write=self._write,
            frame_interval=lambda: INTERVAL, settings=settings,
        )

    def start(self) -> None:
        self._feeder.start()
        self.live.start()

    def close(self) -> None:
        self._closed.set()
        self.live.close()

    def _next(self, timeout: float) -> FrameDict | None:
        with self.condition:
            self.condition.wait_for(lambda: self._newest is not None, timeout)
            frame, self._newest = self._newest, None
        return frame

    def _write(self, change: CopilotChange) -> None:
        with self.condition:
            for key in change.removals:
                self.state.pop(key, None)
            self.state.update(change.updates)
            self.condition.notify_all()

    def feed(self, count: int = 1, *, reset: bool = False) -> None:
        """Publish ``count`` frames (``reset``: the first is frame.index 0, a new episode)."""
        for number in range(count):
            if reset and number == 0:
                self.index = 0
            with self.condition:
                reset_pending = self._newest is not None and self._newest[keys.FRAME_INDEX] == 0
                self._newest = {**self.first, keys.FRAME_INDEX: 0 if reset_pending else self.index}
                self.index += 1
                self.condition.notify_all()

    def feeding(self, on: bool) -> None:
        """Publish a frame every ``INTERVAL`` s (as a server does), or stop."""
        (self._feeding.set if on else self._feeding.clear)()

    def _feed_steadily(self) -> None:
        while not self._closed.wait(INTERVAL):
            if self._feeding.is_set():
                self.feed()

    def wait_for(self, condition, what: str, timeout: float = WAIT) -> None:
        with self.condition:
            if not self.condition.wait_for(lambda: condition(self.state), timeout):
                raise AssertionError(f"{what} within {timeout} s; state: {self.state}")

    def status(self) -> dict[str, Any]:
        with self.condition:
            return dict(self.state.get(keys.STATE_COPILOT, {}))


@pytest.fixture
def harness(nanotube_frame: FrameDict):
    made: list[Harness] = []

    def make(policy: Any, **settings: Any) -> Harness:
        made_harness = Harness(policy, nanotube_frame, settings=CopilotSettings(**settings))
        made.append(made_harness)
        made_harness.start()
        return made_harness

    yield make
    for made_harness in made:
        made_harness.close()


def acting(state: dict[str, Any]) -> bool:
    return COPILOT_INTERACTION_KEY in state and state.get(keys.STATE_COPILOT, {}).get("acting") is True


def test_it_pulls_on_frames_and_close_removes_its_keys(harness, misbehaving) -> None:
    run = harness(misbehaving(), mode="apply")
    run.feeding(True)
    run.wait_for(acting, "the co-pilot never pulled")
    pull = run.state[COPILOT_INTERACTION_KEY]
    assert pull["label"] == "copilot" and pull["owner.id"] == keys.COPILOT_OWNER
    assert 0 <= pull[keys.FRAME_INDEX] < run.index, "the pull does not say which frame it acted on"
    assert run.status()["mode"] == "apply" and run.status()["policy"] == "scripted"
    run.live.close()
    assert not {COPILOT_INTERACTION_KEY, keys.STATE_COPILOT, keys.STATE_COPILOT_SUGGESTION} & set(run.state)


def test_a_raising_policy_lets_go_and_stays_off_until_a_mode_command(harness, misbehaving) -> None:
    policy = misbehaving()
    run = harness(policy, mode="apply", stall_frames=50)
    run.feed(2)
    run.wait_for(acting, "the co-pilot never pulled")
    policy.failing = True
    run.feed(1)
    run.wait_for(lambda state: COPILOT_INTERACTION_KEY not in state, "the failing co-pilot never let go")
    status = run.status()
    assert status["mode"] == "off" and status["acting"] is False
    assert "the policy exploded" in status["error"]
    calls = policy.calls
    policy.failing = False
    run.feed(5)
    time.sleep(0.3)  # frames it must not act on
    assert policy.calls == calls and COPILOT_INTERACTION_KEY not in run.state, "a failed co-pilot acted before a mode command"
    assert run.live.set_mode("apply")["mode"] == "apply"
    run.feed(2)
    run.wait_for(acting, "the co-pilot did not pull again after copilot/mode")


def test_a_hung_policy_is_let_go_by_the_watchdog_and_stop_answers_at_once(harness, misbehaving) -> None:
    policy = misbehaving()
    run = harness(policy, mode="apply", stall_frames=3)
    run.feeding(True)
    run.wait_for(acting, "the co-pilot never pulled")
    policy.hanging.set()
    assert policy.in_act.wait(WAIT)
    run.wait_for(lambda state: COPILOT_INTERACTION_KEY not in state, "the watchdog never let go of a hung policy")
    assert "fell behind" in run.status()["error"] and run.status()["acting"] is False
    started = time.monotonic()
    status = run.live.stop()
    assert time.monotonic() - started < 1.0, "copilot/stop waited for the hung policy"
    assert status["mode"] == "off"
    policy.hanging.clear()
    policy.release.set()
    time.sleep(0.3)  # frames keep coming
    assert COPILOT_INTERACTION_KEY not in run.state, "the hung policy's late action came back after copilot/stop"
    assert run.status()["mode"] == "off"


def test_frames_stopping_makes_it_let_go(harness, misbehaving) -> None:
    run = harness(misbehaving(), mode="apply", stall_frames=3)
    run.feeding(True)
    run.wait_for(acting, "the co-pilot never pulled")
    run.feeding(False)
    run.wait_for(lambda state: COPILOT_INTERACTION_KEY not in state, "it kept pulling with no frames")
    assert "frames stopped" in run.status()["error"]
    run.feed(1)
    run.wait_for(acting, "it did not pull again when frames came back")


def test_a_new_episode_resets_the_policy(harness, misbehaving) -> None:
    policy = misbehaving()
    run = harness(policy, mode="suggest")
    run.feed(3)
    run.wait_for(lambda state: keys.STATE_COPILOT_SUGGESTION in state, "no suggestion")
    resets = policy.resets
    run.feed(2, reset=True)
    run.wait_for(lambda state: policy.resets > resets, "frame.index 0 did not reset the policy", timeout=WAIT)
    assert COPILOT_INTERACTION_KEY not in run.state, "suggest mode pulled"


def test_a_command_before_the_first_frame_is_kept(harness, misbehaving) -> None:
    run = harness(misbehaving(), mode="apply")
    assert run.live.set_mode("suggest")["mode"] == "suggest"
    run.feed(2)
    run.wait_for(lambda state: keys.STATE_COPILOT_SUGGESTION in state, "the early copilot/mode was lost")
    assert COPILOT_INTERACTION_KEY not in run.state and run.status()["mode"] == "suggest"


def test_an_unknown_mode_is_refused_with_the_modes() -> None:
    live = LiveCopilot(lambda frame: None, next_frame=lambda timeout: None, live_interactions=dict,
                       write=lambda change: None, frame_interval=lambda: INTERVAL, settings=CopilotSettings())
    with pytest.raises(ValueError, match="suggest"):
        live.set_mode("autopilot")


def test_changes_combine_in_order() -> None:
    first = CopilotChange(updates={"a": 1, "b": 2}, removals=["c"])
    second = CopilotChange(updates={"c": 3}, removals=["a"])
    combined = combine_changes(first, second)
    assert combined.updates == {"b": 2, "c": 3} and combined.removals == ["a"]
    assert np.array_equal(sorted(combine_changes(second, first).removals), ["c"])


def test_a_system_the_policy_cannot_work_on_turns_it_off_with_the_reason(nanotube_frame: FrameDict, caplog) -> None:
    written: list[CopilotChange] = []
    frames = [{**nanotube_frame, keys.FRAME_INDEX: 0}]
    done = threading.Event()

    def next_frame(timeout: float) -> FrameDict | None:
        if frames:
            return frames.pop()
        done.set()
        time.sleep(timeout)
        return None

    def make(frame: FrameDict) -> Copilot:
        raise ChemistryError("no methane in this system")

    live = LiveCopilot(make, next_frame=next_frame, live_interactions=dict, write=written.append,
                       frame_interval=lambda: INTERVAL, settings=CopilotSettings(mode="apply"))
    live.start()
    try:
        assert done.wait(WAIT)
        status = live.status
        assert status["mode"] == "off" and "no methane in this system" in status["error"]
        assert not any(COPILOT_INTERACTION_KEY in change.updates for change in written)
        assert "cannot act on this system (no methane in this system)" in caplog.text
        assert "Traceback" not in caplog.text, "a system it was not trained for is the user's mistake, not a bug"
    finally:
        live.close()


def test_a_command_during_a_slow_action_never_leaves_a_stale_pull(harness, misbehaving) -> None:
    policy = misbehaving()
    run = harness(policy, mode="apply", stall_frames=1000)  # no watchdog: the command alone meets the slow action
    run.feeding(True)
    run.wait_for(acting, "the co-pilot never pulled")
    policy.hanging.set()
    assert policy.in_act.wait(WAIT)
    assert run.live.set_mode("apply")["mode"] == "apply"  # answered while the policy is busy
    policy.pull[5] = 0.0  # the slow action, and every later one, lets go
    policy.hanging.clear()
    policy.release.set()
    run.wait_for(lambda state: COPILOT_INTERACTION_KEY not in state, "a pull the policy let go of stayed in the state")
