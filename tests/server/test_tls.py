"""TLS: certificate files checked with messages naming the file, self-signed pairs cached, wss served."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest

from costeer.client import NanoverSession
from costeer.server.tls import TlsCredentials, TlsError, client_context, make_self_signed, self_signed
from costeer.server.transport import SessionParts
from costeer.server.websocket.server import WebSocketServer


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made here, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    make_self_signed(folder / "cert.pem", folder / "key.pem", hosts=["localhost", "127.0.0.1"])
    return folder / "cert.pem", folder / "key.pem"


def encrypted_copy(key: Path, password: str, folder: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    path = folder / "encrypted-key.pem"
    path.write_bytes(loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ))
    return path


def test_a_good_pair_loads_and_makes_a_server_context(pair: tuple[Path, Path]) -> None:
    credentials = TlsCredentials.load(*pair)
    assert isinstance(credentials.server_context(), ssl.SSLContext)
    assert b"BEGIN PRIVATE KEY" in credentials.key_pem
    assert "BEGIN" not in repr(credentials)


def test_an_encrypted_key_needs_its_password(pair: tuple[Path, Path], tmp_path: Path) -> None:
    certificate, key = pair
    encrypted = encrypted_copy(key, "hunter2", tmp_path)
    with pytest.raises(TlsError, match=f"{encrypted} is encrypted: give its password"):
        TlsCredentials.load(certificate, encrypted)
    with pytest.raises(TlsError, match=f"password does not decrypt the private key {encrypted}"):
        TlsCredentials.load(certificate, encrypted, "wrong")
    credentials = TlsCredentials.load(certificate, encrypted, "hunter2")
    credentials.server_context()
    assert b"ENCRYPTED" not in credentials.key_pem  # gRPC gets it decrypted, in memory


@pytest.mark.parametrize("problem", ["missing certificate", "missing key", "certificate not PEM", "key not PEM", "folder", "other key", "needless password"])
def test_unusable_files_are_named(problem: str, pair: tuple[Path, Path], tmp_path: Path) -> None:
    certificate, key = pair
    der = tmp_path / "cert.der"
    der.write_bytes(b"\x30\x82\x01\x0a binary")
    make_self_signed(tmp_path / "other.pem", tmp_path / "other-key.pem")
    cases = {
        "missing certificate": ((tmp_path / "nope.pem", key), f"certificate file {tmp_path / 'nope.pem'} does not exist"),
        "missing key": ((certificate, tmp_path / "nokey.pem"), f"private key file {tmp_path / 'nokey.pem'} does not exist"),
        "certificate not PEM": ((der, key), f"{der} is not a PEM certificate"),
        "key not PEM": ((certificate, certificate), f"{certificate} is not a PEM private key"),
        "folder": ((tmp_path, key), f"{tmp_path} is a folder"),
        "other key": ((certificate, tmp_path / "other-key.pem"), "does not belong to the certificate"),
        "needless password": ((certificate, key, "pw"), "is not encrypted: leave out the password"),
    }
    arguments, message = cases[problem]
    with pytest.raises(TlsError, match=message.replace(".", r"\.")) as error:
        TlsCredentials.load(*arguments)
    assert str(error.value).startswith("--ssl: ")


def test_self_signed_is_made_once_and_remade_for_a_new_host(tmp_path: Path) -> None:
    from cryptography import x509

    first = self_signed(folder=tmp_path)
    again = self_signed(folder=tmp_path)
    assert again.certificate_pem == first.certificate_pem
    other = self_signed(["10.1.2.3"], folder=tmp_path)
    assert other.certificate_pem != first.certificate_pem
    certificate = x509.load_pem_x509_certificate(other.certificate_pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.1.2.3"} <= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert certificate.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)
    assert (tmp_path / "costeer-self-signed-key.pem").stat().st_mode & 0o077 == 0


def test_client_context_names_a_bad_ca_file(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="does not exist"):
        client_context(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(TlsError, match="holds no PEM certificate"):
        client_context(tmp_path / "junk.pem")


def test_costeer_client_over_wss(pair: tuple[Path, Path]) -> None:
    certificate, key = pair
    parts = SessionParts.standalone(tls=TlsCredentials.load(certificate, key))
    parts.state.update({"scene": {"hello": 1}})
    with WebSocketServer(parts, port=0) as server:
        assert server.scheme == "wss"
        assert server.discovery_services == {"wss": server.port}

        async def session_state(url: str, context: ssl.SSLContext | None) -> dict:
            async with NanoverSession.connect(url, ssl=context, open_timeout=5) as session:
                await session.wait_for_state(lambda state: "scene" in state)
                return dict(session.state)

        for host in ("127.0.0.1", "localhost"):
            state = asyncio.run(session_state(f"wss://{host}:{server.port}", client_context(certificate)))
            assert state["scene"] == {"hello": 1}
        with pytest.raises(ssl.SSLCertVerificationError):  # a self-signed certificate nobody said to trust
            asyncio.run(session_state(f"wss://127.0.0.1:{server.port}", None))
        unverified = asyncio.run(session_state(f"wss://127.0.0.1:{server.port}", client_context(verify=False)))
        assert unverified["scene"] == {"hello": 1}


def test_plain_websocket_still_announces_ws() -> None:
    with WebSocketServer(SessionParts.standalone(), port=0) as server:
        assert server.scheme == "ws" and server.discovery_services == {"ws": server.port}


def test_discovery_announces_wss(fake_simulation, pair: tuple[Path, Path]) -> None:
    import json
    import socket

    from costeer.server.app import CosteerServer
    from costeer.server.discovery import ESSD_PORT

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", ESSD_PORT))
        listener.settimeout(5)
        tls = TlsCredentials.load(*pair)
        with CosteerServer([fake_simulation()], port=0, discovery=True, name="secure lab", tls=tls) as server:
            assert server.url == f"wss://127.0.0.1:{server.port}"
            while (hub := json.loads(listener.recv(2048)))["name"] != "secure lab":
                pass
    assert hub["services"] == {"wss": server.port, "https": server.port}  # the page too, as NanoVer announces its page


def test_a_page_hook_is_served_over_https_and_its_token_cookie_is_secure(pair: tuple[Path, Path]) -> None:
    import http
    import urllib.request

    from costeer.server.access import AccessPolicy

    def page(connection, request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return connection.respond(http.HTTPStatus.OK, "<html>costeer</html>")

    parts = SessionParts.standalone(tls=TlsCredentials.load(*pair), access=AccessPolicy(token="t0ken"))
    with WebSocketServer(parts, port=0, request_hooks=[page]) as server:
        context = client_context(pair[0])
        with urllib.request.urlopen(f"https://localhost:{server.port}/?token=t0ken", context=context, timeout=5) as reply:
            assert reply.read() == b"<html>costeer</html>"
            assert "Secure" in reply.headers["Set-Cookie"]


@pytest.mark.slow
def test_nanovers_client_discovers_the_wss_service_and_connects(fake_simulation, pair, nanover_python, nanover_side) -> None:
    import json
    import os
    import socket
    import subprocess

    from costeer.server.app import CosteerServer
    from costeer.server.discovery import DiscoveryBroadcaster

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        udp_port = probe.getsockname()[1]
    with CosteerServer([fake_simulation()], port=0, frame_rate=60.0, tls=TlsCredentials.load(*pair)) as server:
        # what start() announces with discovery=True, sent to a free port instead of 54545
        with DiscoveryBroadcaster(name="secure lab", services=server.discovery_services, address="127.0.0.1", port=udp_port, interval=0.1):
            done = subprocess.run(
                [str(nanover_python), str(nanover_side / "secure_client.py"), "discover", "--name", "secure lab", "--discovery-port", str(udp_port)],
                capture_output=True, text=True, timeout=90, env={**os.environ, "SSL_CERT_FILE": str(pair[0])},
            )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["services"] == {"wss": server.port, "https": server.port}
    assert seen["url"] == f"wss://127.0.0.1:{server.port}" and seen["particle_count"] == 5


def test_close_after_failed_and_unfinished_tls_handshakes_is_quick_and_clean(pair, caplog) -> None:
    import gc
    import logging
    import socket
    import time

    from websockets.exceptions import InvalidMessage
    from websockets.sync.client import connect

    server = WebSocketServer(SessionParts.standalone(tls=TlsCredentials.load(*pair)), port=0)
    server.start()
    with pytest.raises(InvalidMessage):  # plain ws:// to a wss port: the handshake fails
        connect(f"ws://127.0.0.1:{server.port}", open_timeout=3)
    half_open = socket.create_connection(("127.0.0.1", server.port))  # never says hello
    time.sleep(0.2)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        server.close()
        gc.collect()
    half_open.close()
    assert time.monotonic() - started < 3
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
