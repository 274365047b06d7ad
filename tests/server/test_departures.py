"""Clients that come, misbehave and go leave nothing behind but the shared keys they wrote last.

A server runs for hours while hundreds of clients join and leave (the soak in ``bench/soak.py``
does it for minutes); whatever the server keeps per client must go with the client.
"""

from __future__ import annotations

import gc
import socket

import pytest

from costeer.server.app import CosteerServer
from costeer.server.mistakes import MistakeLog
from costeer.server.session import ClientSession
from costeer.server.websocket.peer import PeerConnection
from tests.server.conftest import NanoverTestClient
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

VISITORS = 12


def held(clients: set[str]) -> dict[str, int]:
    """What anything still holds of the connections ``clients``: sessions, peers, mistake logs."""
    gc.collect()
    counts = {"sessions": 0, "peers": 0, "mistake logs": 0}
    for thing in gc.get_objects():
        kind = type(thing)  # not isinstance: it would ask torch's deprecated stand-ins for their __class__
        if kind is ClientSession and thing.connection_id in clients:
            counts["sessions"] += 1
        elif issubclass(kind, PeerConnection) and thing.session.connection_id in clients:
            counts["peers"] += 1
        elif kind is MistakeLog and thing.client in clients:
            counts["mistake logs"] += 1
    return counts


def visit(url: str, number: int, make_spring) -> None:
    """Join, write owned and shared keys, make every kind of mistake, and leave (every other one by dropping)."""
    client = NanoverTestClient(url)
    user = f"visitor-{number}"
    client.update_state({
        f"avatar.{user}": {"playarea": [0.0, 0.0, 0.0]},
        f"interaction.{user}": make_spring(particles=(number % 5,)),
        f"interaction.{user}-bad": make_spring(particles=(99,)),   # refused by the gate: no such atom
        f"selection.{user}": {"name": user},                       # shared: stays after the client
        "avatar.watcher": {"stolen": True},                         # refused: the watcher's
        "simulation.name": "mine",                                  # refused: the server's
    })
    client.send_raw(b"\xc1")                                        # not msgpack
    assert "unknown command" in client.request("playback/fly")["exception"]
    client.wait_for(lambda: f"interaction.{user}" in client.state and f"selection.{user}" in client.state)
    if number % 2:
        client.connection.socket.shutdown(socket.SHUT_RDWR)
    client.close()


def test_clients_that_misbehave_and_leave_leave_only_their_shared_keys(fake_simulation, connect_client, make_spring):
    with CosteerServer([fake_simulation("alpha", 5)], port=0, frame_rate=60.0) as server:
        url = f"ws://127.0.0.1:{server.port}"
        arrivals: list[str] = []
        server.connection_listeners.append(lambda client, address, connected: connected and arrivals.append(client))
        watcher = connect_client(url)
        watcher.update_state({"avatar.watcher": {"playarea": [1.0, 0.0, 0.0]}})
        watcher.wait_for(lambda: "avatar.watcher" in watcher.state)
        ownership = server.state.ownership
        watcher_id = ownership.owner_of("avatar.watcher")

        for number in range(VISITORS):
            visit(url, number, make_spring)

        visitors = set(arrivals) - {watcher_id}
        departed = [f"visitor-{number}" for number in range(VISITORS)]
        assert len(visitors) == VISITORS
        watcher.wait_for(lambda: not any(key.startswith(("avatar.visitor", "interaction.visitor")) for key in watcher.state))
        wait_until(lambda: held(visitors)["peers"] == 0 and server.runner.simulation.interactions == {})

        assert held(visitors) == {"sessions": 0, "peers": 0, "mistake logs": 0}
        assert held({watcher_id}) == {"sessions": 1, "peers": 1, "mistake logs": 1}
        assert sorted(ownership.left_behind()) == sorted(f"selection.{user}" for user in departed)
        assert set(ownership.last_writers().values()) == {watcher_id}
        assert all(ownership.owner_of(f"avatar.{user}") is None for user in departed)
        assert server.interactions.released == {}
        assert watcher.state["avatar.watcher"] == {"playarea": [1.0, 0.0, 0.0]}
        assert watcher.state["simulation.name"] == "alpha"
