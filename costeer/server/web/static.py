"""``StaticPage``: the web client's built files, served to plain HTTP GETs on a WebSocket port.

A ``RequestHook`` (see ``server.websocket.server``): a request that asks for a WebSocket
upgrade passes on to the handshake; any other GET is answered here with a file of the
static folder (``/`` is ``index.html``), ``404`` for what is not there (or lies outside the
folder), and ``503`` saying to run ``make setup-web`` while the page has not been built.

    hook = StaticPage(STATIC_DIR, settings=lambda: {"websocket_port": server.port})
    WebSocketServer(parts, port=0, request_hooks=[hook])
"""

from __future__ import annotations

import http
import json
import mimetypes
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["StaticPage", "STATIC_DIR", "SETTINGS_PATH", "NOT_BUILT", "is_upgrade", "http_response"]

STATIC_DIR = Path(__file__).with_name("static")
"""Where ``make setup-web`` puts the built page (shipped as package data)."""
SETTINGS_PATH = "/costeer-web.json"
"""What the page asks first: where its WebSocket is (``{"websocket_port": N}``)."""
NOT_BUILT = "the web client is not built: run make setup-web (npm ci && npm run build in web/)\n"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


def is_upgrade(request: Request) -> bool:
    """Whether ``request`` asks for a WebSocket (``Upgrade: websocket``)."""
    return "websocket" in request.headers.get("Upgrade", "").lower()


def http_response(status: http.HTTPStatus, body: bytes, content_type: str = "text/plain; charset=utf-8") -> Response:
    """A complete response that closes the connection (as websockets does after any non-101)."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


class StaticPage:
    """Serves the files under ``root`` to GETs without an ``Upgrade`` header.

        hook = StaticPage(STATIC_DIR)
        hook(connection, request)   # -> Response, or None for a WebSocket upgrade
    """

    def __init__(self, root: Path = STATIC_DIR, *, settings: Callable[[], dict[str, Any]] | None = None) -> None:
        self.root = Path(root)
        self._settings = settings

    @property
    def built(self) -> bool:
        """Whether the page is there to serve (``index.html`` in ``root``)."""
        return (self.root / "index.html").is_file()

    def __call__(self, connection: ServerConnection | None, request: Request) -> Response | None:
        if is_upgrade(request):
            return None
        return self.respond(request.path)

    def respond(self, target: str) -> Response:
        """The response to a GET of ``target`` (a request path, with any query)."""
        path = unquote(urlsplit(target).path)
        if path == SETTINGS_PATH:
            settings = self._settings() if self._settings is not None else {}
            return http_response(http.HTTPStatus.OK, json.dumps(settings).encode(), _TYPES[".json"])
        if not self.built:
            return http_response(http.HTTPStatus.SERVICE_UNAVAILABLE, NOT_BUILT.encode())
        file = self._file(path)
        if file is None:
            return http_response(http.HTTPStatus.NOT_FOUND, f"not found: {path}\n".encode())
        content_type = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return http_response(http.HTTPStatus.OK, file.read_bytes(), content_type)

    def _file(self, path: str) -> Path | None:
        """The file ``path`` names inside ``root``, or ``None`` (missing, a folder, or outside)."""
        relative = path.lstrip("/") or "index.html"
        if "\x00" in relative or "\\" in relative:
            return None
        root = self.root.resolve()
        try:
            file = (root / relative).resolve()
            if not file.is_relative_to(root) or not file.is_file():
                return None
        except OSError:  # a name too long for the file system, say: no such file either way
            return None
        return file
