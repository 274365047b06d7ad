"""``costeer serve --ssl/--ssl-auto/--token/--viewer-token`` and the clients' ``--ca-file/--token``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from costeer.cli.connect import connection_options
from costeer.cli.main import build_parser, main
from costeer.client import NanoverSession
from costeer.server.tls import client_context, make_self_signed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ssl", "missing-cert.pem", "missing-key.pem"], "--ssl: the certificate file missing-cert.pem does not exist"),
        (["--ssl", "one.pem"], "--ssl takes CERT KEY"),
        (["--ssl", "a", "b", "--ssl-auto"], "not both"),
        (["--viewer-token", "class"], "--viewer-token needs --token"),
        (["--token", "same", "--viewer-token", "same"], "must differ"),
    ],
)
def test_bad_security_options_are_refused_before_anything_loads(argv, message, capsys, monkeypatch) -> None:
    monkeypatch.delenv("COSTEER_TOKEN", raising=False)
    monkeypatch.delenv("COSTEER_VIEWER_TOKEN", raising=False)
    assert main(["serve", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_key_that_is_not_the_certificates_is_named(tmp_path: Path, capsys) -> None:
    make_self_signed(tmp_path / "a.pem", tmp_path / "a-key.pem")
    make_self_signed(tmp_path / "b.pem", tmp_path / "b-key.pem")
    assert main(["serve", "--ssl", str(tmp_path / "a.pem"), str(tmp_path / "b-key.pem")]) == 2
    assert f"the private key {tmp_path / 'b-key.pem'} does not belong to the certificate" in capsys.readouterr().err


def test_client_connection_options(tmp_path: Path, monkeypatch) -> None:
    make_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem")
    parser = build_parser()
    monkeypatch.setenv("COSTEER_TOKEN", "from-env")
    plain = connection_options(parser.parse_args(["copilot", "--policy", "p.pt"]))
    assert plain == {"ssl": None, "token": "from-env"}
    trusted = connection_options(parser.parse_args(["copilot", "--policy", "p.pt", "--ca-file", str(tmp_path / "cert.pem"), "--token", "given"]))
    assert trusted["token"] == "given" and trusted["ssl"].check_hostname
    loose = connection_options(parser.parse_args(["copilot", "--policy", "p.pt", "--insecure"]))
    assert not loose["ssl"].check_hostname


@pytest.mark.slow
def test_serve_ssl_auto_with_a_token_from_the_environment(costeer_server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("COSTEER_TOKEN", "lab-token")
    server = costeer_server("--ssl-auto", "--task", "nanotube")
    assert server.url.startswith("wss://127.0.0.1:")
    certificate = tmp_path / "costeer" / "tls" / "costeer-self-signed-cert.pem"
    assert certificate.exists()
    server.printed("clients need the token")

    async def atoms(token: str | None) -> int:
        async with NanoverSession.connect(server.url, ssl=client_context(certificate), token=token) as session:
            frame = await session.wait_for_frame(timeout=30)
            return len(frame["particle.positions"])

    assert asyncio.run(atoms("lab-token")) > 0
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus, match="401"):
        asyncio.run(atoms(None))
