"""``costeer serve``'s blow-up and force-cap options reach the server and the simulation."""

from __future__ import annotations

import pytest

from costeer.cli.main import build_parser
from costeer.cli.serve import build_simulations
from costeer.core.interaction import DEFAULT_MAX_FORCE


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_serve_recovers_from_blow_ups_by_default_and_pauses_when_asked():
    assert parse("serve").on_blowup == "recover"
    assert parse("serve", "--on-blowup", "pause").on_blowup == "pause"
    with pytest.raises(SystemExit):
        parse("serve", "--on-blowup", "ignore")


def test_serve_caps_every_pull_at_nanovers_default_unless_told_otherwise():
    assert parse("serve").max_force == DEFAULT_MAX_FORCE == 20000.0
    simulation, = build_simulations(parse("serve", "--max-force", "500"))
    assert simulation.max_force == 500.0
    simulation, = build_simulations(parse("serve"))
    assert simulation.max_force == DEFAULT_MAX_FORCE
