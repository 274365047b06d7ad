"""``WebPageServer``: the web client on a port of its own (``costeer serve --web-port``).

A transport with no clients: an HTTP listener (websockets' own, with only request hooks)
that answers every request with the page's files; the page then connects to the WebSocket
port, which it learns from ``/costeer-web.json``. It keeps the session's rules: the access
policy admits each request first (``--token``: 401 without it), and with ``--ssl`` it speaks https.

    server = CosteerServer(simulations, web=WebSettings(port=8080))
"""

from __future__ import annotations

import asyncio
import http
from typing import Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from ..access import AccessPolicy
from ..loop_thread import LoopThread
from ..mistakes import MistakeLog
from ..tls import TlsCredentials
from ..websocket.access import AccessGate
from ..websocket.server import RequestHook
from .static import http_response

__all__ = ["WebPageServer", "CLOSE_GRACE_SECONDS"]

CLOSE_GRACE_SECONDS = 1.0
"""How long ``close`` lets requests under way finish before cancelling them."""


class WebPageServer:
    """Serves the page (through ``hooks``, in order) on ``address:port``; a ``Transport`` named ``web``.

        pages = WebPageServer([StaticPage()], address="127.0.0.1", port=0)
        pages.start(); print(f"http://127.0.0.1:{pages.port}/"); pages.close()
    """

    name = "web"

    def __init__(
        self,
        hooks: Sequence[RequestHook],
        *,
        address: str,
        port: int,
        access: AccessPolicy | None = None,
        tls: TlsCredentials | None = None,
    ) -> None:
        self.hooks = list(hooks)
        self._tls = tls
        self._gate = AccessGate(access or AccessPolicy(), secure=tls is not None, refusals=MistakeLog("web page access control:"))
        self.address = address
        self._requested_port = port
        self._loop_thread = LoopThread("costeer-web")
        self._server: Server | None = None
        self.port: int | None = None
        """The port actually listened on, once started."""

    @property
    def client_count(self) -> int:
        """Always 0: browsers fetch the page here, then connect to the WebSocket port."""
        return 0

    @property
    def discovery_services(self) -> dict[str, int]:
        """``{"https": port}`` over TLS (NanoVer announces its page so), else nothing."""
        return {"https": self.port} if self._tls is not None and self.port is not None else {}

    def start(self) -> None:
        """Listen (in a background thread); raises ``OSError`` naming --web-port if the port is taken."""
        self._server = self._loop_thread.listen(
            self._listen, where=f"for the web page on {self.address}:{self._requested_port}", option="--web-port"
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        """Stop listening; safe to call twice."""
        self._loop_thread.stop(None if self._server is None else self._shutdown, what="the web page server", timeout=3)

    async def _listen(self) -> Server:
        ssl = None if self._tls is None else self._tls.server_context()
        return await serve(self._refuse_upgrade, self.address, self._requested_port, process_request=self._answer, ssl=ssl)

    async def _shutdown(self) -> None:
        """Stop listening; a request still in its (TLS) handshake after a moment is cancelled, so no
        handler is left pending when the loop stops."""
        server = self._server
        assert server is not None
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE_SECONDS)
        except TimeoutError:
            pass
        pending = set(server.handler_tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE_SECONDS)

    def _answer(self, connection: ServerConnection, request: Request) -> Response:
        _, response = self._gate.answer(connection, request, self.hooks)
        if response is not None:
            return response
        return http_response(http.HTTPStatus.NOT_FOUND, b"this port serves the web page only; connect the WebSocket to the server's --port\n")

    async def _refuse_upgrade(self, connection: ServerConnection) -> None:
        """Never reached: ``_answer`` answers every request."""
        await connection.close()
