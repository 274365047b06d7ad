"""The access policy at the WebSocket port: every HTTP request (upgrade or page) is checked first.

A request presents its token as the query parameter ``token``, an ``Authorization: Bearer``
header, or the ``costeer_token`` cookie that a page request with ``?token=`` sets (so the
page's own scripts and styles, and its WebSocket, need no token in their URLs). A request
without a valid token is answered ``401 Unauthorized`` with a message saying how to give
one; the first refusal from each address is logged.

    gate = AccessGate(policy, secure=tls is not None, refusals=MistakeLog("access control:"))
    role, response = gate.answer(connection, request, hooks)   # in a port's process_request
"""

from __future__ import annotations

import http
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ..access import AccessPolicy, Role, bearer_token, refusal_message
from ..mistakes import MistakeLog

__all__ = ["AccessGate", "Admission", "admit", "presented_token", "refusal_response", "remember_token", "TOKEN_QUERY", "TOKEN_COOKIE"]

TOKEN_QUERY = "token"
TOKEN_COOKIE = "costeer_token"
SINGLE_HEADERS = ("Host", "Origin", "Authorization", "Upgrade")
"""Headers the checks read as one value: a request that repeats one is refused (400), not guessed at."""



@dataclass(frozen=True)
class Admission:
    """The policy's answer to one request: a role, or the response refusing it."""

    role: Role | None
    refusal: Response | None = None
    query_token: str | None = None
    """The token given in the URL's query, for ``remember_token``."""


def presented_token(request: Request) -> tuple[str | None, str | None]:
    """``(token, query token)``: the token the request presents (query, then header, then
    cookie), and the one in its query, if any."""
    query = parse_qs(urlsplit(request.path).query).get(TOKEN_QUERY)
    query_token = query[-1] if query else None
    if query_token is not None:
        return query_token, query_token
    header = bearer_token(request.headers.get("Authorization"))
    if header is not None:
        return header, None
    return _cookie(request.headers), None


def _cookie(headers: Headers) -> str | None:
    cookies = SimpleCookie()
    for value in headers.get_all("Cookie"):
        try:
            cookies.load(value)
        except CookieError:
            continue
    morsel = cookies.get(TOKEN_COOKIE)
    return None if morsel is None else morsel.value


def admit(policy: AccessPolicy, request: Request, host: str, *, refusals: MistakeLog) -> Admission:
    """Check one request from ``host`` against ``policy``; a refused one gets its 401 response, and
    is noted in ``refusals`` (each host and reason logged once: a client retrying cannot flood the log)."""
    if not policy.enabled:
        return Admission(Role.STEER)
    token, query_token = presented_token(request)
    role = policy.role_for(token)
    if role is not None:
        return Admission(role, query_token=query_token)
    reason = "a wrong token" if token is not None else "no token"
    refusals.note(f"refused {request.path.split('?')[0]!r} from {host}: {reason} (HTTP 401)", kind=f"{host} {reason}")
    body = refusal_message(token is not None) + "\n"
    return Admission(None, refusal_response(http.HTTPStatus.UNAUTHORIZED, body, {"WWW-Authenticate": 'Bearer realm="costeer"'}))


def refusal_response(status: http.HTTPStatus, body: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text response refusing a request; the connection closes after it."""
    data = body.encode()
    fields = {**(headers or {}), "Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(data)), "Connection": "close"}
    return Response(status.value, status.phrase, Headers(fields), data)


def remember_token(response: Response, token: str, *, secure: bool) -> None:
    """Let a page fetched with ``?token=`` reach its own files and WebSocket without it: set
    the token as an HttpOnly, same-site cookie on the page's response."""
    if response.status_code != http.HTTPStatus.OK:
        return
    cookie = SimpleCookie()
    cookie[TOKEN_COOKIE] = token
    morsel = cookie[TOKEN_COOKIE]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    morsel["secure"] = secure
    response.headers["Set-Cookie"] = morsel.OutputString()


class AccessGate:
    """The access policy in front of one port's request hooks (the WebSocket port, the page port).

    Every request is admitted first: a refused one gets its 401 and no hook sees it. The first
    hook that answers an admitted request answers it, with the ``?token=`` remembered as a cookie.
    """

    def __init__(self, policy: AccessPolicy, *, secure: bool, refusals: MistakeLog) -> None:
        self.policy = policy
        self.secure = secure
        """Whether the port speaks TLS (the token cookie is then ``Secure``)."""
        self._refusals = refusals

    def answer(
        self, connection: Any, request: Request, hooks: Sequence[Callable[[Any, Request], "Response | None"]]
    ) -> "tuple[Role | None, Response | None]":
        """``(role, response)``: ``(None, 401)`` when refused; else the role the token gives and the
        first hook's response (``None`` when no hook answers: the WebSocket handshake follows)."""
        remote = connection.remote_address
        host = str(remote[0]) if remote else "an unknown address"
        repeated = next((name for name in SINGLE_HEADERS if len(request.headers.get_all(name)) > 1), None)
        if repeated is not None:
            self._refusals.note(f"refused a request from {host} that repeats its {repeated} header (HTTP 400)",
                                kind=f"{host} repeated {repeated}")
            return None, refusal_response(http.HTTPStatus.BAD_REQUEST, f"the request repeats its {repeated} header: send it once\n")
        admission = admit(self.policy, request, host, refusals=self._refusals)
        if admission.refusal is not None:
            return None, admission.refusal
        for hook in hooks:
            response = hook(connection, request)
            if response is not None:
                if admission.query_token is not None:
                    remember_token(response, admission.query_token, secure=self.secure)
                return admission.role, response
        return admission.role, None
