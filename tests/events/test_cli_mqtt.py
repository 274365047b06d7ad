"""``costeer serve --mqtt``: a bad broker address is refused, with what is expected, before anything loads."""

from __future__ import annotations

from costeer.cli.main import main


def test_a_bad_mqtt_address_is_refused_before_loading(capsys, monkeypatch):
    loaded = []
    monkeypatch.setattr("costeer.cli.serve.build_simulations", lambda args: loaded.append(args) or [])
    assert main(["serve", "--port", "0", "--mqtt", "broker:port"]) == 2
    assert "--mqtt expects HOST:PORT" in capsys.readouterr().err
    assert loaded == []
