"""``CosteerServer``: a NanoVer-compatible server around a simulation runner.

Wires the frame hub, shared state, commands, interaction gate, the transports (WebSocket
first, then any others given as ``transports``: see ``transport``), optional ESSD discovery
(announcing every transport's services) and optional recording together, and registers NanoVer's
commands (``playback/*``, ``multiuser/radially-orient-origins``, ``commands/list``).
After a blow-up (``on_blowup="recover"``, the default) the runner rolls back to a recent good
state, and the server releases the interactions that were live (removed from the state,
their writers refused further writes to them) and writes ``costeer.recovery``.

    with CosteerServer([simulation], port=0) as server:
        print(f"ws://127.0.0.1:{server.port}")
        server.serve_forever()   # until Ctrl-C / SIGTERM
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from costeer.core import keys
from costeer.core.simulation import Simulation
from costeer.engine.recovery import Recovery
from costeer.engine.runner import SimulationRunner

from .access import AccessPolicy
from .commands import CommandError, CommandRegistry
from .discovery import DiscoveryBroadcaster
from .hub import FrameHub
from .interactions import InteractionGate
from .multiuser import SceneShim, radial_origins
from .session import ClientLedger
from .state import SharedState
from .tls import TlsCredentials
from .transport import ConnectionListener, SessionParts, Transport, TransportFactory
from .web import WebSettings
from .websocket.server import DEFAULT_PORT, WebSocketServer

__all__ = ["CosteerServer", "CLEARED_ON_SIMULATION_CHANGE", "COMMAND_THREADS"]

CLEARED_ON_SIMULATION_CHANGE = (keys.INTERACTION_PREFIX, "selection.")
"""State prefixes removed when another simulation is loaded, as NanoVer does."""

COMMAND_THREADS = 8
"""Threads running commands for all clients of every transport together; each client's
commands run one at a time, in order, on them (its own ``SerialExecutor`` lane), so one
client's slow command holds up only that client until this many clients are each running one."""

_log = logging.getLogger(__name__)


class CosteerServer:
    """Serves simulations to NanoVer clients; records the session when asked.

        server = CosteerServer(simulations, address="0.0.0.0", discovery=True, record=path)
        server.start(); server.serve_forever()
    """

    def __init__(
        self,
        simulations: Sequence[Simulation],
        *,
        address: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        frame_rate: float = 30.0,
        free_run: bool = False,
        discovery: bool = False,
        name: str = "costeer",
        record: Path | None = None,
        session_info: Mapping[str, Any] | None = None,
        on_blowup: str = "recover",
        transports: Sequence[TransportFactory] = (),
        access: AccessPolicy | None = None,
        tls: TlsCredentials | None = None,
        web: WebSettings | None = WebSettings(),
    ) -> None:
        self.name = name
        self.address = address
        self.discovery = discovery
        self.record = None if record is None else Path(record)
        self.hub = FrameHub()
        """Where the runner publishes frames; clients and the recorder subscribe."""
        self.state = SharedState()
        """The shared key/value state every client sees."""
        self.commands = CommandRegistry()
        """Commands by name, the server's and those clients register."""
        self.runner = SimulationRunner(
            simulations,
            self.hub,
            frame_rate=frame_rate,
            free_run=free_run,
            on_simulation_changed=self._on_simulation_changed,
            on_blowup=on_blowup,
        )
        self.runner.recovery_listeners.append(self._on_recovery)
        self.interactions = InteractionGate(
            particle_count=lambda: self.runner.particle_count, on_change=self.runner.set_interactions
        )
        """Checks ``interaction.*`` entries before they reach the state and the runner."""
        self.interactions.install(self.state)
        SceneShim(self.state).install()
        self._register_commands()
        initial: dict[str, Any] = {keys.STATE_VELOCITY_RESET_AVAILABLE: False}
        if session_info is not None:
            initial[keys.STATE_SESSION] = dict(session_info)
        self.state.update(initial)
        self._command_pool = ThreadPoolExecutor(max_workers=COMMAND_THREADS, thread_name_prefix="costeer-commands")
        self.connection_listeners: list[ConnectionListener] = []
        """Called with (client id, address, connected) when a client of any transport connects
        and after it left (its keys removed)."""
        self.parts = SessionParts(
            hub=self.hub,
            state=self.state,
            commands=self.commands,
            interactions=self.interactions,
            command_executor=self._command_pool,
            connection_listeners=self.connection_listeners,
            address=address,
            clients=ClientLedger(self.state),
            access=access if access is not None else AccessPolicy(),
            tls=tls,
        )
        """What every transport serves, under one access policy (``access``) and TLS (``tls``)."""
        self._websocket = WebSocketServer(self.parts, port=port)
        self.transports: list[Transport] = [self._websocket]
        """The WebSocket transport first, then those built from ``transports``, in order (then ``web``'s page port)."""
        self.transports += [factory(self.parts) for factory in transports]
        self._serve_web(self._websocket, web)
        self._serves_page = web is not None
        names = [transport.name for transport in self.transports]
        if len(set(names)) != len(names):
            raise ValueError(f"two transports share a name ({', '.join(names)}): give each its own")
        self.companions: list[tuple[str, Callable[[], None]]] = []
        """(name, close) of what runs beside the server and must stop before it (a co-pilot);
        closed first, the last added first."""
        self.recording_listeners: list[Callable[[str, Mapping[str, Any]], None]] = []
        """Called with ("started", {"path"}) once recording, and ("finished", {"path", "frames",
        "states", "error"}) once the file is complete (or stopped by an error)."""
        self._discovery: DiscoveryBroadcaster | None = None
        self._recorder: Any = None
        self._recording_lock = threading.Lock()
        self._recording_told_finished = False
        self._started = False
        self._closed = False

    def _serve_web(self, websocket: WebSocketServer, web: WebSettings | None) -> None:
        """The page and the origin check on the WebSocket port; the ``--web-port`` server, if asked for."""
        if web is None:
            return
        pages = web.page_server(
            address=self.address, websocket_port=lambda: websocket.port, access=self.parts.access, tls=self.parts.tls
        )
        websocket.request_hooks += web.hooks(
            websocket_port=lambda: websocket.port,
            page_ports=lambda: [] if pages is None or pages.port is None else [pages.port],
        )
        if pages is not None:
            self.transports.append(pages)

    @property
    def port(self) -> int | None:
        """The WebSocket port actually listened on (after ``start``)."""
        return self.transports[0].port

    @property
    def url(self) -> str:
        """The WebSocket URL (``ws://`` or, over TLS, ``wss://``) on the listening address."""
        return f"{self._websocket.scheme}://{self.address}:{self.port}"

    @property
    def page_scheme(self) -> str:
        """How a browser opens the page on the WebSocket port: ``https`` over TLS, else ``http``."""
        return "http" if self.parts.tls is None else "https"

    @property
    def client_count(self) -> int:
        """Connected clients, over every transport."""
        return sum(transport.client_count for transport in self.transports)

    @property
    def discovery_services(self) -> dict[str, int]:
        """What discovery announces: every transport's services (after ``start``), and over TLS the
        page as ``https`` (NanoVer's name for its page): on ``--web-port`` if given, else the WebSocket's port."""
        services: dict[str, int] = {}
        for transport in self.transports:
            services.update(transport.discovery_services)
        if self._serves_page and self.parts.tls is not None and self.port is not None:
            services.setdefault("https", self.port)
        return services

    def start(self) -> None:
        """Listen, start recording (if asked), start the simulation, announce (if asked)."""
        if self._started:
            raise RuntimeError("this server has already been started")
        self._started = True
        try:
            for transport in self.transports:
                transport.start()
            if self.record is not None:
                from costeer.recording.recorder import SessionRecorder

                self._recorder = SessionRecorder(self.record, frames=self.hub, state=self.state,
                                                 on_stopped=self._tell_recording_finished)
                self._recorder.start()
                self._tell_recording("started", {"path": str(self.record)})
            self.runner.start()
            if self.discovery:
                self._discovery = DiscoveryBroadcaster(name=self.name, services=self.discovery_services, address=self.address)
                self._discovery.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Disconnect clients, stop the simulation, finish the recording; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        steps: list[tuple[str, Callable[[], None]]] = list(reversed(self.companions))
        if self._discovery is not None:
            steps.append(("discovery", self._discovery.close))
        steps += [(f"{transport.name} transport", transport.close) for transport in self.transports]
        steps.append(("command pool", lambda: self._command_pool.shutdown(wait=False, cancel_futures=True)))
        if self._started:
            steps.append(("simulation runner", self.runner.close))
        if self._recorder is not None:
            steps.append(("recorder", self._finish_recording))
        steps += [("frame hub", self.hub.close), ("shared state", self.state.close)]
        failure: Exception | None = None
        for what, close in steps:  # one failure must not leave the rest (the recording) unfinished
            try:
                close()
            except Exception as error:
                _log.error("closing the %s failed; closing the rest anyway", what)
                failure = failure or error
        if failure is not None:
            raise failure

    def _finish_recording(self) -> None:
        self._recorder.close()
        self._tell_recording_finished()

    def _tell_recording_finished(self) -> None:
        """Tell the listeners, once, that the recording ended: closed, or stopped early by an error
        (a full disk: then at once, from the recording thread, while the session goes on)."""
        with self._recording_lock:
            if self._recording_told_finished:
                return
            self._recording_told_finished = True
        recorder = self._recorder
        error = recorder.error
        self._tell_recording("finished", {
            "path": str(recorder.path),
            "frames": recorder.frames_recorded,
            "states": recorder.states_recorded,
            "error": None if error is None else f"{type(error).__name__}: {error}",
        })

    def _tell_recording(self, event: str, details: Mapping[str, Any]) -> None:
        for listener in list(self.recording_listeners):
            try:
                listener(event, details)
            except Exception:
                _log.exception("a recording listener failed")

    def serve_forever(self) -> None:
        """Block until SIGINT or SIGTERM (main thread only), then close cleanly."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()

    def _register_commands(self) -> None:
        runner = self.runner
        register = self.commands.register
        register(keys.PLAY_COMMAND, runner.play)
        register(keys.PAUSE_COMMAND, runner.pause)
        register(keys.STEP_COMMAND, runner.step)
        register(keys.RESET_COMMAND, runner.reset)
        register(keys.LIST_COMMAND, self._list_simulations)
        register(keys.LOAD_COMMAND, self._load)
        register(keys.NEXT_COMMAND, runner.request_next)
        register(keys.RADIALLY_ORIENT_COMMAND, self._radially_orient)

    def _list_simulations(self) -> dict[str, list[str]]:
        return {"simulations": self.runner.simulation_names}

    def _load(self, index: int, clear_state: bool = True) -> "Future[None]":
        """NanoVer's ``playback/load`` (``clear_state`` is accepted; state is always cleared).

        Returns once the switch is queued, so the command thread is free for other
        clients' commands; the reply goes out when the switch is done.
        """
        if isinstance(index, bool) or not isinstance(index, (int, float)):
            raise CommandError(f"index must be a whole number, got {index!r}")
        return self.runner.request_load(int(index))

    def _radially_orient(self, radius: float = 1.0) -> None:
        self.state.update(radial_origins(self.state.snapshot(), radius=radius))

    def _on_simulation_changed(self, index: int, name: str) -> None:
        """Forget interactions and selections of the previous simulation; announce the new one."""
        content = self.state.snapshot()
        stale = [key for key in content if key.startswith(CLEARED_ON_SIMULATION_CHANGE)]
        self.state.update({}, stale)
        self.interactions.clear()
        self.state.update({keys.STATE_SIMULATION_NAME: name, keys.STATE_SIMULATION_INDEX: index})
        _log.info("switched to simulation [%d] %r", index, name)

    def _on_recovery(self, recovery: Recovery) -> None:
        """Tell everyone (and the recording): release the pulls, write ``costeer.recovery``."""
        writers = self.interactions.release(recovery.released)
        notice = {
            "count": recovery.count,
            "simulation": recovery.simulation,
            "simulation_time": recovery.simulation_time,
            "lost_time": recovery.lost_time,
            "state_age": recovery.state_age,
            "seconds": recovery.seconds,
            "message": recovery.message,
            "released": [
                {"key": key, "owner.id": owner, "client": writers.get(key)}
                for key, owner in sorted(recovery.released.items())
            ],
        }
        self.state.update({keys.STATE_RECOVERY: notice}, list(recovery.released))

    def __enter__(self) -> "CosteerServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
