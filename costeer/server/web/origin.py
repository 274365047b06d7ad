"""``OriginCheck``: which web pages may open a WebSocket to the server.

Browsers send the page's origin with every WebSocket upgrade, and any page a visitor opens
could otherwise steer the simulation through their browser. Accepted: upgrades with no
``Origin`` (headsets, Python and other non-browser clients), from the page's own origin
(the same host and port as the request's ``Host``, over http or https, or the ``--web-port``
page on the same host), and the origins given with ``--allow-origin``; others get HTTP 403.
The page's own origin counts only when the browser reached the server by an IP address, as
``localhost`` or by this machine's own name: a page on any other name that equals its
``Host`` may be a DNS-rebinding attack (a foreign name made to point at this machine), so
such names need ``--allow-origin`` too.

    check = OriginCheck(allowed=["https://lab.example.org"])
    WebSocketServer(parts, request_hooks=[check, StaticPage()])
"""

from __future__ import annotations

import http
import ipaddress
import socket
from typing import Callable, Iterable
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .static import http_response, is_upgrade

__all__ = ["OriginCheck", "normalize_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str:
    """``scheme://host:port`` in lower case with the port always written; ``ValueError`` saying
    what an origin looks like if ``origin`` is not one."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"an origin is scheme://host[:port], e.g. http://192.168.1.20:8080; got {origin!r}")
    return f"{parts.scheme}://{_bracketed(parts.hostname)}:{port}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class OriginCheck:
    """Refuses WebSocket upgrades from other pages' origins with HTTP 403 (a ``RequestHook``).

    ``page_ports`` gives the ports the page is also served on (``--web-port``): a page from one
    of them on the host the request names is the server's own.
    """

    def __init__(self, allowed: Iterable[str] = (), *, page_ports: Callable[[], Iterable[int]] = tuple) -> None:
        self.allowed = frozenset(normalize_origin(origin) for origin in allowed)
        self._page_ports = page_ports

    def __call__(self, connection: ServerConnection | None, request: Request) -> Response | None:
        if not is_upgrade(request):
            return None
        origin = request.headers.get("Origin")
        if origin is None or self.accepts(origin, host=request.headers.get("Host", "")):
            return None
        message = (
            f"WebSocket connections from the page at {origin} are refused: only the server's own page "
            f"and clients that send no Origin may connect. To let that page steer, start the server "
            f"with --allow-origin {origin}\n"
        )
        return http_response(http.HTTPStatus.FORBIDDEN, message.encode())

    def accepts(self, origin: str, *, host: str) -> bool:
        """Whether a page from ``origin`` may connect to a server the browser reached as ``host``."""
        try:
            origin = normalize_origin(origin)
        except ValueError:
            return False  # "null" (a file:// page, a sandbox) and other opaque origins
        if origin in self.allowed:
            return True
        try:
            own = urlsplit(f"//{host.lower()}")
            own_port = own.port
        except ValueError:
            return False
        page = urlsplit(origin)
        if page.hostname != own.hostname or not _trusted_host(own.hostname or ""):
            return False
        return page.port == (own_port or _DEFAULT_PORTS[page.scheme]) or page.port in set(self._page_ports())


def _trusted_host(host: str) -> bool:
    """Whether a ``Host`` name can only mean this machine: an IP address, ``localhost``, or its own name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return True
    names = {socket.gethostname().lower()}
    names |= {f"{name}.local" for name in names} | {socket.getfqdn().lower()}
    return host in names
