"""A server's address as a client gives it (``ws://HOST:PORT``, ``wss://`` with TLS), checked before
connecting, and the one-line error of a connection that failed.

    url = server_url("ws://127.0.0.1:38801")          # returned as given
    server_url("127.0.0.1:38801")                     # ValueError: ... give ws://HOST:PORT ...
    raise cannot_connect(url, error) from error       # ConnectionError: cannot connect to ...; is the server running?
    with connecting(url):                              # the same, around any library's connect (sync or async)
        websocket = await websockets.connect(server_url(url))
"""

from __future__ import annotations

import re
import ssl
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

__all__ = ["cannot_connect", "connecting", "server_url", "shown"]

_EXAMPLE = "give ws://HOST:PORT (wss:// for a server with TLS), e.g. ws://127.0.0.1:38801"


def server_url(url: str) -> str:
    """``url`` if it is a WebSocket server's address, else ``ValueError`` saying what one looks like."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"{shown(url)!r} is not a server address: {_EXAMPLE}")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"{shown(url)!r} has no valid port (0 to 65535): {_EXAMPLE}") from None
    return url


def shown(url: str) -> str:
    """``url`` as an error may show it: a ``token=`` in its query hidden (errors end up in logs)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=re.sub(r"(token=)[^&]*", r"\1***", parts.query))) if parts.query else url


def cannot_connect(url: str, error: BaseException) -> ConnectionError:
    """The error for a connection to ``url`` that failed with ``error`` (refused, unreachable, timed out;
    not a certificate refused, whose own error says more)."""
    return ConnectionError(f"cannot connect to {shown(url)}: {str(error) or type(error).__name__}; is the server running?")


@contextmanager
def connecting(url: str) -> Iterator[None]:
    """Around a connection attempt to ``url``: a refused, unreachable or timed-out one becomes
    ``cannot_connect``'s error; a certificate refused (``ssl.SSLError``) keeps its own message."""
    try:
        yield
    except ssl.SSLError:
        raise
    except (OSError, TimeoutError) as error:
        raise cannot_connect(url, error) from error
