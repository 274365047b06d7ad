"""Who a legacy gRPC client is, and when it has left.

gRPC has no connection a server can watch, and the protocol names a client only by the
``access_token`` of its state and lock calls (the app's own id). So each token gets the client
id ``grpc-<n>`` (the ``origin`` of its writes, the owner of its locks), and a client is present
while the HTTP/2 connection it last wrote from (``context.peer()``) holds a stream open: legacy
apps keep their frame and state streams open all session. When that connection's last stream
closes, its clients have left: their interactions and per-user keys are removed
(``SessionParts.client_left``) before the connection listeners hear of it. A token used only
from connections that never open a stream stays until the transport closes.
"""

from __future__ import annotations

import itertools
import logging
import threading

from ..transport import SessionParts

__all__ = ["ClientBook"]

_log = logging.getLogger(__name__)


class ClientBook:
    """Access tokens -> client ids, and which connections hold streams open.

        book = ClientBook(parts)
        client = book.client_for(request.access_token, context.peer())   # "grpc-1"
        book.stream_opened(peer); ...; book.stream_closed(peer)          # the last one: its clients leave
    """

    def __init__(self, parts: SessionParts) -> None:
        self._parts = parts
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._clients: dict[str, tuple[str, str]] = {}
        """access token -> (client id, the peer it last wrote from)."""
        self._streams: dict[str, int] = {}
        """peer -> streams open."""

    @property
    def connection_count(self) -> int:
        """Connections with a stream open."""
        with self._lock:
            return len(self._streams)

    def client_for(self, token: str, peer: str) -> str:
        """The client id of ``token`` (an empty token: the connection's own), noting where it wrote from."""
        token = token or f"peer:{peer}"
        with self._lock:
            known = self._clients.get(token)
            client = known[0] if known is not None else f"grpc-{next(self._ids)}"
            self._clients[token] = (client, peer)
        if known is None:
            _log.info("%s (access token %r) from %s", client, token[:40], peer)
            self._parts.tell_connection(client, _address(peer), True)
        return client

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
