"""``costeer serve --remote`` and ``--cloud-discovery``: what is refused before serving (the served
session: ``tests/compat/test_remote_hub.py`` and ``tests/server/test_cloud_discovery.py``)."""

from __future__ import annotations

import pytest

from costeer.cli.main import main


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--remote", "http://hub:38801", "ws://HOST:PORT"), ("--cloud-discovery", "https://example.org", "--cloud-discovery")],
)
def test_a_bad_url_is_refused_before_anything_loads(capsys, option, value, message):
    assert main(["serve", option, value]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_hub_stops_serve_with_a_clear_error(capsys, free_port, nanotube_xml):
    url = f"ws://127.0.0.1:{free_port}"
    assert main(["serve", "--omm", str(nanotube_xml), "--platform", "Reference", "--remote", url, "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert f"cannot reach the hub at {url}" in error and "--remote" in error
