"""Access control: tokens at the WebSocket handshake and on the page, viewers who watch but cannot steer."""

from __future__ import annotations

import http
import logging
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import connect

from costeer.server.access import AccessPolicy, Role, bearer_token
from costeer.server.app import CosteerServer
from costeer.server.session import ClientMessage, ClientSession, StatePart
from costeer.server.state import SharedState
from costeer.server.commands import CommandRegistry
from costeer.server.transport import SessionParts
from costeer.server.websocket.server import WebSocketServer
from tests.waiting import wait_until

POLICY = AccessPolicy(token="teacher-s3cret", viewer_token="class-2026")


# -- the policy ------------------------------------------------------------------------------


def test_without_tokens_everyone_steers() -> None:
    policy = AccessPolicy()
    assert not policy.enabled
    assert policy.role_for(None) is Role.STEER and policy.role_for("anything") is Role.STEER


def test_tokens_give_roles_and_refuse_the_rest() -> None:
    assert POLICY.role_for("teacher-s3cret") is Role.STEER
    assert POLICY.role_for("class-2026") is Role.VIEW
    assert POLICY.role_for(None) is None
    assert POLICY.role_for("teacher-s3cre") is None
    assert POLICY.role_for("") is None
    assert "s3cret" not in repr(POLICY)


def test_viewers_may_only_list() -> None:
    assert AccessPolicy.may_run(Role.VIEW, "commands/list") and AccessPolicy.may_run(Role.VIEW, "playback/list")
    assert not AccessPolicy.may_run(Role.VIEW, "playback/play")
    assert AccessPolicy.may_run(Role.STEER, "playback/play")


def test_tokens_come_from_the_environment_unless_given() -> None:
    environ = {"COSTEER_TOKEN": "env-token", "COSTEER_VIEWER_TOKEN": "env-viewer"}
    assert AccessPolicy.from_options(environ=environ) == AccessPolicy("env-token", "env-viewer")
    assert AccessPolicy.from_options(token="given", environ=environ).token == "given"
    assert not AccessPolicy.from_options(environ={"COSTEER_TOKEN": ""}).enabled


@pytest.mark.parametrize(
    ("token", "viewer", "message"),
    [("", None, "--token must be a non-empty"), (" padded", None, "--token must be"), (None, "v", "needs --token"),
     ("same", "same", "must differ"), ("t", "bell\a", "--viewer-token must be")],
)
def test_unusable_tokens_are_refused_saying_why(token, viewer, message) -> None:
    with pytest.raises(ValueError, match=message):
        AccessPolicy(token=token, viewer_token=viewer)


def test_bearer_tokens_are_read_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


# -- a viewer's session, without I/O ---------------------------------------------------------


def test_a_viewer_session_sends_nothing_to_the_state_and_its_commands_are_answered_as_refused(caplog) -> None:
    state, registry, sent = SharedState(), CommandRegistry(), []
    registry.register("playback/play", lambda: "played")
    registry.register("playback/list", lambda: {"simulations": ["a"]})
    viewer = ClientSession("ws-9", state=state, commands=registry, send_command=sent.append, role=Role.VIEW)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            viewer.receive(ClientMessage(state=StatePart(updates={"avatar.v": {"x": 1}}, removals=[])))
        viewer.receive(ClientMessage(commands=(
            {"request": {"name": "playback/play", "arguments": {}, "id": 1}},
            {"request": {"name": "playback/list", "arguments": {}, "id": 2}},
            {"register": {"name": "sneaky", "arguments": {}}},
        )))
    assert state.snapshot() == {}
    assert "sneaky" not in registry.names
    assert sent[0] == {"request": {"name": "playback/play", "arguments": {}, "id": 1},
                       "exception": "refused: viewers may not run 'playback/play' (only listing commands); connect with the steering token"}
    assert sent[1]["response"] == {"simulations": ["a"]}
    warnings = [record.getMessage() for record in caplog.records]
    assert sum("state changes are refused" in line for line in warnings) == 1  # once, however often
    assert any("'playback/play' is refused" in line for line in warnings)
    assert any("registering commands is refused" in line for line in warnings)


# -- the WebSocket port ----------------------------------------------------------------------


@pytest.fixture
def server(fake_simulation):
    with CosteerServer([fake_simulation("alpha")], port=0, frame_rate=60.0, access=POLICY) as served:
        yield served


def refused(url: str, **options) -> Response:
    with pytest.raises(InvalidStatus) as error:
        connect(url, open_timeout=5, **options)
    return error.value.response


def test_no_token_or_a_wrong_one_gets_401_saying_what_to_do(server) -> None:
    url = f"ws://127.0.0.1:{server.port}"
    for response in (refused(url), refused(url + "/?token=nope"), refused(url, additional_headers={"Authorization": "Bearer nope"})):
        assert response.status_code == http.HTTPStatus.UNAUTHORIZED
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = response.body.decode()
        assert "?token=TOKEN" in body and "Authorization: Bearer TOKEN" in body
        assert "NanoVer's XR client cannot send a token" in body
    assert "needs an access token" in refused(url).body.decode()
    assert "not valid" in refused(url + "/?token=nope").body.decode()
    assert server.client_count == 0


def test_the_token_in_the_query_or_the_header_admits_a_steering_client(server, connect_client, make_spring) -> None:
    by_query = connect_client(f"ws://127.0.0.1:{server.port}/?token=teacher-s3cret")
    by_query.wait_for(lambda: by_query.frames)
    by_query.update_state({"interaction.q": make_spring()})
    by_query.wait_for(lambda: "interaction.q" in by_query.state)
    assert "exception" not in by_query.request("playback/pause")
    wait_until(lambda: server.runner.is_paused, what="the pause")  # the runner takes it on its own thread
    with connect(f"ws://127.0.0.1:{server.port}", additional_headers={"Authorization": "Bearer teacher-s3cret"}, open_timeout=5) as by_header:
        assert by_header.recv(timeout=5)


def test_a_viewer_receives_frames_and_state_but_cannot_steer(server, connect_client, make_spring) -> None:
    teacher = connect_client(f"ws://127.0.0.1:{server.port}/?token=teacher-s3cret")
    viewer = connect_client(f"ws://127.0.0.1:{server.port}/?token=class-2026")
    viewer.wait_for(lambda: viewer.last_index > 3 and viewer.state.get("simulation.name") == "alpha")
    viewer.update_state({"interaction.v": make_spring()})
    play = viewer.request("playback/pause")
    assert play["exception"].startswith("refused: viewers may not run 'playback/pause'")
    assert viewer.request("playback/list")["response"] == {"simulations": ["alpha"]}
    assert "commands/list" in str(viewer.request("commands/list")["response"])
    teacher.update_state({"interaction.t": make_spring()})
    viewer.wait_for(lambda: "interaction.t" in viewer.state)  # the viewer sees the teacher steer
    assert "interaction.v" not in server.state.snapshot()
    assert set(server.interactions.interactions) == {"interaction.t"}
    assert not server.runner.is_paused


def test_the_page_and_its_files_need_the_token_and_the_page_sets_a_cookie(fake_simulation) -> None:
    served_paths = []

    def page(connection, request):
        served_paths.append(request.path)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return connection.respond(http.HTTPStatus.OK, "<html>costeer</html>")

    parts = SessionParts.standalone(access=POLICY)
    with WebSocketServer(parts, port=0, request_hooks=[page]) as server:
        base = f"http://127.0.0.1:{server.port}"
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(base + "/", timeout=5)
        assert error.value.code == 401 and "needs an access token" in error.value.read().decode()
        assert served_paths == []  # the page hook never saw the refused request
        with urllib.request.urlopen(base + "/?token=class-2026", timeout=5) as reply:
            assert reply.read() == b"<html>costeer</html>"
            cookie = reply.headers["Set-Cookie"]
        assert cookie.startswith("costeer_token=class-2026") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie
        asset = urllib.request.Request(base + "/app.js", headers={"Cookie": "costeer_token=class-2026"})
        with urllib.request.urlopen(asset, timeout=5) as reply:
            assert reply.status == 200 and reply.headers["Set-Cookie"] is None
        with connect(f"ws://127.0.0.1:{server.port}/", additional_headers={"Cookie": "costeer_token=class-2026"}, open_timeout=5):
            pass  # the page's WebSocket, admitted by the cookie


def test_refusals_are_logged_once_per_address(server, caplog) -> None:
    url = f"ws://127.0.0.1:{server.port}"
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            refused(url)
        refused(url + "/?token=wrong")
    lines = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert lines == [
        "WebSocket access control: refused '/' from 127.0.0.1: no token (HTTP 401) (logged once per client)",
        "WebSocket access control: refused '/' from 127.0.0.1: a wrong token (HTTP 401) (logged once per client)",
    ]
