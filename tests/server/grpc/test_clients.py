"""Access tokens to client ids, and clients leaving with their connection's last stream (no sockets)."""

from __future__ import annotations

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

from costeer.server.grpc.clients import ClientBook  # noqa: E402
from costeer.server.transport import SessionParts  # noqa: E402

HEADSET, LAPTOP = "ipv4:10.0.0.7:50432", "ipv6:[::1]:50999"


@pytest.fixture
def parts() -> SessionParts:
    return SessionParts.standalone()


def test_each_token_is_one_client_wherever_it_writes_from(parts):
    book = ClientBook(parts)
    told = []
    parts.connection_listeners.append(lambda *event: told.append(event))
    assert book.client_for("app-a", HEADSET) == "grpc-1"
    assert book.client_for("app-b", HEADSET) == "grpc-2"
    assert book.client_for("app-a", LAPTOP) == "grpc-1"
    assert book.client_for("", LAPTOP) == "grpc-3", "no token: the connection is the client"
    assert told == [("grpc-1", "10.0.0.7:50432", True), ("grpc-2", "10.0.0.7:50432", True), ("grpc-3", "[::1]:50999", True)]


def test_clients_leave_with_the_last_stream_of_the_connection_they_wrote_from(parts):
    book = ClientBook(parts)
    departures = []
    parts.connection_listeners.append(
        lambda client, address, connected: connected or departures.append((client, sorted(parts.state.snapshot())))
    )
    stays = book.client_for("app-a", HEADSET)
    book.client_for("app-a", LAPTOP)  # app-a moved to the laptop's connection
    leaves = book.client_for("app-b", HEADSET)
    parts.state.update({"interaction.b": {"position": [0, 0, 0], "particles": [0]}, "avatar.b": {}}, origin=leaves)
    parts.state.update({"interaction.a": {"position": [0, 0, 0], "particles": [1]}}, origin=stays)
    for _ in range(2):
        book.stream_opened(HEADSET)
    book.stream_opened(LAPTOP)
    assert book.connection_count == 2
    book.stream_closed(HEADSET)
    assert departures == []
    book.stream_closed(HEADSET)
    assert departures == [(leaves, ["interaction.a"])], "its keys went before the listeners heard"
    assert book.connection_count == 1
    assert book.client_for("app-b", HEADSET) == "grpc-3", "a token that comes back is a new client"
    book.all_left()
    assert sorted(client for client, _ in departures[1:]) == sorted([stays, "grpc-3"])
    assert parts.state.snapshot() == {}
    assert book.connection_count == 0
