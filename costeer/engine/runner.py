"""The simulation thread: plays, pauses, steps, resets and switches simulations, frames out.

    runner = SimulationRunner([sim_a, sim_b], hub, frame_rate=30.0)
    runner.start()            # loads and resets simulation 0, then plays
    runner.pause(); runner.step(); runner.play(); runner.load(1); runner.close()

Two ways to run, as in the issue:

- paced (default, NanoVer's behaviour): every ``1/frame_rate`` s, ``advance`` once
  (``steps_per_frame`` MD steps) and publish the frame it returns;
- free-running (``free_run=True``): step as fast as OpenMM goes, in chunks of
  ``steps_per_frame`` steps with the user forces refreshed after each chunk (the same
  physics as paced), and publish a frame only when ``1/frame_rate`` s have passed. This
  needs a simulation with ``run_chunk()`` and ``current_frame()`` (``FreeRunning``); others
  (recording playback) are paced whatever the setting.

Every control call is queued to the simulation thread and returns at once (``load`` waits
for the switch when called from another thread; ``request_load``/``request_next`` return a
Future of it instead, for callers that must not block). Any exception while running publishes a
frame with ``system.simulation.exception`` and pauses, as NanoVer does; ``reset`` then
``play`` go on.

Every frame passes a ``FrameGuard`` before it is published: one with non-finite numbers or
atoms beyond reach is a blow-up, and never reaches a client or a recording. With
``on_blowup="recover"`` a blow-up of a ``Recoverable`` simulation does not pause: it rolls
back, the live interactions are released and ``recovery_listeners`` get a ``Recovery``
(``BlowUpRecovery`` in ``costeer.engine.recovery``, which also stops a recovery loop).
Commands and interactions reach this thread through ``costeer.engine.control``; frames leave
it through ``costeer.engine.outlet`` (guard, publisher, exception frames).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Mapping, Sequence

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.core.simulation import FramePublisher, FreeRunning, Simulation, close_simulations

from .affinity import keep_thread_on
from .control import ControlQueue, LatestInteractions
from .frame_guard import SimulationBlowUpError
from .outlet import READERS_WAIT_SHARE, FrameOutlet
from .recovery import ON_BLOWUP_CHOICES, PULL_AFTERMATH_SECONDS, BlowUpRecovery, Recoverable, Recovery, RecoveryLoopError

__all__ = ["SimulationRunner", "FreeRunning", "LOAD_WAIT_SECONDS", "CLOSE_WAIT_SECONDS"]

_LOG = logging.getLogger(__name__)

LOAD_WAIT_SECONDS = 60.0
"""How long ``load``/``next`` wait for the switch before returning anyway."""
CLOSE_WAIT_SECONDS = 10.0
"""How long ``close`` waits for the simulation thread to finish what it is doing."""


class SimulationRunner:
    """Runs simulations on their own thread and publishes their frames.

    ``runner = SimulationRunner(simulations, publisher); runner.start(); ...; runner.close()``
    """

    def __init__(
        self,
        simulations: Sequence[Simulation],
        publisher: FramePublisher,
        *,
        frame_rate: float = 30.0,
        free_run: bool = False,
        on_simulation_changed: Callable[[int, str], None] | None = None,
        on_blowup: str = "pause",
    ) -> None:
        if not simulations:
            raise ValueError("a runner needs at least one simulation")
        if not frame_rate > 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        if on_blowup not in ON_BLOWUP_CHOICES:
            raise ValueError(f"on_blowup must be one of {', '.join(ON_BLOWUP_CHOICES)}, got {on_blowup!r}")
        self.simulations = list(simulations)
        self.publisher = publisher
        self.frame_rate = float(frame_rate)
        self.free_run = free_run
        self.on_blowup = on_blowup
        """``recover``: roll back and run on after a blow-up; ``pause``: NanoVer's way."""
        self.simulation_changed_listeners: list[Callable[[int, str], None]] = []
        """Called with (index, name) on the simulation thread after each load, before the new simulation's
        first frame is published (so a pull made on seeing that frame is not forgotten with the old ones)."""
        if on_simulation_changed is not None:
            self.simulation_changed_listeners.append(on_simulation_changed)
        self._out = FrameOutlet(publisher)
        self._blowups = BlowUpRecovery(self._out.guard)
        self.recovery_listeners: list[Callable[[Recovery], None]] = self._blowups.listeners
        """Called with each ``Recovery`` on the simulation thread, before it runs on."""

        self._interval = 1.0 / self.frame_rate
        self._control = ControlQueue()
        self._handlers: dict[str, Callable[[Any], None]] = {
            "stop": self._on_stop,
            "play": self._on_play,
            "pause": self._on_pause,
            "step": self._on_step,
            "reset": self._on_reset,
            "load": self._on_switch,
            "next": self._on_switch,
        }
        """What the simulation thread does with each queued command, by name."""
        self._interactions = LatestInteractions()
        self._index = 0
        self._paused = False
        self._stopped = False
        self._free_running = False
        self._recoverable = False
        self._thread: threading.Thread | None = None

    # ---- state, readable from any thread -------------------------------------------------

    @property
    def simulation_names(self) -> list[str]:
        """Names of the simulations, in ``playback/load`` index order."""
        return [simulation.name for simulation in self.simulations]

    @property
    def index(self) -> int:
        """Index of the current simulation."""
        return self._index

    @property
    def simulation(self) -> Simulation:
        """The current simulation."""
        return self.simulations[self._index]

    @property
    def frames_published(self) -> int:
        """Frames sent since start (exception frames and resets included)."""
        return self._out.frames_published

    @property
    def recoveries(self) -> int:
        """Blow-ups recovered from since start."""
        return self._blowups.count

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def particle_count(self) -> int | None:
        """Particles in the current simulation, when it knows (for validating interactions)."""
        return getattr(self.simulation, "particle_count", None)

    # ---- control, from any thread --------------------------------------------------------

    def start(self) -> None:
        """Start the simulation thread: load and reset the first simulation, then play."""
        if self._thread is not None:
            raise RuntimeError("this runner has already been started")
        self._control.request_switch("load", 0)
        self._thread = threading.Thread(target=self._run, name="costeer-simulation", daemon=True)
        self._thread.start()

    def close(self, *, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """Stop the simulation thread (before any queued command) and wait up to ``timeout`` s.

        The thread closes the simulations (those with a ``close`` method) as it stops;
        switches still queued fail. A thread stuck in a long step is left to finish it,
        with a warning.
        """
        self._control.put("stop", first=True)
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            _LOG.warning(
                "the simulation thread did not stop within %.0f s (stuck in %r); leaving it to stop on its own",
                timeout,
                self.simulation.name,
            )
        self._fail_switches()

    def play(self) -> None:
        self._control.put("play")

    def pause(self) -> None:
        self._control.put("pause")

    def step(self) -> None:
        """Pause, then advance exactly one frame (``steps_per_frame`` steps) and publish it."""
        self._control.put("step")

    def reset(self) -> None:
        """Back to the initial state: ``send_clear`` then a full frame. Pausing is unchanged."""
        self._control.put("reset")

    def load(self, index: int) -> None:
        """Switch to simulation ``index`` (modulo their number), reset it and play."""
        self._wait_for_switch(self.request_load(index))

    def next(self) -> None:
        """Switch to the next simulation, looping after the last."""
        self._wait_for_switch(self.request_next())

    def request_load(self, index: int) -> "Future[None]":
        """Queue ``load(index)`` without waiting; the Future completes once the switch is done."""
        return self._control.request_switch("load", int(index) % len(self.simulations))

    def request_next(self) -> "Future[None]":
        """Queue ``next()`` without waiting; the Future completes once the switch is done."""
        return self._control.request_switch("next", None)

    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        """Replace every live interaction at once; the current simulation gets them next chunk."""
        self._interactions.set(interactions)

    def _wait_for_switch(self, done: "Future[None]") -> None:
        running = self._thread is not None and self._thread.is_alive()
        if running and self._thread is not threading.current_thread():
            try:
                done.result(LOAD_WAIT_SECONDS)
            except TimeoutError:
                _LOG.warning("the switch of simulation is taking over %.0f s; not waiting for it", LOAD_WAIT_SECONDS)

    # ---- the simulation thread -----------------------------------------------------------

    def _run(self) -> None:
        seen_version = -1
        live_keys: set[str] = set()
        next_tick: float | None = None
        last_advance = 0.0
        next_publish = 0.0
        while True:
            if self._control:
                self._handle_commands()
                if self._stopped:
                    return
                continue
            if self._paused:
                self._control.wait(None)
                next_tick = None
                continue
            if self._interactions.version != seen_version:
                seen_version, keys_now = self._forward_interactions()
                if keys_now - live_keys:  # a grab started: show it in the next frame, not a tick later
                    next_publish = 0.0
                live_keys = keys_now
                continue
            simulation = self.simulations[self._index]
            if self._free_running:
                try:
                    simulation.run_chunk()
                    now = time.perf_counter()
                    if now >= next_publish:
                        # a fixed frame clock: chunk boundaries jitter frames but not their rate
                        next_publish = max(next_publish + self._interval, now)
                        self._publish_checked(simulation, simulation.current_frame())
                except Exception as error:
                    self._fail(error)
                continue
            now = time.perf_counter()
            if next_tick is None:
                next_tick = last_advance = now
            if now < next_tick:
                self._control.wait(next_tick - now)
                continue
            seconds, last_advance = now - last_advance, now
            next_tick = max(next_tick + self._interval, now)
            self._advance(simulation, seconds)

    def _handle_commands(self) -> None:
        while not self._stopped and (command := self._control.pop()) is not None:
            name, argument = command
            self._handlers[name](argument)

    def _on_stop(self, _: Any) -> None:
        self._stopped = True
        self._fail_switches()
        close_simulations(self.simulations)

    def _on_play(self, _: Any) -> None:
        self._paused = False

    def _on_pause(self, _: Any) -> None:
        self._paused = True

    def _on_step(self, _: Any) -> None:
        self._paused = True
        self._advance(self.simulations[self._index], self._interval)

    def _on_reset(self, _: Any) -> None:
        self._reset()

    def _on_switch(self, argument: "tuple[int | None, Future[None]]") -> None:
        """``load`` (with an index) or ``next`` (``None``): switch, then complete the Future."""
        index, done = argument
        self._switch((self._index + 1 if index is None else index) % len(self.simulations))
        if not done.done():
            done.set_result(None)

    def _fail_switches(self) -> None:
        """Fail the ``load``/``next`` requests still queued: the runner is stopping."""
        self._control.fail_switches("the simulation runner stopped before switching simulation")

    def _forward_interactions(self) -> tuple[int, set[str]]:
        """Hand the latest interactions to the simulation; their version and keys."""
        version, interactions = self._interactions.get()
        try:
            self.simulations[self._index].set_interactions(interactions)
        except Exception as error:
            self._report(error)
        return version, set(interactions)

    def _advance(self, simulation: Simulation, seconds: float) -> None:
        try:
            frame = simulation.advance(seconds)
            if not frame:
                return
            if frame.get(keys.FRAME_INDEX) == 0:  # the simulation started a new sequence (a playback looped)
                self._out.publisher.send_clear()
                frame = {key: value for key, value in frame.items() if key != keys.FRAME_INDEX}
            self._publish_checked(simulation, frame)
        except Exception as error:
            self._fail(error)

    def _reset(self) -> None:
        try:
            self._out.start_sequence(self.simulations[self._index].reset())
        except Exception as error:
            self._report(error)

    def _switch(self, index: int) -> None:
        """NanoVer's load: forget interactions, load and reset the simulation, play."""
        self._index = index
        simulation = self.simulations[index]
        self._free_running = self.free_run and isinstance(simulation, FreeRunning)
        self._recoverable = isinstance(simulation, Recoverable)  # once: Protocol checks are slow
        self._interactions.clear(aftermath=False)
        keep_thread_on(None)  # the platform trial times unpinned candidates on every core
        try:
            simulation.load()
            simulation.set_interactions({})
        except Exception as error:
            _LOG.exception("could not load simulation %r", simulation.name)
            self._out.publisher.send_clear()
            self._report(error)
            loaded = False
        else:
            loaded = True
            keep_thread_on(getattr(simulation, "core", None))  # this thread steps it: on its core, if it has one
            fills_cores = getattr(simulation, "fills_cores", False)  # known once loaded (the platform trial)
            self._out.readers_wait = READERS_WAIT_SHARE * self._interval if fills_cores else 0.0
        # Before the new simulation's first frame: what they forget (the previous simulation's pulls)
        # must not include a pull a client makes on seeing that frame.
        for listener in list(self.simulation_changed_listeners):
            try:
                listener(index, simulation.name)
            except Exception:
                _LOG.exception("a simulation-changed listener failed for %r", simulation.name)
        if loaded:
            self._paused = False
            self._reset()

    def _publish_checked(self, simulation: Simulation, frame: FrameDict) -> None:
        """Publish a frame of the running simulation if the guard passes it, then keep its state."""
        self._out.publish_checked(frame)
        if self._recoverable:
            simulation.remember_good_state()  # type: ignore[attr-defined]
        self._out.let_readers_finish()

    def _fail(self, error: Exception) -> None:
        """Recover from a blow-up when asked to and able to; otherwise report and pause."""
        simulation = self.simulations[self._index]
        if self.on_blowup == "recover" and self._recoverable and isinstance(error, SimulationBlowUpError):
            try:
                self._blowups.recover(
                    simulation,  # type: ignore[arg-type]
                    error,
                    name=simulation.name,
                    pulled=self._interactions.pulled_within(PULL_AFTERMATH_SECONDS),
                    release=self._interactions.clear,
                    publish=self._out.publish,
                    last_time=self._out.last_time,
                )
                return
            except RecoveryLoopError as loop:
                _LOG.error("simulation %r blew up (%s) with nobody pulling, again", simulation.name, error)
                error = loop
            except Exception as failure:  # NothingToRollBackTo, or the rollback itself failed
                _LOG.error("could not recover simulation %r from %s", simulation.name, error)
                error = failure
        self._report(error)

    def _report(self, error: Exception) -> None:
        """NanoVer's exception frame, then pause: the simulation thread never dies."""
        self._paused = True
        self._out.publish_exception(error, simulation_name=self.simulations[self._index].name)

