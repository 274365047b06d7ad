"""Record a running server from inside its process: frames and shared state, in a thread.

The recorder subscribes to the server's frame hub and shared state like a client would,
and a thread of its own writes whatever is pending to a :class:`RecordingWriter`. The
simulation never waits for the disk: when the recorder falls behind, the hub merges the
frames it missed into one (every frame is recorded under normal load).

Messages are written in the order they arrived: each subscription's ``on_ready`` (called when
it goes from nothing pending to something pending) queues its kind, and the thread writes in
that queue's order. A state change that arrived before a frame is therefore recorded before
it, and a reader pairs each frame with the interactions live at that moment. (When the
recorder falls behind, a merged item keeps the place of its first part.)

    from costeer.server.hub import FrameHub; from costeer.server.state import SharedState
    with SessionRecorder("session.nanover.zip", frames=FrameHub(), state=SharedState()) as recorder:
        ...                                     # what the hub and the state publish is recorded
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable, Protocol

from costeer.core.message import FRAME_MESSAGE_ENCODING, encode_frame_message

from .format import message_metadata
from .writer import DEFAULT_FLUSH_INTERVAL, RecordingWriter

__all__ = ["SessionRecorder", "Subscription", "FrameSubscription", "EncodedFrame", "Subscribable"]

_log = logging.getLogger(__name__)


class Subscription(Protocol):
    """What the shared state hands a subscriber."""

    def take(self) -> dict[str, Any] | None:
        """Everything pending since the last take (merged), or ``None``; never blocks."""

    def close(self) -> None:
        """Stop receiving."""


class EncodedFrame(Protocol):
    """A packed frame with its encodings cached once for all (the hub's ``SharedFrame``)."""

    frame: dict[str, Any]

    def encoding(self, protocol: str, encode: Callable[[dict[str, Any]], Any]) -> Any:
        """``encode(frame)``, computed once per ``protocol`` and shared with every other user."""


class FrameSubscription(Protocol):
    """What a frame hub hands a subscriber."""

    def take_packed(self) -> EncodedFrame | None:
        """The merged frame pending since the last take, or ``None``; never blocks."""

    def handled(self) -> None:
        """Done with the frame taken (written): a publisher waiting for its readers goes on."""

    def close(self) -> None:
        """Stop receiving."""


class Subscribable(Protocol):
    """A frame hub or shared state: ``subscribe(on_ready=...)`` returns a subscription."""

    def subscribe(self, *, on_ready: Callable[[], None] | None = None) -> Any:
        """Subscribe; ``on_ready`` is called (from any thread) when something is pending."""


class SessionRecorder:
    """Records a server's frames and shared state to a ``.nanover.zip`` from its own thread.

        recorder = SessionRecorder("session.nanover.zip", frames=server.hub, state=server.state)  # a CosteerServer's
        recorder.start()
        ...
        recorder.close()   # writes the index; the file is complete

    Frames are stored as ``{"frame": packed}`` messages and state changes as
    ``{"state": {"updates", "removals"}}`` messages, timestamped in microseconds since
    ``start`` (NanoVer's convention). A write error stops the recording (logged, kept in
    :attr:`error`) but never the server.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        frames: Subscribable,
        state: Subscribable,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_stopped: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._on_stopped = on_stopped
        """Called (in the recording thread) when an error ends the recording before ``close``."""
        self._frames = frames
        self._state = state
        self._flush_interval = flush_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: RecordingWriter | None = None
        self._subscriptions: list[Subscription] = []
        self._arrivals: deque[str] = deque()
        """``"frame"`` / ``"state"`` in the order the subscriptions became ready (appended from any thread)."""
        self.error: BaseException | None = None
        """The exception that stopped the recording early, if any."""

    @property
    def frames_recorded(self) -> int:
        return 0 if self._writer is None else self._writer.frames_written

    @property
    def states_recorded(self) -> int:
        return 0 if self._writer is None else self._writer.states_written

    def start(self) -> None:
        """Open the file, subscribe and start the recording thread."""
        if self._thread is not None:
            raise RuntimeError(f"the recording to {self.path} was already started")
        self._writer = RecordingWriter(self.path, flush_interval=self._flush_interval)
        # the state first: its whole current content is what the first frame happened in
        self._state_subscription = self._state.subscribe(on_ready=lambda: self._arrived("state"))
        self._frame_subscription = self._frames.subscribe(on_ready=lambda: self._arrived("frame"))
        self._subscriptions = [self._frame_subscription, self._state_subscription]
        self._thread = threading.Thread(target=self._run, name="costeer-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Record what is still pending, finish the file and stop; idempotent."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        assert self._writer is not None
        try:
            while not self._stop.is_set():
                self._wake.wait(self._flush_interval)
                self._wake.clear()
                self._drain(self._writer)
                self._writer.flush_if_due()
            self._drain(self._writer, last=True)
        except OSError as error:  # a full disk, a lost drive: no bug, and it must not take the server down
            self.error = error
            _log.error("recording to %s stopped: %s; the session goes on unrecorded; what reached the disk is "
                       "kept: make room, then run `costeer recording repair %s`", self.path, error, self.path)
        except Exception as error:
            self.error = error
            _log.exception("recording to %s stopped", self.path)
        finally:
            for subscription in self._subscriptions:
                subscription.close()
            self._finish(self._writer)
            if self.error is not None and self._on_stopped is not None:
                self._on_stopped()

    def _finish(self, writer: RecordingWriter) -> None:
        """Finish the file; after a disk error, only let it go (repair recovers it)."""
        if isinstance(self.error, OSError):
            writer.abandon()
            return
        try:
            writer.close()
        except OSError as error:
            self.error = error
            writer.abandon()
            _log.error("could not finish the recording %s (%s): make room, then run `costeer recording repair %s`",
                       self.path, error, self.path)
        except Exception:
            writer.abandon()
            _log.exception("could not finish the recording %s: run `costeer recording repair %s`", self.path, self.path)

    def _arrived(self, kind: str) -> None:
        self._arrivals.append(kind)
        self._wake.set()

    def _drain(self, writer: RecordingWriter, *, last: bool = False) -> None:
        """Write what is pending in arrival order (one queued kind per pending item).

        ``last``: also what is pending but not queued yet (its ``on_ready`` still running), at close.
        """
        while self._arrivals:
            self._write_pending(writer, self._arrivals.popleft())
        if last:
            self._write_pending(writer, "frame")
            self._write_pending(writer, "state")

    def _write_pending(self, writer: RecordingWriter, kind: str) -> None:
        if kind == "frame":
            packed = self._frame_subscription.take_packed()
            if packed is not None:  # the bytes the clients get: not encoded a second time
                data = packed.encoding(FRAME_MESSAGE_ENCODING, encode_frame_message)
                writer.write_raw(data, message_metadata({"frame": packed.frame}, writer.elapsed_us()))
                self._frame_subscription.handled()
            return
        change = self._state_subscription.take()
        if change is not None:
            writer.write({"state": {"updates": change.get("updates", {}), "removals": list(change.get("removals", []))}})

    def __enter__(self) -> "SessionRecorder":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
