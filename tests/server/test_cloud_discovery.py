"""Cloud discovery against a stand-in service (a WebSocket server in the test, ws and wss), and
``costeer serve --cloud-discovery`` listed on it.

The service speaks NanoVer's scheme: it sends a profile, takes the listing, and lists the
server while the connection is open.
"""

from __future__ import annotations

import json
import logging
import signal
import ssl
import threading
import time
from types import SimpleNamespace

import pytest
from websockets.sync.server import ServerConnection, serve

from costeer.server.backoff import Backoff
from costeer.server.cloud_discovery import CloudAdvert, advertise_server, advertised_address, discovery_url, server_listing


class StandInService:
    """Sends ``{"id": ...}``, keeps each listing it gets and notes when its connection closed."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.listings: list[dict] = []
        self.closed = threading.Event()
        self.listed = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", port, ssl=ssl_context)
        self.port = self._server.socket.getsockname()[1]
        scheme = "wss" if ssl_context is not None else "ws"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"id": f"server-{len(self.listings) + 1}"}))
        self.listings.append(json.loads(connection.recv()))
        self.listed.set()
        for _ in connection:
            pass
        self.closed.set()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


LISTING = server_listing("costeer", {"ws": 38801, "wss": 38802, "grpc": 38800}, "192.0.2.7")


def test_the_listing_names_the_websocket_and_page_services():
    assert LISTING == {"name": "costeer", "ws": "ws://192.0.2.7:38801", "wss": "wss://192.0.2.7:38802"}
    assert server_listing("x", {"https": 443}, "::1") == {"name": "x", "https": "https://[::1]:443"}


def test_a_host_means_wss_and_a_url_keeps_its_scheme():
    assert discovery_url("discovery.example.org") == "wss://discovery.example.org/"
    assert discovery_url("ws://127.0.0.1:9000") == "ws://127.0.0.1:9000/"
    for bad in ("https://example.org", "a/b", ""):
        with pytest.raises(ValueError, match="--cloud-discovery"):
            discovery_url(bad)


def test_the_advertised_address_is_the_one_listened_on_or_the_route_to_the_service():
    assert advertised_address("192.0.2.7", toward="wss://example.org/") == "192.0.2.7"
    assert advertised_address("0.0.0.0", toward="ws://127.0.0.1:9000/") == "127.0.0.1"


def test_listed_over_ws_while_open_and_unlisted_at_close():
    service = StandInService()
    advert = CloudAdvert(service.url, listing=LISTING)
    try:
        advert.start()
        assert advert.listed.wait(5) and service.listed.wait(5)
        assert service.listings == [LISTING]
        assert advert.profile == {"id": "server-1"}
        assert not service.closed.wait(0.3)  # held open while serving
        advert.close()
        assert service.closed.wait(5)
        assert advert.profile is None
    finally:
        advert.close()
        service.close()


def test_a_server_served_through_a_hub_is_listed_at_the_hubs_url():
    service = StandInService()
    server = SimpleNamespace(name="lab-gpu", discovery_services={"ws": 38801}, address="127.0.0.1", companions=[])
    try:
        advertise_server(server, service.url, hub="wss://hub.example.org:38801")
        assert service.listed.wait(5)
        assert service.listings == [{"name": "lab-gpu", "wss": "wss://hub.example.org:38801"}]
        assert [name for name, _ in server.companions] == ["cloud discovery"]
    finally:
        for _, close in server.companions:
            close()
        service.close()


def test_listed_over_wss_with_the_services_certificate(self_signed):
    server_context, client_context = self_signed
    service = StandInService(ssl_context=server_context)
    advert = CloudAdvert(service.url, listing=LISTING, ssl=client_context)
    try:
        advert.start()
        assert advert.listed.wait(5) and service.listed.wait(5)
        assert service.listings == [LISTING]
    finally:
        advert.close()
        service.close()


def test_an_unreachable_service_is_logged_and_retried_until_it_answers(free_port, caplog):
    advert = CloudAdvert(f"ws://127.0.0.1:{free_port}", listing=LISTING, backoff=Backoff(first=0.05, cap=0.1))
    service = None
    try:
        with caplog.at_level(logging.WARNING, logger="costeer.server.cloud_discovery"):
            advert.start()
            deadline = time.monotonic() + 5
            while "serving goes on" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.02)
        assert f"cloud discovery at ws://127.0.0.1:{free_port}/ failed" in caplog.text
        service = StandInService(port=free_port)
        assert advert.listed.wait(5) and service.listed.wait(5)
        assert service.listings == [LISTING]
    finally:
        advert.close()
        if service is not None:
            service.close()


def test_a_dropped_connection_is_listed_again():
    service = StandInService()
    advert = CloudAdvert(service.url, listing=LISTING, backoff=Backoff(first=0.05, cap=0.1))
    try:
        advert.start()
        assert advert.listed.wait(5)
        port = service.port
        service.close()
        service = StandInService(port=port)
        assert service.listed.wait(5)
        assert service.listings == [LISTING]
    finally:
        advert.close()
        service.close()


@pytest.mark.slow
def test_serve_is_listed_while_serving_and_unlisted_at_exit(costeer_server):
    service = StandInService()
    try:
        server = costeer_server("--task", "nanotube", "--name", "lab-gpu", "--cloud-discovery", service.url)
        assert service.listed.wait(30), server.output()
        assert service.listings == [{"name": "lab-gpu", "ws": f"ws://127.0.0.1:{server.port}"}]
        assert not service.closed.is_set()
        assert server.stop(sig=signal.SIGTERM) == 0
        assert service.closed.wait(5)
    finally:
        service.close()


@pytest.mark.slow
def test_serve_goes_on_when_the_discovery_service_is_unreachable(costeer_server, free_port):
    server = costeer_server("--task", "nanotube", "--cloud-discovery", f"ws://127.0.0.1:{free_port}")
    deadline = time.monotonic() + 15
    while "cloud discovery at" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"cloud discovery at ws://127.0.0.1:{free_port}/ failed" in server.output()
    assert "serving goes on" in server.output()
    assert server.process.poll() is None
