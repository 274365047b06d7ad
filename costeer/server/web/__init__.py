"""The web client's server side: its static files, the origin check, an optional page port.

``CosteerServer(..., web=WebSettings())`` (the default) serves the page built by
``make setup-web`` to plain HTTP GETs on the WebSocket port, and refuses WebSocket upgrades
from other pages' origins; ``WebSettings(port=8080)`` serves the page on a port of its own too.

    server = CosteerServer(simulations, port=0, web=WebSettings(allow_origins=["https://lab.example.org"]))
    print(f"http://127.0.0.1:{server.port}/")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..access import AccessPolicy
from ..tls import TlsCredentials
from ..websocket.server import RequestHook
from .origin import OriginCheck, normalize_origin
from .page_server import WebPageServer
from .static import STATIC_DIR, StaticPage

__all__ = ["WebSettings", "WebPageServer", "OriginCheck", "StaticPage", "STATIC_DIR", "normalize_origin", "page_url"]


@dataclass(frozen=True)
class WebSettings:
    """How the server serves its web page (``costeer serve --web-port``, ``--allow-origin``)."""

    port: int | None = None
    """Also serve the page on this port (``0`` picks a free one); ``None``: only on the WebSocket's."""
    allow_origins: tuple[str, ...] = ()
    """Other pages' origins (``scheme://host:port``) whose WebSocket connections are accepted."""
    static_dir: Path = STATIC_DIR
    """The built page."""

    def __post_init__(self) -> None:
        for origin in self.allow_origins:
            normalize_origin(origin)  # a typo is refused at start-up, saying what an origin looks like

    def hooks(self, *, websocket_port: Callable[[], int | None], page_ports: Callable[[], list[int]]) -> list[RequestHook]:
        """The WebSocket port's request hooks: the origin check, then the page."""
        page = StaticPage(self.static_dir, settings=lambda: {"websocket_port": websocket_port()})
        return [OriginCheck(self.allow_origins, page_ports=page_ports), page]

    def page_server(
        self,
        *,
        address: str,
        websocket_port: Callable[[], int | None],
        access: AccessPolicy | None = None,
        tls: TlsCredentials | None = None,
    ) -> WebPageServer | None:
        """The ``--web-port`` server (under the session's access policy and TLS), or ``None`` when no port is asked for."""
        if self.port is None:
            return None
        page = StaticPage(self.static_dir, settings=lambda: {"websocket_port": websocket_port()})
        return WebPageServer([page], address=address, port=self.port, access=access, tls=tls)


def page_url(address: str, port: int | None, *, scheme: str = "http") -> str:
    """The URL to open in a browser (``0.0.0.0`` and ``::`` shown as loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(address, address)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}/"
