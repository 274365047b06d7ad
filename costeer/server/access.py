"""Access control: who may connect (a token) and who may steer (steering token) or only watch (viewer token).

Off by default: on a trusted LAN anyone who reaches the port steers, as with NanoVer. With
``--token`` (or ``COSTEER_TOKEN``) a client must present that token to connect at all; with
``--viewer-token`` (or ``COSTEER_VIEWER_TOKEN``) as well, a client presenting that one is
admitted as a viewer: it receives frames and the shared state, but its state changes and
its commands are refused (``READ_ONLY_COMMANDS`` excepted), so a classroom watches while
the teacher steers. Tokens are compared in constant time (``hmac.compare_digest``).

Each transport asks the same policy: the WebSocket (query ``?token=``, ``Authorization:
Bearer``, or the page's cookie: ``websocket.access``), gRPC (call metadata
``authorization: Bearer``: ``grpc.access``); IMD cannot carry a token, so with a token set
its ports listen on loopback only. NanoVer's XR client cannot send a token at all.

    policy = AccessPolicy.from_options(token="s3cret", viewer_token="class")
    policy.role_for("class")            # Role.VIEW
    policy.role_for(None)               # None: refused
    policy.may_run(Role.VIEW, "playback/play")   # False
"""

from __future__ import annotations

import enum
import hmac
import os
from dataclasses import dataclass, field
from typing import Mapping

from costeer.core import keys

__all__ = [
    "AccessPolicy",
    "Role",
    "READ_ONLY_COMMANDS",
    "TOKEN_ENV",
    "VIEWER_TOKEN_ENV",
    "refusal_message",
    "bearer_token",
]

TOKEN_ENV = "COSTEER_TOKEN"
VIEWER_TOKEN_ENV = "COSTEER_VIEWER_TOKEN"
READ_ONLY_COMMANDS = frozenset({keys.LIST_COMMANDS, keys.LIST_COMMAND})
"""Commands a viewer may run: they list what exists and change nothing."""


class Role(enum.Enum):
    """What an admitted client may do."""

    STEER = "steer"
    """Everything: state changes (interactions, avatars), commands."""
    VIEW = "view"
    """Receive frames and state; its state changes and commands (but ``READ_ONLY_COMMANDS``) are refused."""


@dataclass(frozen=True)
class AccessPolicy:
    """The server's tokens; without any, every client steers (the default, as NanoVer).

        AccessPolicy()                                  # open
        AccessPolicy(token="s3cret", viewer_token="class")
    """

    token: str | None = field(default=None, repr=False)
    """Admits a client as ``Role.STEER``; when set, a client without a valid token is refused."""
    viewer_token: str | None = field(default=None, repr=False)
    """Admits a client as ``Role.VIEW``; needs ``token`` (someone must be able to steer)."""

    def __post_init__(self) -> None:
        for option, value in (("--token", self.token), ("--viewer-token", self.viewer_token)):
            if value is not None and (not value or value != value.strip() or not value.isprintable()):
                raise ValueError(f"{option} must be a non-empty token without spaces at its ends or control characters")
        if self.viewer_token is not None and self.token is None:
            raise ValueError("--viewer-token needs --token too (the steering token): without it anyone could steer")
        if self.token is not None and self.token == self.viewer_token:
            raise ValueError("--token and --viewer-token must differ: a viewer would steer")

    @classmethod
    def from_options(
        cls, *, token: str | None = None, viewer_token: str | None = None, environ: Mapping[str, str] = os.environ
    ) -> "AccessPolicy":
        """The options, else the environment (``COSTEER_TOKEN``, ``COSTEER_VIEWER_TOKEN``; an empty one is unset)."""
        return cls(
            token=token if token is not None else (environ.get(TOKEN_ENV) or None),
            viewer_token=viewer_token if viewer_token is not None else (environ.get(VIEWER_TOKEN_ENV) or None),
        )

    @property
    def enabled(self) -> bool:
        """Whether connecting needs a token."""
        return self.token is not None

    def role_for(self, presented: str | None) -> Role | None:
        """The role a client presenting ``presented`` (``None``: no token) gets; ``None``: refused."""
        if not self.enabled:
            return Role.STEER
        if presented is None:
            return None
        if _same(presented, self.token):
            return Role.STEER
        if self.viewer_token is not None and _same(presented, self.viewer_token):
            return Role.VIEW
        return None

    @staticmethod
    def may_run(role: Role, command: str) -> bool:
        """Whether a client of ``role`` may run ``command``."""
        return role is Role.STEER or command in READ_ONLY_COMMANDS


def _same(presented: str, expected: str | None) -> bool:
    """Constant-time comparison (a timing attack learns nothing of the token)."""
    return expected is not None and hmac.compare_digest(presented.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value; ``None`` if there is none."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def refusal_message(presented: bool) -> str:
    """What a refused client is told (HTTP 401 body, gRPC UNAUTHENTICATED details)."""
    why = "the access token given is not valid" if presented else "this costeer server needs an access token"
    return (
        f"{why}. Connect with ?token=TOKEN in the URL (ws://host:port/?token=TOKEN, or the page's URL) "
        "or the header 'Authorization: Bearer TOKEN' (gRPC: call metadata 'authorization: Bearer TOKEN'); "
        "ask the server's operator for the token. NanoVer's XR client cannot send a token: to use one, run "
        "the server without --token on a trusted network."
    )
