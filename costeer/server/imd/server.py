"""The IMD transport: serves the session's frames to VMD (IMD v2) and MDAnalysis (v3) over TCP.

One asyncio loop in its own thread; per client a receive loop (control messages, MDCOMM
forces: ``ImdClientSession``) and a send loop that wakes when the frame hub has a frame
and sends the latest merged one at the client's transmission rate. Each frame is encoded
once per IMD version for all clients (``frame_packets``, cached on the shared frame);
each client only joins the packets it was promised. A client that stops reading holds
one pending frame and is disconnected once a send has waited ``send_timeout`` seconds,
so the simulation and the others never wait for it. Bad input (an unknown message type
or version, a truncated header, forces on atoms that do not exist) is logged in one line
and closes that connection only.

    with ImdServer(parts, port=0, version=3) as imd:
        universe = MDAnalysis.Universe("topology.pdb", f"imd://127.0.0.1:{imd.port}")

``imd_transport(port=8888)`` is the factory ``CosteerServer(transports=[...])`` takes.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import logging
import socket
from typing import Any

from costeer.core import keys

from ..loop_thread import LoopThread
from ..transport import SessionParts, Transport, TransportFactory
from .codec import ClientReader, ImdProtocolError, SessionFlags, handshake, session_info
from .frames import FrameAssembler, Packets, frame_packets, offered_flags, particle_count_of
from .session import ImdClientSession

__all__ = [
    "ImdServer",
    "imd_transport",
    "DEFAULT_IMD_PORT",
    "FIRST_FRAME_SECONDS",
    "GO_SECONDS",
    "SEND_TIMEOUT_SECONDS",
    "MAX_IMD_CLIENTS",
    "EVERYTHING",
]

DEFAULT_IMD_PORT = 8888
"""The IMD port GROMACS, NAMD and imdclient's examples use."""
FIRST_FRAME_SECONDS = 3.0
"""How long a new client waits for the simulation's first frame (imdclient gives up after 5 s)."""
GO_SECONDS = 5.0
"""How long a client may take to answer the handshake with GO before it is dropped."""
SEND_TIMEOUT_SECONDS = 10.0
"""A client whose socket takes no more data for this long is disconnected."""
MAX_IMD_CLIENTS = 32
EVERYTHING = SessionFlags(time=True, energies=True, box=True, velocities=True, forces=True)
"""Every v3 packet: each client gets those the served frames hold (velocities and forces only
when the simulation sends them: ``costeer serve --include-velocities/--include-forces``)."""
_READ_BYTES = 1 << 16
_ids = itertools.count(1)
"""IMD client numbers, shared by every IMD transport of the process (v2 and v3 ports), so ids are unique."""

_log = logging.getLogger(__name__)


class ImdServer:
    """One IMD port: every client gets the same IMD ``version`` (VMD needs 2, MDAnalysis 3).

    ``flags``: what v3 frames hold, as asked; a packet the served frames lack (velocities
    when the simulation sends none) is left out of the session info.
    """

    name: str

    def __init__(
        self,
        parts: SessionParts,
        *,
        port: int = DEFAULT_IMD_PORT,
        version: int = 3,
        flags: SessionFlags = EVERYTHING,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        handshake(version)  # refuses an unknown version now
        self.name = "imd" if version == 3 else f"imd{version}"
        """``imd`` (v3) or ``imd2``: distinct, so one server may serve both; client ids are ``imd-<n>`` on both."""
        self.parts = parts
        self.version = version
        self.flags = flags
        self.send_timeout = send_timeout
        self._requested_port = port
        self._port: int | None = None
        self._loop_thread = LoopThread(f"costeer-imd{version}")
        self._server: asyncio.Server | None = None
        self._clients: dict[str, asyncio.Task] = {}
        self._encoding = f"imd{version}"
        self._encode = functools.partial(frame_packets, version=version)

    def packets(self, shared: Any) -> Packets:
        """The IMD packets of a ``SharedFrame`` for this version: encoded once for all clients."""
        return shared.encoding(self._encoding, self._encode)

    @property
    def port(self) -> int | None:
        """The port listened on, once started."""
        return self._port

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def discovery_services(self) -> dict[str, int]:
        """IMD clients do not use ESSD."""
        return {}

    @property
    def address(self) -> str:
        """Where it listens: the server's address, but loopback only when the server needs a
        token (IMD cannot carry one, so only this machine's users may reach it)."""
        if self.parts.access.enabled and not _is_loopback(self.parts.address):
            return "127.0.0.1"
        return self.parts.address

    def start(self) -> None:
        """Listen in a background thread; ``OSError`` naming the port if it is taken."""
        address = self.address
        option = "--imd-port" if self.version == 3 else f"--imd-v{self.version}-port"
        if address != self.parts.address:
            _log.warning(
                "IMD v%d (%s) listens on %s only, not %s: the server needs a token and IMD clients cannot send one",
                self.version, option, address, self.parts.address,
            )
        self._server = self._loop_thread.listen(
            lambda: asyncio.start_server(self._handle, address, self._requested_port),
            where=f"for IMD on {address}:{self._requested_port}",
            option=option,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        _log.info("IMD v%d on %s:%d", self.version, address, self._port)

    def close(self) -> None:
        """Disconnect every client (their interactions removed) and stop; safe twice."""
        self._loop_thread.stop(self._shutdown, what="the IMD connections", timeout=10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._clients.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_id = f"imd-{next(_ids)}"
        peer = writer.get_extra_info("peername")
        address = None if not peer else f"{peer[0]}:{peer[1]}"
        if len(self._clients) >= MAX_IMD_CLIENTS:
            _log.warning("%s from %s refused: %d IMD clients already", client_id, address, MAX_IMD_CLIENTS)
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._clients[client_id] = task
        self.parts.tell_connection(client_id, address, True)
        connection = _ImdConnection(self, client_id, reader, writer)
        try:
            await connection.run()
        except asyncio.CancelledError:
            pass
        finally:
            connection.finish()
            del self._clients[client_id]
            self.parts.tell_connection(client_id, address, False)

    def __enter__(self) -> "ImdServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def imd_transport(
    *,
    port: int = DEFAULT_IMD_PORT,
    version: int = 3,
    flags: SessionFlags = EVERYTHING,
    send_timeout: float = SEND_TIMEOUT_SECONDS,
) -> TransportFactory:
    """A factory for ``CosteerServer(transports=[...])``: an IMD port of this version."""

    def make(parts: SessionParts) -> Transport:
        return ImdServer(parts, port=port, version=version, flags=flags, send_timeout=send_timeout)

    return make


class _ClientGone(Exception):
    """The connection ends; the message (if any) is logged at WARNING."""


class _ImdConnection:
    """The socket side of one IMD client: handshake, then a receive loop and a send loop."""

    def __init__(self, server: ImdServer, client_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.client_id = client_id
        self.reader = reader
        self.writer = writer
        parts = server.parts
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._frames = parts.hub.subscribe(on_ready=functools.partial(_set_threadsafe, loop, self._wake))
        self._commands = parts.command_lane()
        self.session = ImdClientSession(
            client_id, version=server.version, state=parts.state, run_command=self._run_command
        )
        self._assembler: FrameAssembler | None = None
        self._particle_count: int | None = None
        self._last_sent_index: int | None = None
        self._pending_index: int | None = None
        """``frame.index`` of the latest frame taken and not yet sent."""
        self._finished = False

    async def run(self) -> None:
        try:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:  # frames go out as soon as they are written
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._greet()
            codec = ClientReader(version=self.server.version, particle_count=self._particle_count)
            receiving = asyncio.ensure_future(self._receive_loop(codec))
            sending = asyncio.ensure_future(self._send_loop())
            try:
                done, _ = await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:  # both end here: asyncio.timeout, unlike 3.11's wait_for, never swallows the cancel
                receiving.cancel()
                sending.cancel()
                await asyncio.gather(receiving, sending, return_exceptions=True)  # their errors read, none lost
        except _ClientGone as gone:
            if str(gone):
                _log.warning("%s %s; closed its connection (the simulation and the other clients go on)", self.client_id, gone)
        except ConnectionError:
            _log.info("%s: the connection dropped", self.client_id)
        except Exception:
            _log.exception("%s: serving it failed; closed its connection (the others go on)", self.client_id)

    def finish(self) -> None:
        """Stop its frames and commands, play again if it paused, remove its interaction."""
        if self._finished:
            return
        self._finished = True
        self._frames.close()
        try:
            self.session.close()
        finally:
            self._commands.shutdown(wait=False)
            self.server.parts.client_left(self.client_id)
            self.writer.close()
            _log.info("%s left", self.client_id)

    async def _greet(self) -> None:
        """Wait for a frame (the atom count and what frames hold), then send the handshake (and session info)."""
        try:
            async with asyncio.timeout(FIRST_FRAME_SECONDS):
                await self._wake.wait()
        except TimeoutError:
            raise _ClientGone(f"got no frame from the simulation within {FIRST_FRAME_SECONDS:g} s to describe") from None
        shared = self._frames.take_packed()
        if shared is None:
            raise _ClientGone("")  # the hub closed: the server is stopping
        self._particle_count = particle_count_of(shared.frame)
        if self._particle_count is None:
            raise _ClientGone("was not served: the simulation's frames hold no positions")
        packets = self.server.packets(shared)
        flags = offered_flags(self.server.flags, packets)
        self._assembler = FrameAssembler(version=self.server.version, flags=flags)
        self._assembler.keep(packets)
        self._pending_index = shared.frame.get(keys.FRAME_INDEX)
        greeting = handshake(self.server.version)
        if self.server.version == 3:
            greeting += session_info(flags)
        await self._send(greeting)
        _log.info("%s connected (IMD v%d, %d atoms)", self.client_id, self.server.version, self._particle_count)

    async def _receive_loop(self, codec: ClientReader) -> None:
        go_deadline = asyncio.get_running_loop().time() + GO_SECONDS
        while True:
            timeout = None if self.session.started else go_deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(timeout):
                    data = await self.reader.read(_READ_BYTES)
            except TimeoutError:
                raise _ClientGone(f"did not answer the handshake with GO within {GO_SECONDS:g} s") from None
            try:
                if not data:
                    codec.end()
                    raise _ClientGone("")
                for message in codec.feed(data):
                    was_started = self.session.started
                    if not self.session.handle(message):
                        raise _ClientGone("")
                    if self.session.started and not was_started:
                        self._wake.set()  # the latest frame goes out at once
            except ImdProtocolError as error:
                raise _ClientGone(f"sent bad IMD input: {error}") from None

    async def _send_loop(self) -> None:
        assert self._assembler is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            shared = self._frames.take_packed()
            if shared is not None:
                self._take(shared)
            if self._frames.closed:
                raise _ClientGone("")
            data = self._due_frame() if self.session.started else None
            if data is not None:
                await self._send(data)
            self._frames.handled()

    def _take(self, shared: Any) -> None:
        frame = shared.frame
        count = particle_count_of(frame)
        if count is not None and count != self._particle_count:
            raise _ClientGone(
                f"was disconnected: the served system changed from {self._particle_count} to {count} atoms, "
                "which an IMD session cannot follow (reconnect with the new topology)"
            )
        index = frame.get(keys.FRAME_INDEX)
        self._pending_index = index
        self._assembler.keep(self.server.packets(shared))

    def _due_frame(self) -> bytes | None:
        """The frame to send now, if the client's rate lets one through."""
        index = self._pending_index
        last = self._last_sent_index
        if index is None:
            return None
        if last is not None and 0 < index and last <= index < last + self.session.rate:
            return None
        data = self._assembler.frame()
        if data is not None:
            self._last_sent_index = index
            self._pending_index = None
        return data

    async def _send(self, data: bytes) -> None:
        self.writer.write(data)
        try:
            async with asyncio.timeout(self.server.send_timeout):
                await self.writer.drain()
        except TimeoutError:
            raise _ClientGone(f"read nothing for {self.server.send_timeout:g} s and was dropped") from None

    def _run_command(self, name: str) -> None:
        future = self._commands.submit(self.server.parts.commands.run, name)
        future.add_done_callback(functools.partial(_log_failure, self.client_id, name))


def _log_failure(client_id: str, name: str, future: Any) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is None:
        inner = future.result()
        if hasattr(inner, "add_done_callback"):
            inner.add_done_callback(functools.partial(_log_failure, client_id, name))
        return
    _log.warning("%s: %s failed: %s", client_id, name, error)


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _set_threadsafe(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    try:
        loop.call_soon_threadsafe(event.set)
    except RuntimeError:  # the loop is closed: the server is stopping
        pass
