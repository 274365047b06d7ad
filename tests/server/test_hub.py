"""FrameHub: NanoVer's stamping, latest-merged delivery, encode-once, bounded memory."""

from __future__ import annotations

import threading
import time

import msgpack
import numpy as np
import pytest

from costeer.core import keys
from costeer.server.hub import FrameHub, SharedFrame


def positions(value: float, count: int = 4) -> np.ndarray:
    return np.full((count, 3), value, dtype=np.float32)


def test_clear_then_frames_are_stamped_like_nanover():
    hub = FrameHub()
    sub = hub.subscribe()
    hub.send_clear()
    assert sub.take() is None, "a clear waits for the frame that carries the new topology"
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(1.0)})
    first = sub.take()
    assert first[keys.FRAME_INDEX] == 0 and first[keys.SIMULATION_COUNTER] == 0
    assert isinstance(first[keys.SERVER_TIMESTAMP], float)
    assert first[keys.PARTICLE_POSITIONS] == positions(1.0).tobytes()
    assert hub.current_frame[keys.FRAME_INDEX] == 0
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(2.0)})
    assert sub.take()[keys.FRAME_INDEX] == 2
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(3.0)})
    assert sub.take()[keys.FRAME_INDEX] == 3
    hub.send_clear()
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(4.0)})
    again = sub.take()
    assert again[keys.FRAME_INDEX] == 0 and again[keys.SIMULATION_COUNTER] == 1


def test_first_frame_without_clear_starts_a_sequence():
    hub = FrameHub()
    sub = hub.subscribe()
    hub.send_frame({"a": 1})
    frame = sub.take()
    assert frame[keys.FRAME_INDEX] == 0 and frame["a"] == 1 and frame[keys.SIMULATION_COUNTER] == 0


def test_new_subscriber_gets_the_aggregate_as_a_full_frame():
    hub = FrameHub()
    hub.send_clear()
    hub.send_frame({keys.PARTICLE_ELEMENTS: np.array([6, 1], dtype=np.uint8), keys.PARTICLE_POSITIONS: positions(1.0, 2)})
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(3.0, 2)})
    late = hub.subscribe().take()
    assert late[keys.FRAME_INDEX] == 0
    assert late[keys.PARTICLE_ELEMENTS] == bytes([6, 1])
    assert late[keys.PARTICLE_POSITIONS] == positions(3.0, 2).tobytes()


def test_slow_subscriber_gets_one_merged_frame():
    hub = FrameHub()
    hub.send_clear()
    hub.send_frame({keys.PARTICLE_COUNT: 4})
    sub = hub.subscribe()
    sub.take()
    hub.send_frame({"a": 1, keys.PARTICLE_POSITIONS: positions(1.0)})
    hub.send_frame({"b": 2, keys.PARTICLE_POSITIONS: positions(2.0)})
    merged = sub.take()
    assert merged["a"] == 1 and merged["b"] == 2 and merged[keys.FRAME_INDEX] == 3
    assert merged[keys.PARTICLE_POSITIONS] == positions(2.0).tobytes()
    assert sub.take() is None


def test_missed_clear_stays_visible():
    hub = FrameHub()
    hub.send_clear()
    hub.send_frame({"a": 1})
    sub = hub.subscribe()
    sub.take()
    hub.send_clear()
    hub.send_frame({"b": 2})
    merged = sub.take()
    assert merged[keys.FRAME_INDEX] == 0 and "a" not in merged and merged["b"] == 2


def test_frame_is_encoded_once_for_every_subscriber():
    hub = FrameHub()
    hub.send_clear()
    hub.send_frame({keys.PARTICLE_COUNT: 4})
    subs = [hub.subscribe() for _ in range(3)]
    for sub in subs:
        sub.take()
    hub.send_frame({keys.PARTICLE_POSITIONS: positions(1.0)})
    calls = []

    def encode(frame):
        calls.append(frame[keys.FRAME_INDEX])
        return msgpack.packb({"frame": frame})

    encoded = [sub.take_packed().encoding("test", encode) for sub in subs]
    assert encoded[0] is encoded[1] is encoded[2] and calls == [2]
    message = msgpack.unpackb(encoded[0])
    assert message["frame"][keys.FRAME_INDEX] == 2


def test_each_protocol_gets_its_own_encoding_of_a_frame_and_a_failed_one_is_not_cached():
    shared = SharedFrame({keys.FRAME_INDEX: 3})
    assert shared.encoding("a", lambda frame: ("a", frame[keys.FRAME_INDEX])) == ("a", 3)
    assert shared.encoding("b", lambda frame: ("b", frame[keys.FRAME_INDEX])) == ("b", 3)
    assert shared.encoding("a", lambda frame: "not called") == ("a", 3)

    def failing(frame):
        raise TypeError("cannot encode")

    with pytest.raises(TypeError):
        shared.encoding("c", failing)
    assert shared.encoding("c", lambda frame: "second try") == "second try"


def test_publisher_does_not_mutate_the_callers_frame():
    hub = FrameHub()
    frame = {"a": 1}
    hub.send_frame(frame)
    assert frame == {"a": 1}


def test_memory_is_bounded_for_a_subscriber_that_never_reads():
    hub = FrameHub()
    sub = hub.subscribe()
    hub.send_clear()
    for i in range(2000):
        hub.send_frame({keys.PARTICLE_POSITIONS: positions(float(i), 100), f"key{i % 5}": i})
    pending = sub._pending
    assert pending is not None
    assert set(pending.frame) == {keys.FRAME_INDEX, keys.SIMULATION_COUNTER, keys.SERVER_TIMESTAMP,
                                  keys.PARTICLE_POSITIONS, *(f"key{i}" for i in range(5))}
    assert sub.take()[keys.PARTICLE_POSITIONS] == positions(1999.0, 100).tobytes()


def test_on_ready_fires_when_something_becomes_pending():
    hub = FrameHub()
    calls = []
    sub = hub.subscribe(on_ready=lambda: calls.append(1))
    hub.send_frame({"a": 1})
    hub.send_frame({"a": 2})
    assert len(calls) == 1  # still pending: no second wake-up needed
    sub.take()
    hub.send_frame({"a": 3})
    assert len(calls) == 2


def test_wait_blocks_until_a_frame_or_close():
    hub = FrameHub()
    sub = hub.subscribe()
    assert sub.wait(timeout=0.01) is None
    threading.Timer(0.05, hub.send_frame, args=({"a": 1},)).start()
    assert sub.wait(timeout=5)["a"] == 1
    threading.Timer(0.05, hub.close).start()
    assert sub.wait(timeout=5) is None and sub.closed


def test_closed_subscription_gets_nothing_more():
    hub = FrameHub()
    sub = hub.subscribe()
    sub.close()
    hub.send_frame({"a": 1})
    assert sub.take() is None and hub.subscriber_count == 0


def test_wait_for_readers_returns_once_each_idle_reader_has_handled_the_frame():
    hub = FrameHub()
    sub = hub.subscribe()
    sub.take(), sub.take()  # the first aggregate handled: idle
    handled = threading.Event()

    def read() -> None:
        assert sub.wait(timeout=5) is not None
        handled.set()
        sub.wait(timeout=0.5)  # back for more

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.05)  # the reader is waiting
    hub.send_frame({"a": 1})
    assert hub.wait_for_readers(5.0) is True
    assert handled.is_set()
    reader.join()


def test_only_the_last_awaited_reader_wakes_the_waiting_publisher(monkeypatch):
    hub = FrameHub()
    subs = [hub.subscribe() for _ in range(4)]
    for sub in subs:
        sub.take(), sub.take()  # idle
    wake_ups = []
    monkeypatch.setattr(hub._readers, "notify_all", lambda: wake_ups.append(1))
    hub.send_frame({"a": 1})
    for sub in subs:
        assert sub.take() is not None
        sub.handled()
    assert len(wake_ups) == 1  # one wake-up a frame, not one per client
    assert hub.wait_for_readers(0.05) is True


def test_wait_for_readers_gives_up_after_its_timeout_then_skips_that_reader_while_it_is_busy():
    hub = FrameHub()
    sub = hub.subscribe()
    sub.take(), sub.take()  # idle
    hub.send_frame({"a": 1})
    assert sub.take() is not None  # taken, and neither handled nor back for more (a stuck client)
    assert hub.wait_for_readers(0.05) is False  # waited, then given up
    started = time.monotonic()
    hub.send_frame({"a": 2})
    assert hub.wait_for_readers(5.0) is True  # still busy with the first frame: not waited for
    assert time.monotonic() - started < 1.0


def test_a_reader_that_handled_its_frame_is_waited_for_again_only_once_idle():
    hub = FrameHub()
    sub = hub.subscribe()
    sub.take(), sub.take()
    hub.send_frame({"a": 1})
    sub.take()
    sub.handled()  # sent: the publisher goes on
    assert hub.wait_for_readers(5.0) is True
    hub.send_frame({"a": 2})  # it has not come back for more (its socket is full, say): not waited for
    assert hub.wait_for_readers(5.0) is True
    assert sub.take() is not None and sub.take() is None  # idle again
    hub.send_frame({"a": 3})
    assert hub.wait_for_readers(0.05) is False


def test_wait_for_readers_returns_when_an_awaited_reader_closes():
    hub = FrameHub()
    sub = hub.subscribe()
    sub.take(), sub.take()
    hub.send_frame({"a": 1})
    threading.Timer(0.05, sub.close).start()
    assert hub.wait_for_readers(5.0) is True
