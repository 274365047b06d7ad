"""One connected client, independent of the transport: what it wrote, who it is, its clean-up.

The transport decodes messages and hands them to ``ClientSession.receive``; the session
applies state changes (tagged with the connection id), runs commands, and on ``close``
removes what belonged to the client: the ``interaction.*`` keys it wrote or owns, and the
per-user keys carrying its user id (``avatar.<id>``, ``cursor.<id>.left``,
``update.index.<id>`` ...), never shared keys such as ``scene`` nor keys that another
client or the server wrote last. Ownership (``ownership``) keeps other clients off what a
client owns; only keys the state stored tell who a client is.

The session also answers what it cannot use: a refused message's requests get an exception
reply, and the client's mistakes are logged at WARNING once each, without a traceback.

Nothing here knows a wire format: a transport decodes its bytes into a ``ClientMessage``
(or calls ``refuse`` with the reason and the requests it could still answer). A transport
that writes to the state itself (``state.update(..., origin=client)``) cleans up with
``ClientLedger.client_left`` instead, the same rule for every transport.

    session = ClientSession("ws-3", state=state, commands=registry, send_command=send)
    session.receive(ClientMessage(state=StatePart(updates={"avatar.u": {}}, removals=[])))
    session.refuse("not valid msgpack", requests=[{"name": "playback/play", "id": 4}])
    session.close()
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from costeer.core import keys

from .access import AccessPolicy, Role
from .commands import CommandChannel, CommandRegistry
from .mistakes import MistakeLog
from .ownership import PER_USER_PREFIXES
from .state import SharedState

__all__ = [
    "ClientSession",
    "ClientMessage",
    "StatePart",
    "ClientLedger",
    "clean_up_client",
    "USER_ID_PREFIXES",
    "user_ids_from_keys",
    "keys_to_clean_up",
]

USER_ID_PREFIXES = (keys.AVATAR_PREFIX, "playarea.", "update.index.")
"""Keys ``<prefix><user id>`` by which a client says who it is (NanoVer uses ``avatar.``)."""


def user_ids_from_keys(written: Iterable[str]) -> set[str]:
    """User ids a client revealed by writing ``avatar.<id>``, ``playarea.<id>`` or ``update.index.<id>``."""
    ids = set()
    for key in written:
        for prefix in USER_ID_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                ids.add(key[len(prefix):])
    return ids


def keys_to_clean_up(
    content: Mapping[str, Any],
    written: Iterable[str],
    user_ids: Iterable[str],
    *,
    protected: Iterable[str] = (),
) -> set[str]:
    """The keys to remove when a client leaves.

    ``written``: keys it wrote last; ``user_ids``: the ids it revealed; ``protected``: keys
    someone else wrote last, never removed. Removes the ``interaction.*`` and per-user keys
    it wrote, interactions whose ``owner.id`` is one of its ids, and per-user keys naming
    one of its ids (``cursor.<id>.left``, ``user-origin.<id>``); an id matches nothing
    outside the per-user prefixes, so a client calling itself ``name`` never removes
    ``simulation.name``.
    """
    ids = {user_id for user_id in user_ids if user_id}
    doomed = {
        key
        for key in written
        if key in content and (key.startswith(keys.INTERACTION_PREFIX) or key.startswith(PER_USER_PREFIXES))
    }
    for key, value in content.items():
        if key.startswith(keys.INTERACTION_PREFIX):
            if isinstance(value, Mapping) and value.get("owner.id") in ids:
                doomed.add(key)
        elif _user_of(key) in ids:
            doomed.add(key)
    return doomed - set(protected)


def clean_up_client(state: SharedState, client_id: str, user_ids: Iterable[str]) -> set[str]:
    """Remove what ``client_id`` (who revealed ``user_ids``) leaves behind, then forget it as a
    writer (releasing what it owns); returns the removed keys. The rule is ``keys_to_clean_up``'s,
    with every key another client wrote last, and the server's shared keys, protected."""
    content = state.snapshot()
    last_writers = state.last_writers()
    written = {key for key, writer in last_writers.items() if writer == client_id}
    protected = {
        key
        for key in content
        if ((writer := last_writers.get(key)) is not None and writer != client_id)
        or (writer is None and not key.startswith(PER_USER_PREFIXES))
    }  # the server writes some per-user keys for a user (user-origin.<id>): they go with that user, as in NanoVer
    doomed = keys_to_clean_up(content, written, user_ids, protected=protected)
    if doomed:
        state.update({}, doomed)
    state.forget_writer(client_id)
    return doomed


class ClientLedger:
    """Who each client revealed itself to be, for transports that write to the state directly.

        ledger = ClientLedger(state)        # watches every client's stored writes from now on
        state.update({"avatar.u7": {}}, origin="grpc-2")
        ledger.client_left("grpc-2")        # {"avatar.u7"}: removed, as for a WebSocket client

    Installed as the state's last filter (it keeps every update), it notes the user ids in
    the keys a client gets stored (``user_ids_from_keys``); it forgets a client once the
    state forgets it as a writer (``forget_writer``), whoever cleaned up.
    """

    def __init__(self, state: SharedState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._user_ids: dict[str, set[str]] = {}
        state.add_filter(self._note)
        state.add_writer_left_listener(self._forget)

    def user_ids(self, client_id: str) -> set[str]:
        """The user ids ``client_id`` revealed so far."""
        with self._lock:
            return set(self._user_ids.get(client_id, ()))

    def client_left(self, client_id: str) -> set[str]:
        """Remove the keys ``client_id`` leaves behind (``clean_up_client``); returns them."""
        return clean_up_client(self.state, client_id, self.user_ids(client_id))

    def _note(self, updates: dict[str, Any], origin: str | None, content: Mapping[str, Any]) -> dict[str, Any]:
        if origin is not None and updates:
            revealed = user_ids_from_keys(updates)
            if revealed:
                with self._lock:
                    self._user_ids.setdefault(origin, set()).update(revealed)
        return updates

    def _forget(self, client_id: str) -> None:
        with self._lock:
            self._user_ids.pop(client_id, None)


@dataclass(frozen=True)
class StatePart:
    """A state change sent by a client."""

    updates: dict[str, Any]
    removals: list[str]


@dataclass(frozen=True)
class ClientMessage:
    """The checked parts of one client message (absent parts are ``None``)."""

    frame: dict[str, Any] | None = None
    state: StatePart | None = None
    commands: tuple[dict[str, Any], ...] = ()
    """Command messages in order (NanoVer's old format sends a list of them)."""


def _user_of(key: str) -> str | None:
    """The user id a per-user key names (``cursor.<id>.left`` -> ``<id>``), else ``None``."""
    for prefix in PER_USER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):].split(".", 1)[0]
    return None


class ClientSession:
    """The transport-independent half of one client connection.

        session = ClientSession("ws-1", state=state, commands=registry, send_command=send)
    """

    def __init__(
        self,
        connection_id: str,
        *,
        state: SharedState,
        commands: CommandRegistry,
        send_command: Callable[[dict[str, Any]], None],
        executor: Executor | None = None,
        role: Role = Role.STEER,
    ) -> None:
        self.connection_id = connection_id
        """Unique per connection; the ``origin`` of this client's state writes."""
        self.role = role
        """What its token lets it do (``access``): a viewer's state changes and commands are refused."""
        self.user_ids: set[str] = set()
        """The user ids this client revealed (from ``avatar.<id>`` etc.)."""
        self._state = state
        self._send_command = send_command
        self._mistakes = MistakeLog(connection_id)
        self._channel = CommandChannel(
            commands, send=send_command, client=connection_id, executor=executor, mistakes=self._mistakes
        )
        self._closed = False

    def receive(self, message: ClientMessage) -> None:
        """Apply one decoded message: its state change, then its commands (a viewer's: refused)."""
        if message.frame is not None:
            self._mistakes.note("sent a frame; this server produces its own frames, so client frames are ignored")
        if message.state is not None:
            if self.role is Role.VIEW:
                self._mistakes.note("is a viewer: its state changes are refused (the steering token allows them)", kind="viewer state")
            else:
                stored = self._state.update(message.state.updates, message.state.removals, origin=self.connection_id)
                self.user_ids |= user_ids_from_keys(stored)
        for command in message.commands:
            if self.role is Role.VIEW and not self._viewer_may(command):
                continue
            self._channel.handle(command)

    def _viewer_may(self, command: dict[str, Any]) -> bool:
        """Whether a viewer's command message goes on; a refused request is answered as refused."""
        if "register" in command:
            self._mistakes.note("is a viewer: registering commands is refused", kind="viewer register")
            return False
        request = command.get("request")
        if "response" in command or "exception" in command or request is None:
            return True  # a reply: it can answer nothing, the channel says so
        name = request.get("name")
        if AccessPolicy.may_run(Role.VIEW, name):
            return True
        self._mistakes.note(f"is a viewer: its command {name!r} is refused", kind="viewer command")
        self._answer_refused(request, f"refused: viewers may not run {name!r} (only listing commands); connect with the steering token")
        return False

    def refuse(self, reason: str | Exception, *, requests: Iterable[Mapping[str, Any]] = ()) -> None:
        """A message that could not be used: log ``reason`` (once) and answer ``requests``, the
        requests (maps with an ``id``) it held, with an exception reply each."""
        self._mistakes.note(f"sent a bad message, ignored: {reason}")
        for request in requests:
            self._answer_refused(request, str(reason))

    def _answer_refused(self, request: Mapping[str, Any], reason: str) -> None:
        try:
            self._send_command({"request": dict(request), "exception": reason})
        except Exception:  # an id msgpack cannot carry back, say: the reply cannot be sent
            self._mistakes.note(f"sent request id {request.get('id')!r}, which cannot be answered")

    def close(self) -> set[str]:
        """Forget the client: drop its commands and remove its keys; returns the removed keys."""
        if self._closed:
            return set()
        self._closed = True
        self._channel.close()
        return clean_up_client(self._state, self.connection_id, self.user_ids)
