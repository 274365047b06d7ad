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

    session = ClientSession("client-3", state=state, commands=registry, send_command=send)
    try:
        session.receive(decode_message(data))
    except ProtocolError as error:
        session.refuse(error)
    ...
    session.close()
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Callable, Iterable, Mapping

from costeer.core import keys

from .commands import CommandChannel, CommandRegistry
from .mistakes import MistakeLog
from .ownership import PER_USER_PREFIXES
from .state import SharedState
from .websocket.codec import ClientMessage, ProtocolError

__all__ = ["ClientSession", "USER_ID_PREFIXES", "user_ids_from_keys", "keys_to_clean_up"]

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


def _user_of(key: str) -> str | None:
    """The user id a per-user key names (``cursor.<id>.left`` -> ``<id>``), else ``None``."""
    for prefix in PER_USER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):].split(".", 1)[0]
    return None


class ClientSession:
    """The transport-independent half of one client connection.

        session = ClientSession("client-1", state=state, commands=registry, send_command=send)
    """

    def __init__(
        self,
        connection_id: str,
        *,
        state: SharedState,
        commands: CommandRegistry,
        send_command: Callable[[dict[str, Any]], None],
        executor: Executor | None = None,
    ) -> None:
        self.connection_id = connection_id
        """Unique per connection; the ``origin`` of this client's state writes."""
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
        """Apply one decoded message: its state change, then its commands."""
        if message.frame is not None:
            self._mistakes.note("sent a frame; this server produces its own frames, so client frames are ignored")
        if message.state is not None:
            stored = self._state.update(message.state.updates, message.state.removals, origin=self.connection_id)
            self.user_ids |= user_ids_from_keys(stored)
        for command in message.commands:
            self._channel.handle(command)

    def refuse(self, error: ProtocolError) -> None:
        """A message that could not be used: log it (once) and answer the requests it held."""
        self._mistakes.note(f"sent a bad message, ignored: {error}")
        for request in error.requests:
            try:
                self._send_command({"request": dict(request), "exception": str(error)})
            except Exception:  # an id msgpack cannot carry back, say: the reply cannot be sent
                self._mistakes.note(f"sent request id {request.get('id')!r}, which cannot be answered")

    def close(self) -> set[str]:
        """Forget the client: drop its commands and remove its keys; returns the removed keys."""
        if self._closed:
            return set()
        self._closed = True
        self._channel.close()
        content = self._state.snapshot()
        last_writers = self._state.last_writers()
        written = {key for key, writer in last_writers.items() if writer == self.connection_id}
        doomed = keys_to_clean_up(content, written, self.user_ids, protected=self._protected(content, last_writers))
        if doomed:
            self._state.update({}, doomed)
        self._state.forget_writer(self.connection_id)
        return doomed

    def _protected(self, content: Mapping[str, Any], last_writers: Mapping[str, str]) -> set[str]:
        """Keys another client wrote last, and those the server wrote last except per-user ones.

        The server writes some per-user keys for a user (``user-origin.<id>``); they go
        with that user, as in NanoVer.
        """
        return {
            key
            for key in content
            if ((writer := last_writers.get(key)) is not None and writer != self.connection_id)
            or (writer is None and not key.startswith(PER_USER_PREFIXES))
        }
