"""StaticPage: the page to plain GETs, upgrades passed on, no escape from the folder, 503 unbuilt."""

from __future__ import annotations

import json

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from costeer.server.web.static import NOT_BUILT, SETTINGS_PATH, StaticPage


def _get(path: str, **headers: str) -> Request:
    return Request(path, Headers({"Host": "127.0.0.1:38801", **headers}))


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>costeer</title>")
    (root / "assets" / "app.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not for you")
    return root


def test_the_root_is_the_page_and_assets_are_served_by_path_with_their_types(site):
    page = StaticPage(site)
    index = page(None, _get("/?token=abc"))
    assert index.status_code == 200 and b"costeer" in index.body
    assert index.headers["Content-Type"].startswith("text/html")
    script = page(None, _get("/assets/app.js"))
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert int(script.headers["Content-Length"]) == len(script.body)


def test_a_websocket_upgrade_passes_on_to_the_handshake(site):
    assert StaticPage(site)(None, _get("/", Upgrade="websocket", Connection="Upgrade")) is None


@pytest.mark.parametrize("path", ["/nothing.js", "/assets", "/" + "a" * 5000, "/../secret.txt", "/assets/../../secret.txt",
                                  "/%2e%2e/secret.txt", "/..%2fsecret.txt", "//etc/passwd", "/assets\\..\\..\\secret.txt"])
def test_what_is_not_a_file_of_the_folder_is_not_found(site, path):
    response = StaticPage(site)(None, _get(path))
    assert response.status_code == 404
    assert b"not for you" not in response.body


def test_an_unbuilt_page_answers_503_saying_how_to_build_it(tmp_path):
    response = StaticPage(tmp_path / "missing")(None, _get("/"))
    assert response.status_code == 503 and response.body == NOT_BUILT.encode()
    assert b"make setup-web" in response.body


def test_the_settings_tell_the_page_its_websocket_port(site):
    response = StaticPage(site, settings=lambda: {"websocket_port": 4321})(None, _get(SETTINGS_PATH))
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"websocket_port": 4321}
