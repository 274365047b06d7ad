"""The page and the origin check wired into ``CosteerServer`` (``WebSettings``), and ``--web-port``."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from costeer.server.app import CosteerServer
from costeer.server.web import WebSettings, page_url


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>costeer page</title>")
    return root


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _opens(url: str, origin: str | None) -> bool:
    with connect(url, origin=origin, open_timeout=5):
        return True


def test_the_websocket_port_serves_the_page_and_its_settings(fake_simulation, site):
    with CosteerServer([fake_simulation()], port=0, web=WebSettings(static_dir=site)) as server:
        base = page_url("127.0.0.1", server.port)
        assert _get(base) == (200, b"<!doctype html><title>costeer page</title>")
        status, body = _get(base + "costeer-web.json")
        assert status == 200 and json.loads(body) == {"websocket_port": server.port}
        assert _get(base + "../etc/passwd")[0] == 404


def test_headsets_and_the_own_page_connect_other_pages_get_403(fake_simulation, site):
    with CosteerServer([fake_simulation()], port=0, web=WebSettings(static_dir=site, allow_origins=("https://lab.example.org",))) as server:
        url = f"ws://127.0.0.1:{server.port}"
        assert _opens(url, None)
        assert _opens(url, f"http://127.0.0.1:{server.port}")
        assert _opens(url, "https://lab.example.org")
        with pytest.raises(InvalidStatus) as refused:
            _opens(url, "http://evil.example")
        assert refused.value.response.status_code == 403
        assert b"--allow-origin http://evil.example" in refused.value.response.body


def test_the_web_port_serves_the_page_which_may_connect_to_the_websocket(fake_simulation, site):
    with CosteerServer([fake_simulation()], port=0, web=WebSettings(static_dir=site, port=0)) as server:
        pages = next(transport for transport in server.transports if transport.name == "web")
        assert pages.client_count == 0 and pages.discovery_services == {}
        assert server.discovery_services == {"ws": server.port}
        web = page_url("127.0.0.1", pages.port)
        assert _get(web)[0] == 200
        assert json.loads(_get(web + "costeer-web.json")[1]) == {"websocket_port": server.port}
        assert _opens(f"ws://127.0.0.1:{server.port}", f"http://127.0.0.1:{pages.port}")
        with pytest.raises(InvalidStatus):
            _opens(f"ws://127.0.0.1:{pages.port}", None)  # that port is the page's only


def test_an_unbuilt_page_says_how_to_build_it_and_the_websocket_still_serves(fake_simulation, tmp_path):
    with CosteerServer([fake_simulation()], port=0, web=WebSettings(static_dir=tmp_path / "none")) as server:
        status, body = _get(page_url("127.0.0.1", server.port))
        assert status == 503 and b"make setup-web" in body
        assert _opens(f"ws://127.0.0.1:{server.port}", None)


def test_without_web_settings_nothing_but_the_websocket_is_served(fake_simulation):
    with CosteerServer([fake_simulation()], port=0, web=None) as server:
        assert _get(page_url("127.0.0.1", server.port))[0] == 426  # websockets: Upgrade Required
        assert _opens(f"ws://127.0.0.1:{server.port}", "http://evil.example")


def test_a_malformed_allowed_origin_is_refused_at_once():
    with pytest.raises(ValueError, match="scheme://host"):
        WebSettings(allow_origins=("lab.example.org",))


@pytest.mark.parametrize(("address", "url"), [("127.0.0.1", "http://127.0.0.1:1/"), ("0.0.0.0", "http://127.0.0.1:1/"), ("::1", "http://[::1]:1/")])
def test_the_page_url_is_one_a_browser_on_this_machine_opens(address, url):
    assert page_url(address, 1) == url


def test_the_web_port_keeps_the_sessions_token_and_tls(fake_simulation, site, tmp_path):
    from costeer.server.access import AccessPolicy
    from costeer.server.tls import TlsCredentials, client_context, make_self_signed

    make_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", hosts=["127.0.0.1"])
    tls, trust = TlsCredentials.load(tmp_path / "cert.pem", tmp_path / "key.pem"), client_context(tmp_path / "cert.pem")
    settings = WebSettings(static_dir=site, port=0)
    with CosteerServer([fake_simulation()], port=0, web=settings, tls=tls, access=AccessPolicy(token="t0ken")) as server:
        pages = next(transport for transport in server.transports if transport.name == "web")
        web = page_url("127.0.0.1", pages.port, scheme="https")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(web, context=trust, timeout=5)
        assert refused.value.code == 401
        with urllib.request.urlopen(web + "?token=t0ken", context=trust, timeout=5) as reply:
            assert reply.status == 200 and "Secure" in reply.headers["Set-Cookie"]
        assert server.discovery_services == {"wss": server.port, "https": pages.port}


@pytest.mark.parametrize("repeated", ["Origin", "Host", "Authorization"])
def test_a_request_repeating_a_header_read_once_gets_400_and_the_server_serves_on(fake_simulation, site, caplog, repeated):
    # which of two Origins (or Hosts, or tokens) would the checks judge? Neither: say so
    with CosteerServer([fake_simulation()], port=0, web=WebSettings(static_dir=site)) as server:
        values = {"Origin": "http://evil.example", "Host": "127.0.0.1", "Authorization": "Bearer x"}
        lines = ["GET / HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                 f"{repeated}: {values[repeated]}", f"{repeated}: {values[repeated]}"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400 ") and f"repeats its {repeated} header".encode() in answer, answer
        assert "Traceback" not in caplog.text and "process_request failed" not in caplog.text
        assert _opens(f"ws://127.0.0.1:{server.port}", None)
