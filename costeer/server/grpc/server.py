"""The legacy gRPC transport: Narupa (2019-2023) and NanoVer (to 2025-09) headsets on the session.

Serves the trajectory, state and command services of ``protos/`` in both namespaces
(``narupa.protocol.*`` and ``nanover.protocol.*``) side by side on one port, over the
session's own frames, shared state and commands, so what a gRPC client writes is what
WebSocket clients see, and the other way round.

- Frames: each ``SharedFrame`` is serialized once (``encoding("grpc", ...)``) for every gRPC
  client of both namespaces (their messages are the same bytes). A client that reads slowly
  holds one pending frame, the merge of what it missed, as WebSocket clients do.
- Who a client is: each ``access_token`` is a client ``grpc-<n>``, present while the
  connection it writes from holds a stream open (``clients``); ``client_count`` counts
  connections with a stream open.
- Commands run in the calling RPC's own server thread (each call has one), so a slow command
  holds up only its caller.
- Access: every call passes the session's access policy (``grpc.access``: a token in the
  call metadata; viewers' steering calls refused); with ``parts.tls`` the port speaks TLS.
- Bad input (bytes that are not the method's message, values of the wrong type): one WARNING
  naming the client and the method, that call fails (``INVALID_ARGUMENT`` or
  ``success = false``), nothing else is touched.

    transport = GrpcTransport(parts, port=0)
    transport.start(); print(transport.port)
    ...
    transport.close()
"""

from __future__ import annotations

import errno
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Iterator

import grpc
from google.protobuf.message import DecodeError

from ..commands import CommandError, CommandFailure
from ..ownership import LockRefusedError
from ..state import StateRefusedError
from ..transport import SessionParts
from . import DEFAULT_PORT
from .clients import ClientBook, TooManyClientsError
from .codec import encode_frame_response, encode_state_update, from_struct, state_from_struct, to_struct
from .access import AccessInterceptor
from .generate import NAMESPACES, protocol

__all__ = [
    "GrpcTransport",
    "grpc_transport",
    "DEFAULT_PORT",
    "DISCOVERY_NAMES",
    "MAX_CALLS",
    "COMMAND_TIMEOUT_SECONDS",
]

DISCOVERY_NAMES = ("trajectory", "imd", "multiplayer")
"""The ESSD service names Narupa's and NanoVer's VR apps look up (frames, interactions, state)."""
MAX_CALLS = 64
"""Calls (streams included) served at once; each holds a server thread while it runs (a legacy
app keeps two streams open). Beyond it a call is refused with RESOURCE_EXHAUSTED at once,
rather than queued behind streams that may never end."""
COMMAND_TIMEOUT_SECONDS = 120.0
"""How long a command may take before its caller gets DEADLINE_EXCEEDED."""
MAX_INTERVAL_SECONDS = 10.0
"""Longest ``frame_interval`` / ``update_interval`` honoured."""

_log = logging.getLogger(__name__)
_wire = protocol("nanover")
"""Parses requests and builds replies; the bytes are the same in both namespaces."""


def grpc_transport(*, port: int = DEFAULT_PORT) -> Callable[[SessionParts], "GrpcTransport"]:
    """A ``TransportFactory`` for ``CosteerServer(..., transports=[grpc_transport(port=...)])``."""
    return lambda parts: GrpcTransport(parts, port=port)


class GrpcTransport:
    """Serves one session to legacy Narupa / NanoVer clients over gRPC.

        with GrpcTransport(SessionParts.standalone(), port=0) as transport:
            channel = grpc.insecure_channel(f"127.0.0.1:{transport.port}")
    """

    name = "grpc"

    def __init__(self, parts: SessionParts, *, port: int = DEFAULT_PORT, max_calls: int = MAX_CALLS) -> None:
        self.parts = parts
        self._requested_port = port
        self._max_calls = max_calls
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._port: int | None = None
        self._clients = ClientBook(parts)
        self._lock = threading.Lock()
        self._encoding = threading.Lock()
        self._stops: set[Callable[[], None]] = set()
        """How to end each open stream (its subscription closed), for ``close``."""
        self._closed = False

    @property
    def port(self) -> int | None:
        """The port actually listened on, after ``start``."""
        return self._port

    @property
    def client_count(self) -> int:
        """Connections with a stream open."""
        return self._clients.connection_count

    @property
    def discovery_services(self) -> dict[str, int]:
        """The names legacy apps look up, all on this port (``{}`` before ``start``)."""
        return {} if self._port is None else {name: self._port for name in DISCOVERY_NAMES}

    def start(self) -> None:
        """Listen in grpc's own threads; raises ``OSError`` naming the port if it is taken."""
        self._executor = ThreadPoolExecutor(max_workers=self._max_calls, thread_name_prefix="costeer-grpc")
        server = grpc.server(
            self._executor,
            handlers=self._handlers(),
            maximum_concurrent_rpcs=self._max_calls,
            options=[("grpc.so_reuseport", 0)],  # else a second server on a taken port starts silently
            interceptors=[AccessInterceptor(self.parts.access)],
        )
        host = self.parts.address
        address = f"[{host}]:{self._requested_port}" if ":" in host and not host.startswith("[") else f"{host}:{self._requested_port}"
        try:
            tls = self.parts.tls
            port = server.add_insecure_port(address) if tls is None else server.add_secure_port(address, tls.grpc_credentials())
        except RuntimeError:
            port = 0
        if not port:
            self._executor.shutdown(wait=False)
            raise OSError(
                errno.EADDRINUSE,
                f"cannot listen for gRPC on {address}; choose another --grpc-port or stop the program using it",
            )
        server.start()
        self._server, self._port = server, port
        _log.info("gRPC (Narupa / NanoVer legacy protocol) on %s:%d%s", self.parts.address, port, "" if tls is None else " over TLS")

    def close(self) -> None:
        """End every stream, stop listening, and let every client leave; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stops = list(self._stops)
        for stop in stops:
            stop()
        if self._server is not None:
            self._server.stop(grace=1.0).wait(5.0)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._clients.all_left()

    def __enter__(self) -> "GrpcTransport":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the services ---------------------------------------------------------------------------

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        """One generic handler per service and namespace, over the same methods.

        Requests arrive as bytes (parsed in the method, so a malformed one can be reported
        with its method and client) and replies leave as bytes (frames and state changes
        serialized once for everyone).
        """
        methods: dict[str, tuple[Callable[..., Any], bool]] = {
            "SubscribeFrames": (self._subscribe_frames, True),
            "GetFrames": (self._subscribe_frames, True),
            "SubscribeLatestFrames": (self._subscribe_latest_frames, True),
            "GetFrame": (self._get_frame, False),
            "SubscribeStateUpdates": (self._subscribe_state_updates, True),
            "UpdateState": (self._update_state, False),
            "UpdateLocks": (self._update_locks, False),
            "GetCommands": (self._get_commands, False),
            "RunCommand": (self._run_command, False),
        }
        handlers = []
        for namespace in NAMESPACES:
            modules = protocol(namespace)
            for module in (modules.trajectory, modules.state, modules.command):
                for service in module.DESCRIPTOR.services_by_name.values():
                    table = {}
                    for method in service.methods:
                        behaviour, streaming = methods[method.name]
                        assert streaming == method.server_streaming, method.full_name
                        make = grpc.unary_stream_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
                        table[method.name] = make(_named(behaviour, f"/{service.full_name}/{method.name}"))
                    handlers.append(grpc.method_handlers_generic_handler(service.full_name, table))
        return handlers

    def _parse(self, message_type: Any, data: bytes, context: grpc.ServicerContext, method: str) -> Any:
        """The request as ``message_type``; a malformed one is refused (logged once per connection and method)."""
        try:
            return message_type.FromString(data)
        except DecodeError as error:
            peer = context.peer()
            self._clients.mistakes(peer).note(
                f"sent {len(data)} bytes that are not a {message_type.DESCRIPTOR.name} to {method} ({error}); "
                "that call was refused", kind=f"malformed {method}",
            )
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is not a valid {message_type.DESCRIPTOR.full_name.split('.', 1)[1]} message: {error}",
            )

    def _client(self, token: str, context: grpc.ServicerContext) -> str:
        """The client id of ``token`` on this call's connection; a refused new token aborts the call."""
        peer = context.peer()
        try:
            return self._clients.client_for(token, peer)
        except TooManyClientsError as error:
            self._clients.mistakes(peer).note(f"was refused a new access token: {error}", kind="too many clients")
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))

    def _subscribe_frames(self, data: bytes, context: grpc.ServicerContext, method: str) -> Iterator[bytes]:
        self._parse(_wire.trajectory.GetFrameRequest, data, context, method)
        return self._frames(context, interval=0.0)

    def _subscribe_latest_frames(self, data: bytes, context: grpc.ServicerContext, method: str) -> Iterator[bytes]:
        request = self._parse(_wire.trajectory.GetFrameRequest, data, context, method)
        return self._frames(context, interval=_interval(request.frame_interval))

    def _frames(self, context: grpc.ServicerContext, *, interval: float) -> Iterator[bytes]:
        return self._stream(context, self.parts.hub.subscribe, self._take_frame, interval=interval)

    def _take_frame(self, subscription: Any) -> bytes | None:
        shared = subscription.take_packed()
        if shared is None:
            return None
        with self._encoding:  # the streams wake together: one encodes, the others reuse it
            return shared.encoding("grpc", encode_frame_response)

    def _stream(
        self, context: grpc.ServicerContext, subscribe: Callable[..., Any], take: Callable[[Any], "bytes | None"], *, interval: float
    ) -> Iterator[bytes]:
        """One server stream: subscribe, then send what ``take(subscription)`` gives each time it is ready,
        at most once per ``interval`` s, until the call ends (the subscription closed with it)."""
        ready = threading.Event()
        subscription = subscribe(on_ready=ready.set)
        stream = self._open_stream(context, subscription.close, ready)
        if stream is None:
            return
        while stream.wait_ready():
            data = take(subscription)
            if data is None:
                continue
            yield data
            subscription.handled()  # gRPC asks for the next item once this one is sent
            stream.pause(interval)

    def _get_frame(self, data: bytes, context: grpc.ServicerContext, method: str) -> bytes:
        self._parse(_wire.trajectory.GetFrameRequest, data, context, method)
        current = self.parts.hub.current_frame
        return encode_frame_response(current if current is not None else {})

    def _subscribe_state_updates(self, data: bytes, context: grpc.ServicerContext, method: str) -> Iterator[bytes]:
        request = self._parse(_wire.state.SubscribeStateUpdatesRequest, data, context, method)
        return self._stream(
            context, self.parts.state.subscribe, lambda subscription: subscription.encoded_take(encode_state_update),
            interval=_interval(request.update_interval),
        )

    def _update_state(self, data: bytes, context: grpc.ServicerContext, method: str) -> bytes:
        request = self._parse(_wire.state.UpdateStateRequest, data, context, method)
        client = self._client(request.access_token, context)
        updates, removals = state_from_struct(request.update.changed_keys)
        try:
            stored = self.parts.state.update(updates, removals, origin=client, atomic=True)
        except StateRefusedError:
            success = False  # the ownership rules logged why
        else:
            success = len(stored) == len(updates)
        return _wire.state.UpdateStateResponse(success=success).SerializeToString()

    def _update_locks(self, data: bytes, context: grpc.ServicerContext, method: str) -> bytes:
        request = self._parse(_wire.state.UpdateLocksRequest, data, context, method)
        client = self._client(request.access_token, context)
        wanted = from_struct(request.lock_keys)
        ownership = self.parts.state.ownership
        try:
            ownership.acquire(client, {key: value for key, value in wanted.items() if value is not None})
        except LockRefusedError as error:
            self._clients.mistakes(context.peer()).note(
                f"({client}) had a lock request refused as a whole (nothing taken or released): {error}", kind="lock refused")
            return _wire.state.UpdateLocksResponse(success=False).SerializeToString()
        ownership.release(client, [key for key, value in wanted.items() if value is None])
        return _wire.state.UpdateLocksResponse(success=True).SerializeToString()

    def _get_commands(self, data: bytes, context: grpc.ServicerContext, method: str) -> bytes:
        self._parse(_wire.command.GetCommandsRequest, data, context, method)
        reply = _wire.command.GetCommandsReply()
        for name in self.parts.commands.names:
            registration = self.parts.commands.get(name)
            if registration is None:
                continue
            command = reply.commands.add(name=name)
            try:
                command.arguments.CopyFrom(to_struct(registration.arguments))
            except TypeError as error:
                _log.error("command %r's default arguments cannot be listed over gRPC (%s)", name, error)
        return reply.SerializeToString()

    def _run_command(self, data: bytes, context: grpc.ServicerContext, method: str) -> bytes:
        request = self._parse(_wire.command.CommandMessage, data, context, method)
        arguments = from_struct(request.arguments)
        future = self.parts.commands.run(request.name, arguments)
        try:
            result = future.result(timeout=COMMAND_TIMEOUT_SECONDS)
        except FutureTimeout:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"command {request.name!r} took over {COMMAND_TIMEOUT_SECONDS:g} s")
        except CommandFailure as error:
            context.abort(grpc.StatusCode.INTERNAL, str(error))
        except CommandError as error:
            self._clients.mistakes(context.peer()).note(f"requested {request.name!r}, refused: {error}")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if result is None:
            result = {}
        elif not isinstance(result, dict):
            result = {"result": result}
        try:
            struct = to_struct(result)
        except TypeError as error:
            _log.error("command %r's result cannot travel over gRPC: %s", request.name, error)
            context.abort(grpc.StatusCode.INTERNAL, f"command {request.name!r} ran, but its result cannot be sent: {error}")
        return _wire.command.CommandReply(result=struct).SerializeToString()

    def _open_stream(
        self, context: grpc.ServicerContext, close_subscription: Callable[[], None], ready: threading.Event
    ) -> "_Stream | None":
        """Track a new stream: its client is present while it is open. ``None`` if it already ended."""
        peer = context.peer()
        stream = _Stream(ready)

        def stop() -> None:
            close_subscription()
            stream.stop()

        def ended() -> None:
            stop()
            with self._lock:
                self._stops.discard(stop)
            self._clients.stream_closed(peer)

        with self._lock:
            if self._closed:
                close_subscription()
                return None
            self._stops.add(stop)
        self._clients.stream_opened(peer)
        if not context.add_callback(ended):
            ended()
            return None
        return stream


class _Stream:
    """The wake-ups of one streaming call: something to send, or the end of the call."""

    def __init__(self, ready: threading.Event) -> None:
        self._ready = ready
        self._stopped = threading.Event()

    def wait_ready(self) -> bool:
        """Wait until there may be something to send; ``False`` once the stream has ended."""
        self._ready.wait()
        self._ready.clear()
        return not self._stopped.is_set()

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` before the next send (or until the stream ends)."""
        if seconds > 0:
            self._stopped.wait(seconds)

    def stop(self) -> None:
        self._stopped.set()
        self._ready.set()


def _named(behaviour: Callable[..., Any], method: str) -> Callable[[bytes, grpc.ServicerContext], Any]:
    """``behaviour(data, context, method)`` as grpc calls it, ``(data, context)``."""
    return lambda data, context: behaviour(data, context, method)


def _interval(seconds: float) -> float:
    """A requested interval, within [0, ``MAX_INTERVAL_SECONDS``] (NaN: none)."""
    if not math.isfinite(seconds) or seconds <= 0:
        return 0.0
    return min(float(seconds), MAX_INTERVAL_SECONDS)
