"""``costeer serve --allow-origin`` refuses a malformed origin in one line, before anything loads."""

from __future__ import annotations

from costeer.cli.main import main


def test_a_malformed_allowed_origin_is_refused_naming_the_option(capsys):
    assert main(["serve", "--allow-origin", "lab.example.org"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("costeer serve: error: --allow-origin: an origin is scheme://host[:port]"), err
    assert "\n" not in err
