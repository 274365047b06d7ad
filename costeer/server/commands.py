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

import inspect
import itertools
import logging
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from costeer.core import keys

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
        """Add (or replace) a command; returns its registration."""
        if not isinstance(name, str) or not name:
            raise CommandError(f"a command name must be a non-empty string, got {name!r}")
        registration = CommandRegistration(
            name=name, handler=handler, arguments=dict(arguments or {}), label=label, icon=icon, owner=owner
        )
        with self._lock:
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
    ) -> None:
        self._registry = registry
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
            future.set_exception(CommandFailure(f"the client providing {name!r} disconnected before answering"))

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

        self._registry.register(
            name,
            forward,
            arguments=register.get("arguments") or {},
            label=register.get("label"),
            icon=register.get("icon"),
            owner=self._client,
        )
        with self._lock:
            self._registered.add(name)

    def _forward(self, name: str, arguments: dict[str, Any]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                future.set_exception(CommandFailure(f"the client providing {name!r} has disconnected"))
                return future
            request_id = next(self._ids)
            self._pending[request_id] = (name, future)
        self._send({"request": {"name": name, "arguments": arguments, "id": request_id}})
        return future

    def _handle_reply(self, message: Mapping[str, Any]) -> None:
        request_id = message["request"].get("id")
        with self._lock:
            entry = self._pending.pop(request_id, None)
        if entry is None:
            self._mistakes.note(f"answered request id {request_id!r}, which is not pending; ignored")
            return
        name, future = entry
        if "exception" in message:
            future.set_exception(CommandFailure(str(message["exception"])))
        else:
            future.set_result(message.get("response"))


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
