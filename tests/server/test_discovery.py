"""ESSD on loopback: our datagrams, read by a plain socket and by NanoVer's own DiscoveryClient."""

from __future__ import annotations

import json
import socket
import subprocess
import textwrap

import pytest

from costeer.server.discovery import DiscoveryBroadcaster, broadcast_targets, service_hub_message


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_message_has_nanovers_fields():
    message = json.loads(service_hub_message(name="lab", address="10.0.0.2", hub_id="x", services={"ws": 38801}))
    assert message == {"name": "lab", "address": "10.0.0.2", "id": "x", "essd_version": "1.0.0",
                       "services": {"ws": 38801}}


def test_too_long_a_name_is_refused():
    with pytest.raises(ValueError, match="shorter --name"):
        service_hub_message(name="x" * 2000, address="1.2.3.4", hub_id="x", services={})


def test_loopback_server_announces_on_loopback_only():
    assert broadcast_targets("127.0.0.1") == [("127.0.0.1", "127.0.0.1")]


def test_datagrams_arrive_on_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        with DiscoveryBroadcaster(name="costeer", services={"ws": 1234}, address="127.0.0.1", port=port, interval=0.05) as b:
            first = json.loads(listener.recv(2048))
            second = json.loads(listener.recv(2048))
    assert first == second
    assert first["id"] == b.hub_id and first["services"] == {"ws": 1234} and first["address"] == "127.0.0.1"


@pytest.mark.slow
def test_nanovers_discovery_client_finds_us(nanover_python):
    port = free_udp_port()
    script = textwrap.dedent(f"""
        import json
        from nanover.essd import DiscoveryClient
        with DiscoveryClient("127.0.0.1", {port}) as client:
            for hub in client.search_for_services(search_time=10.0):
                print(json.dumps(hub.properties), flush=True)
                break
    """)
    with DiscoveryBroadcaster(name="costeer test", services={"ws": 38801}, address="127.0.0.1", port=port, interval=0.1):
        result = subprocess.run([str(nanover_python), "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[0])
    assert found["name"] == "costeer test" and found["services"] == {"ws": 38801}
    assert found["address"] == "127.0.0.1" and found["essd_version"] == "1.0.0"
