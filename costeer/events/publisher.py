"""``ServerEvents``: a running ``CosteerServer``'s events, published over MQTT from a thread of its own.

Like the recorder, it subscribes to the server's shared state and frame hub (and listens for
clients and the recording); those callbacks only note what arrived and wake its thread,
so neither the simulation nor the WebSocket loop ever waits for it. Its thread turns what
arrived, in arrival order, into events (:class:`StateEvents`, :class:`TaskWatch`, a metrics
message each second) and hands them as JSON to an :class:`MqttLink`, whose bounded queue
drops the oldest when the broker is away. Topics: ``costeer/<server name>/<kind>``; every
payload matches ``schema.json`` (``SCHEMA_PATH``) in this package.

    events = ServerEvents(server, broker=("127.0.0.1", 1883), task=get_task("nanotube"))
    events.start()      # before server.start(), to see the recording start
    server.start(); ...; server.close()
    events.close()      # after server.close(), to publish the last events
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from costeer.core.frame import unpack_frame

from .mqtt import DEFAULT_CAPACITY, MqttLink
from .state_events import Event, StateEvents, plain
from .task_events import TaskWatch

if TYPE_CHECKING:
    from costeer.server.app import CosteerServer
    from costeer.tasks import Task

__all__ = ["ServerEvents", "SCHEMA_PATH", "EVENT_KINDS", "TOPIC_ROOT", "METRICS_INTERVAL"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")
"""The JSON Schema every published payload matches (one definition per kind)."""
EVENT_KINDS = (
    "client/connected", "client/left",
    "interaction/started", "interaction/updated", "interaction/stopped",
    "copilot/mode", "copilot/suggestion",
    "task/progress", "task/success",
    "recording/started", "recording/finished",
    "metrics",
)
TOPIC_ROOT = "costeer"
METRICS_INTERVAL = 1.0
"""Seconds between metrics messages."""

_log = logging.getLogger(__name__)


class ServerEvents:
    """Publishes a server's events over MQTT (see the module docstring).

        events = ServerEvents(server, broker=("127.0.0.1", 1883)); events.start(); ...; events.close()
    """

    def __init__(
        self,
        server: "CosteerServer",
        *,
        broker: tuple[str, int],
        task: "Task | None" = None,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        name = server.name
        if not name or any(character in name for character in "/+#\0"):
            raise ValueError(f"server name {name!r} cannot be an MQTT topic level: choose a --name without /, + or #")
        self.server = server
        self.topic_prefix = f"{TOPIC_ROOT}/{name}/"
        self.link = MqttLink(*broker, capacity=capacity, client_id=f"costeer-{name}-{id(self):x}")
        """The connection to the broker (``dropped``, ``sent``, ``connected``)."""
        self._clock = clock
        self._state_events = StateEvents(writer_of=lambda key: server.state.last_writers().get(key))
        self._task = None if task is None else TaskWatch(task)
        self._arrivals: deque[Any] = deque()
        """``"state"``, ``"frame"`` or an ``Event`` from a listener, in the order they arrived."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.failures = 0
        """Arrivals that could not be made into events (the first is logged with its traceback)."""

    def start(self) -> None:
        """Connect (in the background), subscribe, listen and start the events thread."""
        if self._thread is not None:
            raise RuntimeError("these server events were already started")
        self.link.start()
        self._state = self.server.state.subscribe(on_ready=lambda: self._arrived("state"))
        self._frames = None if self._task is None else self.server.hub.subscribe(on_ready=lambda: self._arrived("frame"))
        self.server.connection_listeners.append(self._on_connection)
        self.server.recording_listeners.append(self._on_recording)
        self._thread = threading.Thread(target=self._run, name="costeer-events", daemon=True)
        self._thread.start()

    def close(self, *, flush_timeout: float = 2.0) -> None:
        """Publish what arrived, give the broker up to ``flush_timeout`` s for it, and stop; idempotent."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        self._thread.join()
        for listeners, listener in ((self.server.connection_listeners, self._on_connection),
                                    (self.server.recording_listeners, self._on_recording)):
            if listener in listeners:
                listeners.remove(listener)
        self.link.close(flush_timeout=flush_timeout)

    # ---- callbacks: any thread, never block -------------------------------------------------

    def _arrived(self, what: Any) -> None:
        self._arrivals.append(what)
        self._wake.set()

    def _on_connection(self, client: str, address: str | None, connected: bool) -> None:
        clients = self.server.client_count  # already counting it in, or out
        if connected:
            self._arrived(("client/connected", {"client": client, "address": address, "clients": clients}))
        else:
            self._arrived(("client/left", {"client": client, "clients": clients}))

    def _on_recording(self, event: str, details: Mapping[str, Any]) -> None:
        self._arrived((f"recording/{event}", plain(dict(details))))

    # ---- the events thread ------------------------------------------------------------------

    def _run(self) -> None:
        next_metrics = time.monotonic() + METRICS_INTERVAL
        counts = self._counts()
        while True:
            now = time.monotonic()
            wake_at = min(t for t in (next_metrics, self._state_events.next_due()) if t is not None)
            self._wake.wait(max(0.0, wake_at - now))
            self._wake.clear()
            stopping = self._stop.is_set()
            while self._arrivals:
                self._guarded(self._handle, self._arrivals.popleft(), time.monotonic())
            for event in self._state_events.due(now=time.monotonic()):
                self._guarded(self._publish, event)
            now = time.monotonic()
            if now >= next_metrics:
                counts = self._guarded(self._metrics, counts) or self._counts()
                next_metrics = max(next_metrics + METRICS_INTERVAL, now)
            if stopping:
                break
        self._state.close()
        if self._frames is not None:
            self._frames.close()

    def _guarded(self, step: Callable[..., Any], *args: Any) -> Any:
        """``step(*args)``; a failure is logged (with its traceback the first time) and the events go on."""
        try:
            return step(*args)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                _log.exception("an event could not be made; going on (further failures are counted, not logged)")
            return None

    def _handle(self, what: Any, now: float) -> None:
        """One arrival: a pending state change, a pending frame, or a listener's event."""
        if what == "state":
            change = self._state.take()
            if change is not None:
                for event in self._state_events.change(change["updates"], change["removals"], now=now):
                    self._publish(event)
        elif what == "frame":
            packed = None if self._frames is None else self._frames.take()
            if packed is not None and self._task is not None:
                for event in self._task.frame(unpack_frame(packed), now=now):
                    self._publish(event)
                self._frames.handled()
        else:
            self._publish(what)

    def _counts(self) -> tuple[float, int, int | None]:
        runner = self.server.runner
        try:
            steps = getattr(runner.simulation, "steps_taken", None)
        except Exception:  # no simulation loaded
            steps = None
        return time.monotonic(), runner.frames_published, steps if isinstance(steps, int) else None

    def _metrics(self, before: tuple[float, int, int | None]) -> tuple[float, int, int | None]:
        now = self._counts()
        seconds = max(now[0] - before[0], 1e-6)
        steps = None if now[2] is None or before[2] is None or now[2] < before[2] else (now[2] - before[2]) / seconds
        self._publish(("metrics", {
            "steps_per_s": steps,
            "frames_per_s": max(0, now[1] - before[1]) / seconds,
            "clients": self.server.client_count,
            "interactions": self._state_events.live_interactions,
            "dropped": self.link.dropped,
        }))
        return now

    def _publish(self, event: Event) -> None:
        kind, payload = event
        message = {"kind": kind, "server": self.server.name, "time": self._clock(), "seq": self._seq, **payload}
        self._seq += 1
        self.link.send(self.topic_prefix + kind, json.dumps(message, allow_nan=False).encode())
