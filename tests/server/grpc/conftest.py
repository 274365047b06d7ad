"""The gRPC transport's fixtures: a server with two fake simulations, its port, legacy clients."""

from __future__ import annotations

from typing import Any

import pytest

from costeer.server.app import CosteerServer


@pytest.fixture
def server(fake_simulation):
    from costeer.server.grpc.server import grpc_transport

    sims = [fake_simulation("alpha", 5), fake_simulation("beta", 7)]
    with CosteerServer(sims, port=0, frame_rate=60.0, transports=[grpc_transport(port=0)]) as srv:
        yield srv


@pytest.fixture
def grpc_port(server) -> int:
    transport = next(transport for transport in server.transports if transport.name == "grpc")
    return transport.port


@pytest.fixture
def legacy(grpc_port):
    from tests.server.grpc.legacy import LegacyClient

    clients: list[Any] = []

    def make(namespace: str, token: str, **options: Any) -> Any:
        client = LegacyClient(grpc_port, namespace, token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
