"""OriginCheck: no Origin and the page's own origin connect, --allow-origin adds others, the rest get 403."""

from __future__ import annotations

import socket

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from costeer.server.web.origin import OriginCheck, normalize_origin


def _upgrade(host: str = "127.0.0.1:38801", origin: str | None = None) -> Request:
    headers = Headers({"Host": host, "Upgrade": "websocket", "Connection": "Upgrade"})
    if origin is not None:
        headers["Origin"] = origin
    return Request("/", headers)


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:38801", "https://127.0.0.1:38801", "HTTP://127.0.0.1:38801"])
def test_clients_without_origin_and_the_own_page_connect(origin):
    assert OriginCheck()(None, _upgrade(origin=origin)) is None


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "http://evil.example:38801", "null", "http://localhost:38801", "ftp://127.0.0.1:38801"])
def test_other_pages_are_refused_with_403_naming_allow_origin(origin):
    response = OriginCheck()(None, _upgrade(origin=origin))
    assert response.status_code == 403
    assert b"--allow-origin" in response.body


def test_allow_origin_adds_a_page_and_default_ports_are_filled_in():
    check = OriginCheck(["https://lab.example.org", "http://10.0.0.5:8080/"])
    assert check(None, _upgrade(origin="https://lab.example.org:443")) is None
    assert check(None, _upgrade(origin="http://10.0.0.5:8080")) is None
    assert check(None, _upgrade(origin="http://lab.example.org")).status_code == 403


def test_the_web_port_page_on_the_same_host_is_the_servers_own():
    check = OriginCheck(page_ports=lambda: [8080])
    assert check(None, _upgrade(origin="http://127.0.0.1:8080")) is None
    assert check(None, _upgrade(origin="http://127.0.0.2:8080")).status_code == 403


def test_a_host_without_port_means_the_schemes_default():
    assert OriginCheck()(None, _upgrade(host="10.0.0.5", origin="https://10.0.0.5")) is None


@pytest.mark.parametrize("host", ["localhost:38801", "[::1]:38801", f"{socket.gethostname()}:38801", f"{socket.gethostname()}.local:38801"])
def test_the_own_page_on_loopback_or_this_machines_name_connects(host):
    assert OriginCheck()(None, _upgrade(host=host, origin=f"http://{host}")) is None


def test_a_foreign_name_pointed_at_this_machine_is_not_the_own_page():
    """DNS rebinding: evil.example resolves to the server, so Host and Origin agree."""
    response = OriginCheck()(None, _upgrade(host="evil.example:38801", origin="http://evil.example:38801"))
    assert response.status_code == 403
    assert OriginCheck(["http://evil.example:38801"])(None, _upgrade(host="evil.example:38801", origin="http://evil.example:38801")) is None


def test_plain_gets_are_not_the_checks_business():
    request = Request("/", Headers({"Host": "127.0.0.1:38801", "Origin": "http://evil.example"}))
    assert OriginCheck()(None, request) is None


@pytest.mark.parametrize("bad", ["lab.example.org", "http://", "http://host:port", "http://host/path", "ws://host:1"])
def test_a_malformed_allowed_origin_is_refused_saying_what_an_origin_is(bad):
    with pytest.raises(ValueError, match="scheme://host"):
        normalize_origin(bad)
