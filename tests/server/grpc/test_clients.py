"""Access tokens to client ids, and clients leaving with their connection's last stream (no sockets)."""

from __future__ import annotations

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

from costeer.server.grpc.clients import ClientBook, TooManyClientsError  # noqa: E402
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


def test_one_connection_may_name_only_so_many_access_tokens(parts):
    book = ClientBook(parts, max_tokens_per_connection=2)
    book.client_for("app-a", HEADSET)
    book.client_for("app-b", HEADSET)
    with pytest.raises(TooManyClientsError, match="3 access tokens from one connection .* at most 2"):
        book.client_for("app-c", HEADSET)
    assert book.client_for("app-a", HEADSET) == "grpc-1", "its known tokens still work"
    assert book.client_for("app-c", LAPTOP) == "grpc-3", "other connections are not held to its count"


def test_a_full_book_lets_the_oldest_client_without_a_stream_go_for_a_new_one(parts):
    # clients that only ever make unary calls never leave by themselves: tokens made up one
    # after another must not grow the book (nor the connection events) without end
    book = ClientBook(parts, max_clients=3)
    departures = []
    parts.connection_listeners.append(lambda client, address, connected: connected or departures.append(client))
    streaming = book.client_for("headset", HEADSET)
    book.stream_opened(HEADSET)
    first = book.client_for("one-off-1", "ipv4:10.0.0.9:1")
    parts.state.update({"avatar.x": {}}, origin=first)
    book.client_for("one-off-2", "ipv4:10.0.0.9:2")
    assert book.client_for("one-off-3", "ipv4:10.0.0.9:3") == "grpc-4"
    assert departures == [first] and "avatar.x" not in parts.state.snapshot()
    book.client_for("one-off-4", "ipv4:10.0.0.9:4")
    assert departures == [first, "grpc-3"], "the headset, holding a stream, stays"
    assert book.client_for("headset", HEADSET) == streaming
    book.stream_opened("ipv4:10.0.0.9:3")
    book.stream_opened("ipv4:10.0.0.9:4")
    with pytest.raises(TooManyClientsError, match="already serves 3 gRPC clients"):
        book.client_for("one-more", "ipv4:10.0.0.9:5")
