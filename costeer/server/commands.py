"""Commands: a registry of named handlers, and the per-client request/response protocol.

``CommandRegistry`` holds what can be run (``playback/play``, ``commands/list``, commands
that clients register...). ``CommandChannel`` speaks NanoVer's command messages for one
client, without doing any I/O itself: it is given a ``send`` callable.

    registry = CommandRegistry()
    registry.register("playback/play", runner.play)
    channel = CommandChannel(registry, send=outbox.put, client="client-1")
    channel.handle({"request": {"name": "playback/play", "arguments": {}, "id": 1}})
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import threading
import time
import weakref
from concurrent.futures import Executor, Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import msgpack

from costeer.core import keys

from .deadlines import DEADLINES
from .mistakes import MistakeLog

__all__ = [
    "CommandError",
    "CommandFailure",
    "CommandHandler",
    "CommandRegistration",
    "CommandRegistry",
    "CommandChannel",
]

CommandHandler = Callable[..., Any]
"""Called with the request's arguments as keywords; returns the response (or a Future of it)."""

MAX_COMMANDS_PER_CLIENT = 32
"""Commands one client may provide at once."""
MAX_CLIENT_COMMANDS = 256
"""Commands all clients together may provide at once."""
MAX_REGISTRATION_BYTES = 2048
"""Largest description of a client's command (name, default arguments, label, icon), msgpack-encoded:
with ``MAX_CLIENT_COMMANDS`` of them ``commands/list`` stays well under websockets' default 1 MiB message."""
FORWARD_TIMEOUT_S = 30.0
"""Longest a request waits for the client providing the command before it fails, saying so."""
MAX_PENDING_FORWARDS = 64
"""Requests a client providing commands may leave unanswered at once; more fail at once."""

_log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command failed in a way the requester should be told about; the message says how.

    Raised plainly, it is the requester's mistake (an unknown command, unsuitable arguments).
    """


class CommandFailure(CommandError):
    """A command failed through no fault of the requester: its handler broke (logged with
    a traceback where it happened), or the client providing it failed or left."""


@dataclass(frozen=True)
class CommandRegistration:
    """One runnable command: its name, handler and default arguments."""

    name: str
    handler: CommandHandler
    arguments: dict[str, Any] = field(default_factory=dict)
    """Default arguments, merged under the request's."""
    label: str | None = None
    icon: str | None = None
    owner: str | None = None
    """The client that registered it, or ``None`` for the server's own commands."""

    def to_dict(self) -> dict[str, Any]:
        """NanoVer's description of a command in ``commands/list``."""
        value = {"name": self.name, "label": self.label, "icon": self.icon, "arguments": self.arguments}
        return {key: item for key, item in value.items() if item is not None}


class CommandRegistry:
    """Commands by name; ``commands/list`` is always there.

        registry = CommandRegistry()
        registry.register("playback/load", runner.load, arguments={"index": 0})
        registry.run("playback/load", {"index": 1}).result()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: dict[str, CommandRegistration] = {}
        self.register(keys.LIST_COMMANDS, self.list_message)

    @property
    def names(self) -> list[str]:
        """Registered command names, in registration order."""
        with self._lock:
            return list(self._commands)

    def get(self, name: str) -> CommandRegistration | None:
        """The registration for ``name``, or ``None``."""
        with self._lock:
            return self._commands.get(name)

    def register(
        self,
        name: str,
        handler: CommandHandler,
        *,
        arguments: Mapping[str, Any] | None = None,
        label: str | None = None,
        icon: str | None = None,
        owner: str | None = None,
    ) -> CommandRegistration:
        """Add (or replace) a command; returns its registration.

        A client's command (``owner`` given) is refused with ``CommandError`` past
        ``MAX_COMMANDS_PER_CLIENT``, ``MAX_CLIENT_COMMANDS`` or ``MAX_REGISTRATION_BYTES``.
        """
        if not isinstance(name, str) or not name:
            raise CommandError(f"a command name must be a non-empty string, got {name!r}")
        registration = CommandRegistration(
            name=name, handler=handler, arguments=dict(arguments or {}), label=label, icon=icon, owner=owner
        )
        if owner is not None:
            try:
                size = len(msgpack.packb(registration.to_dict(), use_bin_type=True))
            except (TypeError, ValueError, OverflowError) as error:
                raise CommandError(f"its description cannot travel in a message ({error})") from None
            if size > MAX_REGISTRATION_BYTES:
                raise CommandError(f"its description takes {size} bytes, over {MAX_REGISTRATION_BYTES}: "
                                   "give shorter default arguments, label and icon")
        with self._lock:
            if owner is not None and name not in self._commands:
                owned = [command.owner for command in self._commands.values() if command.owner is not None]
                if owned.count(owner) >= MAX_COMMANDS_PER_CLIENT:
                    raise CommandError(f"this client provides {MAX_COMMANDS_PER_CLIENT} commands already (the most allowed)")
                if len(owned) >= MAX_CLIENT_COMMANDS:
                    raise CommandError(f"the clients provide {MAX_CLIENT_COMMANDS} commands already (the most allowed)")
            self._commands[name] = registration
        return registration

    def unregister(self, name: str, *, owner: str | None = None) -> None:
        """Remove a command; with ``owner``, only if that client still owns it."""
        with self._lock:
            registration = self._commands.get(name)
            if registration is not None and (owner is None or registration.owner == owner):
                del self._commands[name]

    def list_message(self) -> dict[str, Any]:
        """The ``commands/list`` response, shaped exactly as NanoVer's."""
        with self._lock:
            registrations = list(self._commands.values())
        return {
            "list": {registration.name: registration.arguments for registration in registrations},
            "commands": [registration.to_dict() for registration in registrations],
        }

    def run(self, name: str, arguments: Mapping[str, Any] | None = None) -> Future:
        """Run a command in this thread; the Future holds its response or a ``CommandError``."""
        future: Future = Future()
        try:
            registration = self.get(name)
            if registration is None:
                raise CommandError(f"unknown command {name!r}; known commands: {', '.join(self.names)}")
            merged = {**registration.arguments, **(arguments or {})}
            _check_arguments(registration, merged)
            result = registration.handler(**merged)
        except CommandError as error:
            future.set_exception(error)
        except Exception as error:
            _log.exception("command %r failed", name)
            future.set_exception(CommandFailure(f"command {name!r} failed: {type(error).__name__}: {error}"))
        else:
            if isinstance(result, Future):
                return result
            future.set_result(result)
        return future


def _check_arguments(registration: CommandRegistration, arguments: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(registration.handler)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**arguments)
    except TypeError as error:
        accepted = ", ".join(signature.parameters) or "no arguments"
        raise CommandError(
            f"command {registration.name!r} got unsuitable arguments ({error}); it takes: {accepted}"
        ) from None


class CommandChannel:
    """NanoVer's command protocol for one client: requests in, responses out, forwarding.

    Requests run through the registry (on ``executor`` when given, so a slow command
    never blocks the caller; give each client its own ``SerialExecutor`` lane so its
    commands keep their order and other clients' do not wait on them); the reply is passed to ``send`` as the ``command`` value.
    A client may ``register`` commands: requests for them are forwarded to it, and its
    reply completes the requester's Future. ``close`` drops its commands and fails
    what it never answered. A request refused as the client's own mistake is noted in
    ``mistakes`` (logged once).
    """

    def __init__(
        self,
        registry: CommandRegistry,
        *,
        send: Callable[[dict[str, Any]], None],
        client: str,
        executor: Executor | None = None,
        mistakes: MistakeLog | None = None,
        forward_timeout: float = FORWARD_TIMEOUT_S,
    ) -> None:
        self._registry = registry
        self._forward_timeout = forward_timeout
        self._send = send
        self._client = client
        self._executor = executor
        self._mistakes = mistakes or MistakeLog(client)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[Any, tuple[str, Future]] = {}
        self._registered: set[str] = set()
        self._closed = False

    def handle(self, message: Mapping[str, Any]) -> None:
        """Handle one validated ``command`` message (see ``websocket.codec``)."""
        if "register" in message:
            self._handle_register(message["register"])
        elif "exception" in message or "response" in message:
            self._handle_reply(message)
        else:
            self._handle_request(message["request"])

    def close(self) -> None:
        """Unregister this client's commands and fail the requests it did not answer."""
        with self._lock:
            self._closed = True
            registered, self._registered = self._registered, set()
            pending, self._pending = self._pending, {}
        for name in registered:
            self._registry.unregister(name, owner=self._client)
        for name, future in pending.values():
            _fail(future, CommandFailure(f"the client providing {name!r} disconnected before answering"))

    def _handle_request(self, request: Mapping[str, Any]) -> None:
        name, arguments = request["name"], request.get("arguments") or {}

        def reply(future: Future) -> None:
            try:
                self._send({"request": dict(request), "response": future.result()})
            except Exception as error:
                if type(error) is CommandError:
                    self._mistakes.note(f"requested {name!r}, refused: {error}")
                self._send({"request": dict(request), "exception": str(error)})

        if self._executor is None:
            future = self._registry.run(name, arguments)
            future.add_done_callback(reply)
            return
        submitted = self._executor.submit(self._registry.run, name, arguments)
        submitted.add_done_callback(lambda outer: _chain(outer, reply))

    def _handle_register(self, register: Mapping[str, Any]) -> None:
        name = register["name"]
        existing = self._registry.get(name)
        if existing is not None and existing.owner != self._client:
            self._mistakes.note(f"tried to register {name!r}, which already exists; ignored")
            return

        def forward(**arguments: Any) -> Future:
            return self._forward(name, arguments)

        try:
            self._registry.register(
                name,
                forward,
                arguments=register.get("arguments") or {},
                label=register.get("label"),
                icon=register.get("icon"),
                owner=self._client,
            )
        except CommandError as error:
            self._mistakes.note(f"tried to register {name!r}, refused: {error}", kind="register refused")
            return
        with self._lock:
            self._registered.add(name)

    def _forward(self, name: str, arguments: dict[str, Any]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                future.set_exception(CommandFailure(f"the client providing {name!r} has disconnected"))
                return future
            if len(self._pending) >= MAX_PENDING_FORWARDS:
                future.set_exception(CommandFailure(
                    f"the client providing {name!r} has {len(self._pending)} requests unanswered: try again later"))
                return future
            request_id = next(self._ids)
            self._pending[request_id] = (name, future)
        DEADLINES.add(time.monotonic() + self._forward_timeout, functools.partial(_expire, weakref.ref(self), request_id))
        self._send({"request": {"name": name, "arguments": arguments, "id": request_id}})
        return future

    def _expire(self, request_id: int) -> None:
        """The forwarded request ``request_id`` had its time: fail it, if still unanswered."""
        with self._lock:
            entry = self._pending.pop(request_id, None)
        if entry is not None:
            name, future = entry
            _fail(future, CommandFailure(
                f"the client providing {name!r} did not answer within {self._forward_timeout:g} s"))

    def _handle_reply(self, message: Mapping[str, Any]) -> None:
        request_id = message["request"].get("id")
        with self._lock:
            entry = self._pending.pop(request_id, None)
        if entry is None:
            self._mistakes.note(f"answered request id {request_id!r}, which is not pending; ignored")
            return
        name, future = entry
        if "exception" in message:
            _fail(future, CommandFailure(str(message["exception"])))
        else:
            try:
                future.set_result(message.get("response"))
            except InvalidStateError:  # failed meanwhile (the provider left)
                pass


def _expire(channel: "weakref.ref[CommandChannel]", request_id: int) -> None:
    """A forwarded request's time is up (the expiry holds no channel alive: a client's goes when it leaves)."""
    live = channel()
    if live is not None:
        live._expire(request_id)


def _fail(future: Future, error: CommandError) -> None:
    """Fail ``future`` with ``error`` unless it is done already (answered, expired or left)."""
    try:
        future.set_exception(error)
    except InvalidStateError:
        pass


def _chain(outer: Future, reply: Callable[[Future], None]) -> None:
    """``outer`` ran ``registry.run`` and holds its Future; reply when that one is done.

    A cancelled ``outer`` never ran (its client left): there is no one to reply to.
    """
    if outer.cancelled():
        return
    exception = outer.exception()
    if exception is not None:
        failed: Future = Future()
        failed.set_exception(exception)
        reply(failed)
        return
    outer.result().add_done_callback(reply)
