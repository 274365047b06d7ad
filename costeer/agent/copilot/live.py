"""The live co-pilot loop: a :class:`Copilot` fed the newest frame in its own thread, watched and commanded.

Shared by the in-process co-pilot (frames from the server's hub, changes straight into its
shared state) and the client co-pilot (frames and changes over NanoVer's WebSocket), which
only say where frames come from and where changes go::

    live = LiveCopilot(lambda frame: Copilot.from_frame(runner, frame, settings=settings),
                       next_frame=source, live_interactions=gate_view, write=apply_change,
                       frame_interval=lambda: 1 / 30, settings=settings)
    live.start(); live.set_mode("suggest"); live.close()

Rules that keep it safe beside people:

- it acts on the newest frame only: ``next_frame`` hands the latest merged frame, stale ones
  are never queued;
- a watchdog lets go when the co-pilot holds an interaction but no action came for
  ``stall_frames`` frame intervals (the policy fell behind or hangs, or frames stopped); the
  status's ``error`` says which;
- a policy that raises lets go (the :class:`Copilot` does) and turns the co-pilot off, with
  the ``error`` in its status, until a ``copilot/mode`` command turns it on again;
- a new episode (``frame.index`` 0, e.g. ``playback/reset``) resets the policy's history (the
  frame's index is handed on).

Its interaction carries the ``frame.index`` of the frame it acted on, so a recording (and
``bench/copilot_latency.py``) can tell how late each action came.

The :class:`Copilot` is not thread-safe, so every call to it holds ``_lock``. A command or
the watchdog that finds the lock held for long (the policy is busy or hung) does not wait:
it writes the outcome itself (the co-pilot's keys removed, the status updated) and queues
the call, which the worker makes, discarding what it was computing, when the policy returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.tasks.chemistry import ChemistryError

from .copilot import COPILOT_INTERACTION_KEY, Copilot
from .settings import CopilotChange, CopilotSettings, check_blend, check_mode

__all__ = ["FrameSource", "ChangeWriter", "LiveCopilot", "combine_changes", "initial_status"]

FrameSource = Callable[[float], "FrameDict | None"]
"""Waits up to the given seconds for a frame newer than the last one returned; returns the
whole merged frame (numpy arrays, topology included) or ``None`` when none came."""

ChangeWriter = Callable[[CopilotChange], None]
"""Puts a change into the shared state (called with ``_lock`` held, so it must not block)."""

COMMAND_WAIT_S = 0.1
"""How long a command waits for a busy policy before it acts without it."""
CLOSE_WAIT_S = 2.0

_log = logging.getLogger(__name__)


def combine_changes(*changes: CopilotChange) -> CopilotChange:
    """One change doing what ``changes`` do in order (a later update undoes an earlier removal)."""
    updates: dict[str, Any] = {}
    removals: list[str] = []
    for change in changes:
        for key in change.removals:
            updates.pop(key, None)
            if key not in removals:
                removals.append(key)
        for key, value in change.updates.items():
            updates[key] = value
            if key in removals:
                removals.remove(key)
    return CopilotChange(updates=updates, removals=removals)


def initial_status(settings: CopilotSettings, *, policy_name: str, task: str) -> dict[str, Any]:
    """The ``costeer.copilot`` map before the co-pilot has seen a frame (the same keys as ``Copilot.status``)."""
    return {"mode": settings.mode, "blend": settings.blend, "policy": policy_name, "task": task, "acting": False,
            "max_force": settings.max_force, "owner.id": keys.COPILOT_OWNER, "error": None}


class LiveCopilot:
    """Runs a co-pilot on live frames: one worker thread for the policy, one watchdog thread.

    ``make_copilot(frame)`` builds the :class:`Copilot` from the first full frame (it needs the
    system's chemistry). ``write`` receives every change, in order. ``frame_interval()`` is
    the current seconds between frames (the watchdog's unit). Commands (:meth:`set_mode`,
    :meth:`stop`) return the status map at once, from any thread.
    """

    def __init__(
        self,
        make_copilot: Callable[[FrameDict], Copilot],
        *,
        next_frame: FrameSource,
        live_interactions: Callable[[], Mapping[str, Interaction]],
        write: ChangeWriter,
        frame_interval: Callable[[], float],
        settings: CopilotSettings,
        status: Mapping[str, Any] | None = None,
    ) -> None:
        self._make_copilot = make_copilot
        self._next_frame = next_frame
        self._live_interactions = live_interactions
        self._write = write
        self._frame_interval = frame_interval
        self.settings = settings
        self._copilot: Copilot | None = None
        self._lock = threading.Lock()
        """Held for every call to the Copilot and every write (so writes keep their order)."""
        self._pending_lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        """Calls a command or the watchdog could not make while the policy was busy."""
        self._status: dict[str, Any] = dict(status or initial_status(settings, policy_name="", task=""))
        self._failed = False
        """The policy raised (or the co-pilot could not be built): no more actions until a mode command."""
        self._busy_since: float | None = None
        self._last_action = time.monotonic()
        self.actions = 0
        """Frames acted on so far."""
        self._closing = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name="costeer-copilot", daemon=True),
            threading.Thread(target=self._watch, name="costeer-copilot-watchdog", daemon=True),
        ]

    @property
    def status(self) -> dict[str, Any]:
        """The ``costeer.copilot`` map as last written."""
        return dict(self._status)

    def start(self) -> None:
        """Start acting on frames."""
        for thread in self._threads:
            thread.start()

    def set_mode(self, mode: str, blend: float | None = None) -> dict[str, Any]:
        """The ``copilot/mode`` command: switch mode (``ValueError`` names the modes); the status."""
        return self._call("set_mode", check_mode(mode), check_blend(blend))

    def stop(self) -> dict[str, Any]:
        """The ``copilot/stop`` command: remove the interaction and suggestion at once, mode off; the status."""
        return self._call("stop")

    def close(self) -> None:
        """Stop the threads and remove the co-pilot's keys (interaction, suggestion, status)."""
        if self._closing.is_set():
            return
        self._closing.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(CLOSE_WAIT_S)
                if thread.is_alive():
                    _log.warning("the co-pilot's %s thread is still busy (a hung policy?); leaving it behind", thread.name)
        locked = self._lock.acquire(timeout=COMMAND_WAIT_S)
        try:
            self._write(CopilotChange(removals=[COPILOT_INTERACTION_KEY, keys.STATE_COPILOT_SUGGESTION, keys.STATE_COPILOT]))
        except Exception:
            _log.exception("could not remove the co-pilot's keys")
        finally:
            if locked:
                self._lock.release()

    # --- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                frame = self._next_frame(self._interval())
            except Exception:
                _log.exception("the co-pilot's frame source failed; the co-pilot stops acting")
                return
            if frame is None or self._closing.is_set():
                continue
            with self._lock:
                self._busy_since = time.monotonic()
                try:
                    change = self._act(frame)
                except Exception as error:
                    change = self._fail(error)
                finally:
                    self._busy_since = None
                    self._last_action = time.monotonic()
                with self._pending_lock:
                    pending, self._pending = self._pending, []
                    if pending:
                        change = self._overruled(change, pending)
                    self._emit(change)

    def _overruled(self, change: CopilotChange, pending: list[tuple[str, tuple[Any, ...]]]) -> CopilotChange:
        """A command or the watchdog came while the policy worked: they win. Of the late action only
        its removals stand (the co-pilot believes them done); then the calls, then its true status."""
        late = CopilotChange(removals=list(change.removals))
        result = combine_changes(late, *(self._apply(name, args) for name, args in pending))
        if self._copilot is not None:
            result.updates[keys.STATE_COPILOT] = self._copilot.status()
        return result

    def _act(self, frame: FrameDict) -> CopilotChange:
        """One frame: build the co-pilot (first frame) or reset it (a new episode), then act."""
        start = CopilotChange()
        if self._copilot is None:
            if self._failed:
                return start
            self._copilot = self._make_copilot(frame)
            start = self._copilot.start()
            pending = self._take_pending()  # commands that came before the first frame
            if pending:
                start = combine_changes(start, *(self._apply(name, args) for name, args in pending))
        copilot = self._copilot
        if self._failed or keys.PARTICLE_POSITIONS not in frame:
            return start
        index = frame.get(keys.FRAME_INDEX)
        change = copilot.on_frame(frame[keys.PARTICLE_POSITIONS], self._live_interactions(), frame_index=index)
        self.actions += 1
        pull = change.updates.get(COPILOT_INTERACTION_KEY)
        if pull is not None and index is not None:  # which frame it acted on: for recordings and the latency bench
            change.updates[COPILOT_INTERACTION_KEY] = {**pull, keys.FRAME_INDEX: int(index)}
        if copilot.mode != "off" and copilot.error is not None:  # the policy failed on this frame: it let go
            _log.error("the co-pilot's policy failed (%s); it stays off until a copilot/mode command", copilot.error)
            self._failed = True
            change = combine_changes(change, copilot.set_mode("off"))
        return combine_changes(start, change)

    def _fail(self, error: Exception) -> CopilotChange:
        """The policy (or building the co-pilot) raised: let go, turn off, say why."""
        if isinstance(error, ChemistryError):  # the served system is not its task's: a mistake to name, not a bug
            _log.error("the co-pilot cannot act on this system (%s); it stays off until a copilot/mode command: "
                       "serve the system its policy was trained on", error)
        else:
            _log.exception("the co-pilot failed; it lets go and stays off until a copilot/mode command")
        self._failed = True
        reason = f"the co-pilot failed ({type(error).__name__}: {error}); send copilot/mode to turn it on again"
        if self._copilot is not None:
            try:
                return combine_changes(self._copilot.let_go(reason), self._copilot.set_mode("off"))
            except Exception:
                _log.exception("the co-pilot could not let go cleanly; removing its keys")
        status = {**self._status, "mode": "off", "acting": False, "error": reason}
        return CopilotChange(updates={keys.STATE_COPILOT: status},
                             removals=[COPILOT_INTERACTION_KEY, keys.STATE_COPILOT_SUGGESTION])

    # --- commands and the watchdog ---------------------------------------------------------

    def _call(self, name: str, *args: Any) -> dict[str, Any]:
        """Make a call on the co-pilot now if the policy is free soon, else write its outcome and queue it."""
        return self._intervene(name, args, wait=COMMAND_WAIT_S)

    def _intervene(self, name: str, args: tuple[Any, ...], *, wait: float) -> dict[str, Any]:
        if self._lock.acquire(timeout=wait):
            try:
                if self._copilot is None and name != "let_go":
                    with self._pending_lock:
                        self._pending.append((name, args))
                    if name == "set_mode":
                        self._failed = False
                    self._emit(self._predicted(name, args))
                else:
                    self._emit(self._apply(name, args))
                return dict(self._status)
            finally:
                self._lock.release()
        with self._pending_lock:  # the worker emits under this lock too: the outcomes keep their order
            self._pending.append((name, args))
            self._emit(self._predicted(name, args))
        return dict(self._status)

    def _apply(self, name: str, args: tuple[Any, ...]) -> CopilotChange:
        """Make one call on the co-pilot (with ``_lock`` held)."""
        copilot = self._copilot
        if copilot is None:
            return self._predicted(name, args)
        if name == "set_mode":
            self._failed = False
            return copilot.set_mode(*args)
        if name == "stop":
            return copilot.stop()
        return copilot.let_go(*args)

    def _predicted(self, name: str, args: tuple[Any, ...]) -> CopilotChange:
        """What a call will do, written without the co-pilot (busy, hung or not built yet)."""
        status = dict(self._status)
        removals = [COPILOT_INTERACTION_KEY, keys.STATE_COPILOT_SUGGESTION]
        if name == "set_mode":
            mode, blend = args
            status.update(mode=mode, blend=blend)
            if mode in ("apply", "assist"):
                removals.remove(COPILOT_INTERACTION_KEY)
            if mode == "suggest":
                removals.remove(keys.STATE_COPILOT_SUGGESTION)
        elif name == "stop":
            status.update(mode="off")
        else:
            status.update(error=args[0])
        if COPILOT_INTERACTION_KEY in removals:
            status["acting"] = False
        return CopilotChange(updates={keys.STATE_COPILOT: status}, removals=removals)

    def _watch(self) -> None:
        """Let go when the co-pilot holds an interaction and no action came for ``stall_frames`` intervals."""
        while not self._closing.wait(self._interval() / 2):
            if not self._status.get("acting"):
                continue
            limit = self.settings.stall_frames * self._interval()
            busy_since = self._busy_since
            now = time.monotonic()
            if busy_since is not None and now - busy_since > limit:
                reason = f"the policy fell behind (no action for {now - busy_since:.2f} s, {self.settings.stall_frames} frame intervals)"
            elif busy_since is None and now - self._last_action > limit:
                reason = f"frames stopped (none for {now - self._last_action:.2f} s)"
            else:
                continue
            _log.warning("the co-pilot lets go: %s", reason)
            self._intervene("let_go", (reason,), wait=0.0)

    # --- helpers ---------------------------------------------------------------------------

    def _emit(self, change: CopilotChange) -> None:
        if not change.updates and not change.removals:
            return
        status = change.updates.get(keys.STATE_COPILOT)
        if status is not None:
            self._status = dict(status)
        try:
            self._write(change)
        except Exception:
            _log.exception("the co-pilot could not write its change")

    def _take_pending(self) -> list[tuple[str, tuple[Any, ...]]]:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        return pending

    def _interval(self) -> float:
        try:
            interval = float(self._frame_interval())
        except Exception:
            interval = 1 / 30
        return min(max(interval, 1e-3), 5.0)
