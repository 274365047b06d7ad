"""IMD cannot carry a token: with one set, the IMD ports listen on loopback only and the log says why."""

from __future__ import annotations

import logging
import socket

from costeer.server.access import AccessPolicy
from costeer.server.imd.server import ImdServer
from costeer.server.transport import SessionParts


def test_with_a_token_imd_listens_on_loopback_only_and_says_why(caplog) -> None:
    parts = SessionParts.standalone(address="0.0.0.0", access=AccessPolicy(token="s3cret"))
    with caplog.at_level(logging.WARNING), ImdServer(parts, port=0, version=3) as imd:
        assert imd.address == "127.0.0.1"
        assert imd._server.sockets[0].getsockname()[0] == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", imd.port), timeout=5):
            pass
    assert any(
        "listens on 127.0.0.1 only, not 0.0.0.0" in record.getMessage() and "IMD clients cannot send one" in record.getMessage()
        for record in caplog.records
    )


def test_without_a_token_imd_listens_where_the_server_does() -> None:
    assert ImdServer(SessionParts.standalone(address="0.0.0.0"), port=0).address == "0.0.0.0"
    assert ImdServer(SessionParts.standalone(address="::1", access=AccessPolicy(token="t")), port=0).address == "::1"
