"""ESSD: announce the server on the LAN the way NanoVer does (UDP broadcast to port 54545).

Every ``interval`` seconds a UTF-8 JSON service hub is sent to each target broadcast
address: ``{"name", "address", "id", "essd_version": "1.0.0", "services": {"ws": port, ...}}``,
one entry per service of every transport the server runs (``Transport.discovery_services``).
``address`` is the IP that clients on that network should connect to. NanoVer's VR
client and ``DiscoveryClient`` listen for these.

    with DiscoveryBroadcaster(name="costeer", services={"ws": 38801}, address="0.0.0.0"):
        ...
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import uuid
from typing import Mapping, Sequence

__all__ = ["DiscoveryBroadcaster", "broadcast_targets", "ESSD_PORT", "ESSD_VERSION", "MAX_MESSAGE_BYTES", "service_hub_message"]

ESSD_PORT = 54545
ESSD_VERSION = "1.0.0"
MAX_MESSAGE_BYTES = 1024
"""NanoVer's clients read at most this many bytes of a datagram."""

_ANY_ADDRESSES = {"", "0.0.0.0", "::", "[::]"}
_log = logging.getLogger(__name__)


def service_hub_message(*, name: str, address: str, hub_id: str, services: Mapping[str, int]) -> bytes:
    """One ESSD datagram; raises ``ValueError`` if it is longer than clients accept."""
    message = json.dumps(
        {"name": name, "address": address, "id": hub_id, "essd_version": ESSD_VERSION, "services": dict(services)}
    ).encode()
    if len(message) > MAX_MESSAGE_BYTES:
        raise ValueError(f"the discovery message is {len(message)} bytes (max {MAX_MESSAGE_BYTES}): use a shorter --name")
    return message


class DiscoveryBroadcaster:
    """Broadcasts one service hub over ESSD from a background thread.

        broadcaster = DiscoveryBroadcaster(name="costeer", services={"ws": 38801}, address="0.0.0.0")
        broadcaster.start(); ...; broadcaster.close()

    ``targets`` lists ``(destination, advertised address)`` pairs; by default they come
    from the machine's IPv4 interfaces that match ``address`` (all of them for
    ``0.0.0.0``; the loopback address itself for ``127.0.0.1``).
    """

    def __init__(
        self,
        *,
        name: str,
        services: Mapping[str, int],
        address: str,
        port: int = ESSD_PORT,
        interval: float = 0.5,
        targets: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.services = dict(services)
        self.address = address
        self.port = port
        self.interval = interval
        self.hub_id = str(uuid.uuid4())
        self.targets = list(targets) if targets is not None else broadcast_targets(address)
        if not self.targets:
            raise ValueError(
                f"no network interface can broadcast for address {address!r}; "
                "serve on 0.0.0.0 or on one of this machine's LAN addresses"
            )
        self._messages = [
            ((destination, port), service_hub_message(name=name, address=advertised, hub_id=self.hub_id, services=services))
            for destination, advertised in self.targets
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start broadcasting."""
        self._thread = threading.Thread(target=self._run, name="costeer-discovery", daemon=True)
        self._thread.start()
        _log.info("ESSD: announcing %r to %s on UDP %d", self.name, [t[0] for t in self.targets], self.port)

    def close(self) -> None:
        """Stop broadcasting."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            while True:
                for destination, message in self._messages:
                    try:
                        sock.sendto(message, destination)
                    except OSError as error:
                        _log.warning("ESSD: cannot send to %s:%d (%s)", destination[0], destination[1], error)
                if self._stop.wait(self.interval):
                    return

    def __enter__(self) -> "DiscoveryBroadcaster":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def broadcast_targets(address: str) -> list[tuple[str, str]]:
    """``(broadcast address, own address)`` for the IPv4 interfaces serving ``address``."""
    if address in ("localhost",) or (address not in _ANY_ADDRESSES and ipaddress.ip_address(address).is_loopback):
        return [("127.0.0.1", "127.0.0.1")]
    try:
        import psutil
    except ImportError:
        raise ImportError("discovery on a LAN address needs psutil: pip install psutil") from None
    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    targets = []
    for interface, entries in psutil.net_if_addrs().items():
        if interface not in up:
            continue
        for entry in entries:
            if entry.family != socket.AF_INET or not entry.broadcast:
                continue
            if address in _ANY_ADDRESSES or address == entry.address:
                targets.append((entry.broadcast, entry.address))
    return targets
