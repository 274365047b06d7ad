"""The remote link against a stand-in hub (a WebSocket server in the test that logs what it gets).

Frames and the local state go up, the hub's state comes down as one client's writes and
steers, its command requests run here, nothing echoes, and the link survives the hub going away.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, Callable

import msgpack
import pytest
from websockets.sync.server import ServerConnection, serve

from costeer.core import keys
from costeer.server.backoff import Backoff
from costeer.server.remote import RemoteLink, check_hub_url, remote_transport
from costeer.server.transport import SessionParts
from tests.waiting import first_arrival, wait_until

PULL = {"position": [0.0, 0.0, 1.0], "particles": [1], "type": "spring", "scale": 10.0, "owner.id": "u1"}


class StandInHub:
    """Accepts one publisher at a time; keeps every message it got; can send, drop and restart."""

    def __init__(self, port: int = 0, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.connections: list[ServerConnection] = []
        self._changed = threading.Condition()
        self._server = serve(self._handle, "127.0.0.1", port, max_size=None, compression=None, ssl=ssl_context)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, connection: ServerConnection) -> None:
        with self._changed:
            self.connections.append(connection)
            self._changed.notify_all()
        for data in connection:
            with self._changed:
                self.received.append(msgpack.unpackb(data, strict_map_key=False))
                self._changed.notify_all()

    def wait_for(self, found: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 5.0) -> dict[str, Any]:
        return first_arrival(self.received, self._changed, found, after=after, timeout=timeout,
                             what=lambda: f"the hub never got such a message; it got {len(self.received)}")

    def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.connections) >= count, timeout), "the link did not connect"

    def send(self, message: dict[str, Any]) -> None:
        self.connections[-1].send(msgpack.packb(message, use_bin_type=True))

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def state_has(key: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: key in message.get("state", {}).get("updates", {})


@pytest.fixture
def hub():
    hub = StandInHub()
    yield hub
    hub.close()


@pytest.fixture
def parts():
    parts = SessionParts.standalone()
    yield parts
    parts.hub.close()
    parts.state.close()
    parts.command_executor.shutdown(wait=False)


@pytest.fixture
def link(hub, parts):
    played = []
    parts.commands.register(keys.PLAY_COMMAND, lambda: played.append(1) or "playing")
    link = RemoteLink(parts, url=hub.url, backoff=Backoff(first=0.05, cap=0.2))
    link.played = played
    link.start()
    hub.wait_connections(1)
    yield link
    link.close()


def test_frames_go_up_starting_with_a_reset(hub, parts, link):
    parts.hub.send_frame({keys.PARTICLE_COUNT: 3, keys.SIMULATION_TIME: 0.5})
    first = hub.wait_for(lambda m: "frame" in m)
    assert first["frame"][keys.FRAME_INDEX] == 0  # the hub starts a new sequence with it
    assert first["frame"][keys.PARTICLE_COUNT] == 3
    parts.hub.send_frame({keys.SIMULATION_TIME: 0.6})
    later = hub.wait_for(lambda m: m.get("frame", {}).get(keys.SIMULATION_TIME) == 0.6)
    assert later["frame"][keys.FRAME_INDEX] == 2


def test_the_sessions_commands_are_registered_with_the_hub_but_not_its_list(hub, link):
    hub.wait_for(lambda m: "register" in m.get("command", {}))
    names = {m["command"]["register"]["name"] for m in hub.received if "register" in m.get("command", {})}
    assert names == {keys.PLAY_COMMAND}


def test_the_hubs_command_requests_run_here_and_are_answered(hub, link):
    hub.wait_for(lambda m: "register" in m.get("command", {}))
    hub.send({"command": {"request": {"name": keys.PLAY_COMMAND, "arguments": {}, "id": 7}}})
    reply = hub.wait_for(lambda m: "response" in m.get("command", {}))
    assert reply["command"] == {"request": {"name": keys.PLAY_COMMAND, "arguments": {}, "id": 7}, "response": "playing"}
    assert link.played == [1]


def test_the_hubs_state_comes_down_as_the_links_writes_and_is_not_echoed(hub, parts, link):
    parts.state.update({"scene": "local"})
    hub.wait_for(state_has("scene"))
    hub.send({"state": {"updates": {"interaction.p": PULL, "avatar.u1": {"x": 1}}, "removals": []}})
    assert wait_until(lambda: parts.state.get("interaction.p")) == PULL
    assert parts.state.last_writers()["interaction.p"] == "remote-1"
    assert "interaction.p" in parts.interactions.interactions  # the gate took it: it steers
    hub.send({"state": {"updates": {"scene": "local"}, "removals": []}})  # the echo of ours
    parts.state.update({"marker": 1})
    marker = hub.wait_for(state_has("marker"))
    sent_up = [m for m in hub.received if "state" in m]
    assert not any("interaction.p" in m["state"]["updates"] for m in sent_up)
    assert parts.state.last_writers().get("scene") is None  # still the server's own write
    assert marker["state"]["updates"] == {"marker": 1}


def test_our_frames_coming_back_from_the_hub_are_dropped_quietly(hub, parts, link, caplog):
    hub.send({"frame": {keys.FRAME_INDEX: 4, keys.PARTICLE_COUNT: 3}})
    hub.send({"state": {"updates": {"after.frame": 1}, "removals": []}})
    wait_until(lambda: parts.state.get("after.frame"))
    assert "frame" not in caplog.text


def test_the_hubs_values_of_the_servers_keys_are_not_taken(hub, parts, link, caplog):
    parts.state.update({keys.STATE_SIMULATION_NAME: "tube"})
    hub.wait_for(state_has(keys.STATE_SIMULATION_NAME))
    hub.send({"state": {"updates": {keys.STATE_SIMULATION_NAME: "hub's own", "after": 1}, "removals": []}})
    wait_until(lambda: parts.state.get("after"))
    assert parts.state.get(keys.STATE_SIMULATION_NAME) == "tube"
    assert "refused" not in caplog.text


def test_a_hub_removal_comes_down(hub, parts, link):
    hub.send({"state": {"updates": {"interaction.p": PULL}, "removals": []}})
    wait_until(lambda: parts.state.get("interaction.p"))
    hub.send({"state": {"updates": {}, "removals": ["interaction.p"]}})
    wait_until(lambda: parts.state.get("interaction.p") is None)


def test_when_the_hub_goes_away_its_pulls_stop_and_the_link_comes_back(parts):
    hub = StandInHub()
    port = hub.port
    parts.commands.register(keys.PLAY_COMMAND, lambda: None)
    seen = []
    parts.connection_listeners.append(lambda *event: seen.append(event))
    link = RemoteLink(parts, url=hub.url, backoff=Backoff(first=0.05, cap=0.2))
    link.start()
    try:
        hub.wait_connections(1)
        hub.send({"state": {"updates": {"interaction.p": PULL}, "removals": []}})
        wait_until(lambda: parts.state.get("interaction.p"))
        assert link.client_count == 1
        hub.close()
        wait_until(lambda: parts.state.get("interaction.p") is None)
        wait_until(lambda: not link.connected)
        hub = StandInHub(port)
        hub.wait_connections(1)
        hub.wait_for(lambda m: "register" in m.get("command", {}))  # registered again
        hub.send({"state": {"updates": {"interaction.q": PULL}, "removals": []}})
        wait_until(lambda: parts.state.get("interaction.q"))
        assert parts.state.last_writers()["interaction.q"] == "remote-2"
        url = f"ws://127.0.0.1:{port}"
        assert seen == [("remote-1", url, True), ("remote-1", url, False), ("remote-2", url, True)]
    finally:
        link.close()
        hub.close()


def test_a_hub_over_wss_with_a_self_signed_certificate_trusted_through_ssl_cert_file(parts, self_signed, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # what the README tells users to do
    hub = StandInHub(ssl_context=self_signed[0])
    link = RemoteLink(parts, url=hub.url)
    try:
        link.start()
        parts.hub.send_frame({keys.PARTICLE_COUNT: 3})
        assert hub.wait_for(lambda m: "frame" in m)["frame"][keys.PARTICLE_COUNT] == 3
    finally:
        link.close()
        hub.close()


def test_close_leaves_the_hub_and_removes_its_keys_on_both_sides(hub, parts, link):
    parts.state.update({"simulation.name": "tube"})
    hub.wait_for(state_has("simulation.name"))
    hub.send({"state": {"updates": {"interaction.p": PULL}, "removals": []}})
    wait_until(lambda: parts.state.get("interaction.p"))
    link.close()
    assert parts.state.get("interaction.p") is None
    farewell = hub.wait_for(lambda m: "simulation.name" in m.get("state", {}).get("removals", []))
    assert "interaction.p" not in farewell["state"]["removals"]  # the hub's own keys stay there
    assert not link.connected
    link.close()  # twice is fine


def test_start_fails_at_once_when_no_hub_answers(parts, free_port):
    link = RemoteLink(parts, url=f"ws://127.0.0.1:{free_port}")
    with pytest.raises(OSError, match=rf"cannot reach the hub at ws://127.0.0.1:{free_port}"):
        link.start()
    link.close()


@pytest.mark.parametrize("url", ["http://hub:38801", "hub:38801", "ws://"])
def test_a_url_that_is_not_a_websocket_one_is_refused(url):
    with pytest.raises(ValueError, match="ws://HOST:PORT"):
        check_hub_url(url)
    with pytest.raises(ValueError):
        remote_transport(url)


def test_the_link_is_a_transport_without_a_port(parts, hub):
    link = remote_transport(hub.url)(parts)
    assert (link.name, link.port, link.client_count, link.discovery_services) == ("remote", None, 0, {})
