"""NanoVer's own client against ``costeer serve`` over wss, and with tokens (a real server process)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from costeer.server.tls import make_self_signed

pytestmark = pytest.mark.slow


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    make_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", hosts=["localhost", "127.0.0.1"])
    return tmp_path / "cert.pem", tmp_path / "key.pem"


@pytest.fixture
def secure_client(nanover_python: Path, nanover_side: Path):
    def run(scenario: str, url: str, *, trust: Path | None = None) -> dict[str, Any]:
        env = {**os.environ, **({"SSL_CERT_FILE": str(trust)} if trust else {})}
        command = [str(nanover_python), str(nanover_side / "secure_client.py"), scenario, "--url", url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)
        assert done.returncode == 0, f"{scenario} against {url} failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout)

    return run


def test_nanover_client_over_wss_with_a_self_signed_certificate(costeer_server, secure_client, certificate, tmp_path) -> None:
    cert, key = certificate
    server = costeer_server("--ssl", str(cert), str(key), "--task", "nanotube")
    assert server.url.startswith("wss://127.0.0.1:")
    seen = secure_client("frames", server.url, trust=cert)
    assert seen["particle_count"] > 0 and seen["frames"] >= 5
    seen = secure_client("frames", server.url.replace("127.0.0.1", "localhost"), trust=cert)
    assert seen["particle_count"] > 0
    untrusted = secure_client("refused", server.url)  # nobody told the client to trust it
    assert untrusted["status"] == "untrusted certificate" and "self-signed" in untrusted["body"]


def test_nanover_client_with_tokens(costeer_server, secure_client) -> None:
    server = costeer_server("--token", "teacher-s3cret", "--viewer-token", "class-2026", "--task", "nanotube")
    refused = secure_client("refused", server.url)
    assert refused["status"] == 401 and "NanoVer's XR client cannot send a token" in refused["body"]
    assert secure_client("refused", server.url + "/?token=wrong")["status"] == 401
    assert secure_client("steer", server.url + "/?token=teacher-s3cret") == {"pause": "ok", "play": "ok"}
    viewer = secure_client("steer", server.url + "/?token=class-2026")
    assert "viewers may not run 'playback/pause'" in viewer["pause"]
    assert secure_client("frames", server.url + "/?token=class-2026")["particle_count"] > 0
