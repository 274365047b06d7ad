"""Advertise the server to a discovery service on the internet (``--cloud-discovery HOST``).

NanoVer's scheme: the server opens a WebSocket to ``wss://HOST/``, the service sends a profile
(a JSON object, ``{"id": ...}``), and the server answers with its listing, a JSON object of its
name and the URLs of its WebSocket and page services::

    {"name": "costeer", "ws": "ws://192.0.2.7:38801", "wss": "wss://192.0.2.7:38802", "https": "https://192.0.2.7:38803"}

The service lists the server for as long as that connection stays open, so ``CloudAdvert``
keeps it open while serving and closes it at exit. Failures (no such host, a refused
handshake, the service dropping the connection) are logged at WARNING and retried with a
growing delay; serving goes on meanwhile. ``HOST`` may name a scheme (``ws://127.0.0.1:9000``,
for a local stand-in service); without one it is ``wss``.

    advert = CloudAdvert("discovery.example.org", listing=server_listing("costeer", {"ws": 38801}, "192.0.2.7"))
    advert.start(); ...; advert.close()
    advertise_server(server, "discovery.example.org")   # a started CosteerServer: closed with it
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl as ssl_module
import threading
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from .backoff import Backoff

if TYPE_CHECKING:
    from .app import CosteerServer

__all__ = ["CloudAdvert", "advertise_server", "discovery_url", "server_listing", "advertised_address", "LISTED_SERVICES"]

LISTED_SERVICES = ("wss", "ws", "https")
"""The services a listing names, as NanoVer's: the WebSocket ones and the page."""
OPEN_TIMEOUT = 10.0
"""Seconds to connect and to receive the profile."""

_ANY_ADDRESSES = {"", "0.0.0.0", "::", "[::]"}
_log = logging.getLogger(__name__)


def discovery_url(host: str) -> str:
    """The service's WebSocket URL: ``wss://HOST/``, or ``HOST`` itself when it names ``ws://`` or ``wss://``."""
    if "://" in host:
        parts = urlsplit(host)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"--cloud-discovery takes a host name (wss is used) or a ws:// or wss:// URL; got {host!r}")
        return host if parts.path else f"{host}/"
    if not host or "/" in host:
        raise ValueError(f"--cloud-discovery takes a host name such as discovery.example.org; got {host!r}")
    return f"wss://{host}/"


def server_listing(name: str, services: Mapping[str, int], address: str) -> dict[str, str]:
    """The listing sent to the service: ``name`` and a URL per listed service the server runs."""
    host = f"[{address}]" if ":" in address else address
    listing = {"name": name}
    for protocol in LISTED_SERVICES:
        if protocol in services:
            listing[protocol] = f"{protocol}://{host}:{services[protocol]}"
    return listing


def advertised_address(listen_address: str, *, toward: str) -> str:
    """The address to advertise: the one listened on, or for ``0.0.0.0`` the address this
    machine reaches ``toward`` (the service's URL) from, without sending anything."""
    if listen_address not in _ANY_ADDRESSES:
        return listen_address
    host = urlsplit(toward).hostname or ""
    try:
        family = socket.AF_INET6 if _is_ipv6(host) else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 443))  # UDP: chooses a route, sends nothing
            return str(probe.getsockname()[0])
    except OSError as error:
        _log.warning("cloud discovery: cannot tell this machine's address toward %s (%s); advertising 127.0.0.1", host, error)
        return "127.0.0.1"


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


class CloudAdvert:
    """Keeps the server listed on one discovery service from a background thread.

        advert = CloudAdvert("ws://127.0.0.1:9000", listing={"name": "costeer", "ws": "ws://127.0.0.1:38801"})
        advert.start()
        advert.profile        # what the service sent, once listed ({"id": ...}); None before
        advert.close()        # unlisted: the connection is closed
    """

    def __init__(
        self,
        host: str,
        *,
        listing: Mapping[str, str],
        backoff: Backoff | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.url = discovery_url(host)
        self.listing = dict(listing)
        self.profile: dict[str, Any] | None = None
        """The service's profile of this server while listed, else ``None``."""
        self._backoff = backoff or Backoff(first=1.0, cap=60.0)
        self._ssl = ssl
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connection: ClientConnection | None = None
        self._thread: threading.Thread | None = None
        self.listed = threading.Event()
        """Set while the service holds the listing (tests wait on it)."""

    def start(self) -> None:
        """Connect and advertise in the background; failures are logged and retried."""
        self._thread = threading.Thread(target=self._run, name="costeer-cloud-discovery", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Close the connection (the service unlists the server) and stop retrying; safe to call twice."""
        self._stop.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()
        if self._thread is not None:
            self._thread.join(timeout=OPEN_TIMEOUT + 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            failure: Exception | None = None
            try:
                self._advertise()
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError, ValueError) as error:
                failure = error
            delay = self._backoff.next()
            if failure is not None and not self._stop.is_set():
                _log.warning(
                    "cloud discovery at %s failed (%s: %s); serving goes on, trying again in %.1f s",
                    self.url, type(failure).__name__, failure, delay,
                )
            if self._stop.wait(delay):
                return

    def _advertise(self) -> None:
        """One connection: profile in, listing out, then held open until either side closes it."""
        secure = self._ssl if self.url.startswith("wss:") else None
        with connect(self.url, open_timeout=OPEN_TIMEOUT, close_timeout=2, ssl=secure) as connection:
            with self._lock:
                if self._stop.is_set():
                    return
                self._connection = connection
            try:
                profile = json.loads(connection.recv(timeout=OPEN_TIMEOUT))
                if not isinstance(profile, dict):
                    raise ValueError(f"the service's profile is not a JSON object: {profile!r}")
                connection.send(json.dumps(self.listing))
                self.profile = profile
                self.listed.set()
                self._backoff.reset()
                _log.info("cloud discovery: listed on %s as %s", self.url, profile.get("id", "?"))
                for _ in connection:  # nothing more is expected; wait until the connection ends
                    pass
            except ConnectionClosed:
                pass
            finally:
                self.listed.clear()
                self.profile = None
                with self._lock:
                    self._connection = None
        if not self._stop.is_set():
            raise ConnectionError("the service closed the connection")


def advertise_server(
    server: "CosteerServer", host: str, *, hub: str | None = None, ssl: ssl_module.SSLContext | None = None
) -> CloudAdvert:
    """List a started ``server`` on the service at ``host`` until it closes (a companion of the server).

    With ``hub`` (``--remote``: the server is reached through that hub) the listing names the
    hub's URL instead of the server's own addresses, which its users cannot reach.
    """
    url = discovery_url(host)
    if hub is not None:
        listing = {"name": server.name, urlsplit(hub).scheme: hub}
    else:
        listing = server_listing(server.name, server.discovery_services, advertised_address(server.address, toward=url))
    advert = CloudAdvert(host, listing=listing, ssl=ssl)
    advert.start()
    server.companions.append(("cloud discovery", advert.close))
    return advert
