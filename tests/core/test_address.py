"""Server addresses checked before connecting, and the error of a connection that failed."""

from __future__ import annotations

import pytest

from costeer.core.address import cannot_connect, connecting, server_url, shown


@pytest.mark.parametrize("url", ["ws://127.0.0.1:38801", "wss://gpu-box:443", "ws://localhost", "ws://[::1]:0"])
def test_a_websocket_address_is_taken_as_given(url):
    assert server_url(url) == url


@pytest.mark.parametrize("url, reason", [
    ("127.0.0.1:38801", "is not a server address"),
    ("http://127.0.0.1:38801", "is not a server address"),
    ("notaurl", "is not a server address"),
    ("ws://", "is not a server address"),
    ("ws://127.0.0.1:99999", "has no valid port"),
    ("ws://127.0.0.1:port", "has no valid port"),
])
def test_anything_else_is_refused_saying_what_an_address_looks_like(url, reason):
    with pytest.raises(ValueError, match=f"{reason}.*give ws://HOST:PORT .*e.g. ws://127.0.0.1:38801"):
        server_url(url)


def test_a_failed_connection_names_the_server_and_asks_if_it_runs():
    error = cannot_connect("ws://127.0.0.1:1", ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(error, OSError)
    assert str(error) == "cannot connect to ws://127.0.0.1:1: [Errno 111] Connection refused; is the server running?"
    assert "TimeoutError" in str(cannot_connect("ws://h:1", TimeoutError()))


def test_a_token_in_the_address_is_not_shown_in_errors():
    assert shown("ws://h:1/?token=s3cret&x=1") == "ws://h:1/?token=***&x=1"
    assert shown("ws://h:1") == "ws://h:1"
    assert "s3cret" not in str(cannot_connect("ws://h:1/?token=s3cret", ConnectionRefusedError()))
    with pytest.raises(ValueError) as refusal:
        server_url("http://h:1/?token=s3cret")
    assert "s3cret" not in str(refusal.value)


def test_connecting_turns_a_refusal_into_the_one_line_error_and_leaves_certificate_errors_alone():
    import ssl

    with pytest.raises(ConnectionError, match=r"cannot connect to ws://h:1/\?token=\*\*\*: .*is the server running\?"):
        with connecting("ws://h:1/?token=s3cret"):
            raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(ssl.SSLCertVerificationError):
        with connecting("wss://h:1"):
            raise ssl.SSLCertVerificationError("certificate verify failed")
