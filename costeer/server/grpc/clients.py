"""Who a legacy gRPC client is, and when it has left.

gRPC has no connection a server can watch, and the protocol names a client only by the
``access_token`` of its state and lock calls (the app's own id). So each token gets the client
id ``grpc-<n>`` (the ``origin`` of its writes, the owner of its locks), and a client is present
while the HTTP/2 connection it last wrote from (``context.peer()``) holds a stream open: legacy
apps keep their frame and state streams open all session. When that connection's last stream
closes, its clients have left: their interactions and per-user keys are removed
(``SessionParts.client_left``) before the connection listeners hear of it. A token used only
from connections that never open a stream stays until the book is full (``max_clients``): then
the oldest such client leaves to make room for a new one. One connection may name at most
``max_tokens_per_connection`` tokens at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict

from ..mistakes import MistakeLog
from ..transport import SessionParts

__all__ = ["ClientBook", "TooManyClientsError", "MAX_CLIENTS", "MAX_TOKENS_PER_CONNECTION"]

MAX_CLIENTS = 256
"""gRPC clients (access tokens) served at once."""
MAX_TOKENS_PER_CONNECTION = 8
"""Access tokens one HTTP/2 connection may name at once (a legacy app uses one)."""

_log = logging.getLogger(__name__)


class TooManyClientsError(Exception):
    """A new access token is refused: its connection names too many, or the server is full."""


class ClientBook:
    """Access tokens -> client ids, and which connections hold streams open.

        book = ClientBook(parts)
        client = book.client_for(request.access_token, context.peer())   # "grpc-1"
        book.stream_opened(peer); ...; book.stream_closed(peer)          # the last one: its clients leave
    """

    def __init__(self, parts: SessionParts, *, max_clients: int = MAX_CLIENTS,
                 max_tokens_per_connection: int = MAX_TOKENS_PER_CONNECTION) -> None:
        self._parts = parts
        self.max_clients = max_clients
        self.max_tokens_per_connection = max_tokens_per_connection
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._clients: dict[str, tuple[str, str]] = {}
        """access token -> (client id, the peer it last wrote from)."""
        self._streams: dict[str, int] = {}
        """peer -> streams open."""
        self._mistakes: OrderedDict[str, MistakeLog] = OrderedDict()
        """peer -> what it did wrong, latest used last (at most ``max_clients``)."""

    @property
    def connection_count(self) -> int:
        """Connections with a stream open."""
        with self._lock:
            return len(self._streams)

    def client_for(self, token: str, peer: str) -> str:
        """The client id of ``token`` (an empty token: the connection's own), noting where it wrote from.

        Raises ``TooManyClientsError`` for a new token when ``peer`` names too many already, or
        when every client the server holds has a stream open.
        """
        token = token or f"peer:{peer}"
        evicted = None
        with self._lock:
            known = self._clients.get(token)
            if known is None:
                evicted = self._make_room(peer)
            client = known[0] if known is not None else f"grpc-{next(self._ids)}"
            self._clients[token] = (client, peer)
        if evicted is not None:
            self._leave(*evicted)
        if known is None:
            _log.info("%s (access token %r) from %s", client, token[:40], peer)
            self._parts.tell_connection(client, _address(peer), True)
        return client

    def _make_room(self, peer: str) -> tuple[str, str] | None:
        """Under the lock, before a new token from ``peer``: the (client, peer) to let go, if any."""
        named = sum(1 for _, where in self._clients.values() if where == peer)
        if named >= self.max_tokens_per_connection:
            raise TooManyClientsError(
                f"{named + 1} access tokens from one connection ({peer}); at most {self.max_tokens_per_connection}: "
                "give each app one token and keep using it"
            )
        if len(self._clients) < self.max_clients:
            return None
        idle = next((token for token, (_, where) in self._clients.items() if where not in self._streams), None)
        if idle is None:
            raise TooManyClientsError(
                f"the server already serves {len(self._clients)} gRPC clients, each with a stream open: try again later"
            )
        return self._clients.pop(idle)

    def mistakes(self, peer: str) -> MistakeLog:
        """What ``peer`` (a connection) did wrong, each kind logged once while it is known."""
        with self._lock:
            log = self._mistakes.pop(peer, None) or MistakeLog(f"gRPC client at {peer}")
            self._mistakes[peer] = log
            while len(self._mistakes) > self.max_clients:
                self._mistakes.popitem(last=False)
            return log

    def stream_opened(self, peer: str) -> None:
        """A stream of ``peer`` (its HTTP/2 connection) opened."""
        with self._lock:
            self._streams[peer] = self._streams.get(peer, 0) + 1

    def stream_closed(self, peer: str) -> None:
        """A stream ended; with the connection's last one, the clients that wrote from it leave."""
        with self._lock:
            left = self._streams.get(peer, 0) - 1
            if left > 0:
                self._streams[peer] = left
                return
            self._streams.pop(peer, None)
            self._mistakes.pop(peer, None)
            leaving = [(token, client) for token, (client, where) in self._clients.items() if where == peer]
            for token, _ in leaving:
                del self._clients[token]
        for _, client in leaving:
            self._leave(client, peer)

    def all_left(self) -> None:
        """The transport is closing: every client leaves."""
        with self._lock:
            leaving = list(self._clients.values())
            self._clients.clear()
            self._streams.clear()
            self._mistakes.clear()
        for client, peer in leaving:
            self._leave(client, peer)

    def _leave(self, client: str, peer: str) -> None:
        try:
            removed = self._parts.client_left(client)
        except Exception:
            _log.exception("cleaning up after %s failed", client)
            removed = set()
        _log.info("%s left; removed %d of its state keys", client, len(removed))
        self._parts.tell_connection(client, _address(peer), False)


def _address(peer: str) -> str | None:
    """``ipv4:127.0.0.1:50432`` -> ``127.0.0.1:50432``."""
    kind, _, rest = peer.partition(":")
    return rest if kind in ("ipv4", "ipv6") and rest else None
