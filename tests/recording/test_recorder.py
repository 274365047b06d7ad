"""SessionRecorder: every published frame and state change reaches the file, off-thread."""

from __future__ import annotations

import errno
import gc
import sys
import threading
from typing import Any, Callable

import numpy as np

from costeer.recording.reader import RecordingReader
from costeer.recording.recorder import SessionRecorder
from costeer.recording.repair import repair_recording
from costeer.server.hub import FrameHub, SharedFrame
from costeer.server.state import SharedState
from tests.waiting import wait_until


class FakeSubscription:
    """Holds the merged pending value like the server's subscriptions do."""

    def __init__(self, merge: Callable[[Any, Any], Any], on_ready: Callable[[], None] | None) -> None:
        self._merge = merge
        self._on_ready = on_ready
        self._lock = threading.Lock()
        self._taken = threading.Condition(self._lock)
        self._pending: Any = None
        self.closed = False

    def put(self, value: Any) -> None:
        with self._lock:
            was_empty = self._pending is None
            self._pending = value if was_empty else self._merge(self._pending, value)
        if was_empty and self._on_ready is not None:
            self._on_ready()

    def take(self) -> Any:
        with self._lock:
            value, self._pending = self._pending, None
            self._taken.notify_all()
        if value is not None and self.after_take is not None:
            self.after_take()
        return value

    after_take: Callable[[], None] | None = None
    """Called (in the taker's thread) after a take that got something: lets a test hold the recorder there."""

    def wait_until_taken(self, timeout: float = 10.0) -> None:
        """Wait until the subscriber has taken everything put (nothing left to merge into)."""
        with self._taken:
            assert self._taken.wait_for(lambda: self._pending is None, timeout), "nothing took the pending value"

    take_packed = take  # the frame source publishes SharedFrames

    def handled(self) -> None:
        self.handled_count += 1

    handled_count = 0
    """How often the recorder said it was done with a frame."""

    def close(self) -> None:
        self.closed = True


class FakeSource:
    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self.subscriptions: list[FakeSubscription] = []

    def subscribe(self, *, on_ready: Callable[[], None] | None = None) -> FakeSubscription:
        subscription = FakeSubscription(self._merge, on_ready)
        self.subscriptions.append(subscription)
        return subscription

    def publish(self, value: Any) -> None:
        for subscription in self.subscriptions:
            subscription.put(value)


def _merge_packed(earlier: SharedFrame, later: SharedFrame) -> SharedFrame:
    return earlier.merged_with(later)


def _merge_changes(earlier: dict, later: dict) -> dict:
    return {"updates": {**earlier["updates"], **later["updates"]}, "removals": earlier["removals"] + later["removals"]}


def test_records_every_frame_and_change_from_fakes(tmp_path, make_frame):
    frames, state = FakeSource(_merge_packed), FakeSource(_merge_changes)
    path = tmp_path / "fake.nanover.zip"
    recorder = SessionRecorder(path, frames=frames, state=state)
    recorder.start()
    for index in range(60):  # each published once the last was taken: a busy machine merges nothing
        frames.publish(SharedFrame(make_frame(index)))
        if index % 10 == 0:
            state.publish({"updates": {"avatar.a": index}, "removals": []})
        for subscription in frames.subscriptions + state.subscriptions:
            subscription.wait_until_taken()
    state.publish({"updates": {}, "removals": ["avatar.a"]})
    recorder.close()
    assert all(subscription.closed for subscription in frames.subscriptions + state.subscriptions)
    assert recorder.error is None
    with RecordingReader(path) as reader:
        indices = [frame["frame.index"] for _, frame in reader.frames()]
        states = list(reader.states())
    assert indices == list(range(60))
    assert [change.state.get("avatar.a") for change in states] == [0, 10, 20, 30, 40, 50, None]
    assert recorder.frames_recorded == 60
    assert frames.subscriptions[0].handled_count == 60  # each frame written was said done (the runner may wait on it)


def test_records_a_real_hub_and_shared_state(tmp_path):
    hub, state = FrameHub(), SharedState()
    state.update({"simulation.name": "nanotube", "costeer.session": {"server": "costeer"}})
    hub.send_clear()
    hub.send_frame({"particle.count": 3, "particle.positions": np.zeros((3, 3), np.float32)})
    path = tmp_path / "hub.nanover.zip"
    with SessionRecorder(path, frames=hub, state=state) as recorder:
        wait_until(lambda: recorder.frames_recorded == 1)
        for step in range(1, 31):  # each sent once the last was written, so none are merged
            hub.send_frame({"particle.positions": np.full((3, 3), step, np.float32)})
            if step == 15:
                state.update({"interaction.x": {"particles": [0]}})
            wait_until(lambda: recorder.frames_recorded == step + 1)
    with RecordingReader(path) as reader:
        frames = list(reader.frames())
        final_state = list(reader.states())[-1].state
    # the first take is the hub's aggregate since the clear (frame.index 0), then every frame
    assert [frame["frame.index"] for _, frame in frames] == [0, *range(2, 32)]
    assert frames[-1].frame["particle.positions"][0, 0] == 30
    assert frames[-1].frame["particle.count"] == 3
    assert final_state["costeer.session"] == {"server": "costeer"}
    assert "interaction.x" in final_state


def test_write_errors_stop_the_recording_not_the_caller(tmp_path, make_frame):
    frames, state = FakeSource(_merge_packed), FakeSource(_merge_changes)
    recorder = SessionRecorder(tmp_path / "bad.nanover.zip", frames=frames, state=state)
    recorder.start()
    frames.publish(SharedFrame({"frame.index": 0, "bad": object()}))  # cannot be encoded
    wait_until(lambda: recorder.error is not None)
    frames.publish(SharedFrame(make_frame(1)))  # still accepted by the hub: nobody waits
    recorder.close()
    assert isinstance(recorder.error, TypeError)
    assert all(subscription.closed for subscription in frames.subscriptions)


def test_a_change_that_arrived_before_a_frame_is_recorded_before_it(tmp_path, make_frame):
    """The recorder, busy while a state change and then a frame arrive, writes them in that order."""
    frames, state = FakeSource(_merge_packed), FakeSource(_merge_changes)
    path = tmp_path / "order.nanover.zip"
    recorder = SessionRecorder(path, frames=frames, state=state, flush_interval=3600)
    recorder.start()
    busy, release = threading.Event(), threading.Event()

    def hold() -> None:  # the first state change is being written: the recorder is busy
        state.subscriptions[0].after_take = None
        busy.set()
        assert release.wait(10)

    state.subscriptions[0].after_take = hold
    state.publish({"updates": {"interaction.a": 0}, "removals": []})
    assert busy.wait(10)
    state.publish({"updates": {"interaction.a": 1}, "removals": []})  # arrives first...
    frames.publish(SharedFrame(make_frame(0)))  # ...then the frame it acts on
    release.set()
    for subscription in frames.subscriptions + state.subscriptions:
        subscription.wait_until_taken()
    frames.publish(SharedFrame(make_frame(1)))
    state.publish({"updates": {"interaction.a": 2}, "removals": []})
    recorder.close()
    assert recorder.error is None
    with RecordingReader(path) as reader:
        order = [("frame", message["frame"]["frame.index"]) if "frame" in message
                 else ("state", message["state"]["updates"]["interaction.a"]) for _, message in reader.messages()]
    assert order == [("state", 0), ("state", 1), ("frame", 0), ("frame", 1), ("state", 2)]


def test_a_full_disk_stops_the_recording_in_one_line_and_leaves_it_repairable(tmp_path, make_frame, caplog, monkeypatch):
    path = tmp_path / "full.nanover.zip"
    frames, state = FakeSource(_merge_packed), FakeSource(_merge_changes)
    recorder = SessionRecorder(path, frames=frames, state=state, flush_interval=0.0)
    recorder.start()
    for index in range(3):
        frames.publish(SharedFrame(make_frame(index)))
        frames.subscriptions[0].wait_until_taken()
    wait_until(lambda: recorder._writer.messages_written == 3)

    def no_space(data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder._writer._messages, "write", no_space)
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    frames.publish(SharedFrame(make_frame(3)))
    wait_until(lambda: recorder.error is not None)
    recorder.close()
    del recorder
    gc.collect()
    assert f"recording to {path} stopped: [Errno 28] No space left on device" in caplog.text
    assert f"costeer recording repair {path}" in caplog.text
    assert "Traceback" not in caplog.text and unraisable == [], "a full disk is no bug: one line, nothing left open"
    report = repair_recording(path)
    assert report.frames == 3
