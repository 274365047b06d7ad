"""Seeds refused while the arguments are parsed, by every command that takes ``--seed``."""

from __future__ import annotations

import argparse

import pytest

from costeer.cli.main import main
from costeer.cli.numbers import seed


def test_a_seed_is_a_whole_number_from_zero():
    assert seed("0") == 0 and seed("4294967296") == 4294967296
    for bad in ("-1", "1.5", "x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="a seed is a whole number, 0 or more"):
            seed(bad)


@pytest.mark.parametrize("command", [
    ["demo"],
    ["evaluate", "--baseline", "none", "--rollouts", "1"],
    ["demonstrate", "--offline", "--episodes", "1", "-o", "never-written"],
    ["train", "--dataset", "absent", "--policy", "mlp", "-o", "never.pt"],
    ["dagger", "--policy", "absent.pt", "--dataset", "absent", "-o", "never.pt"],
    ["serve"],
])
def test_a_negative_seed_is_refused_before_any_work(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--seed", "-1"])
    assert exit_.value.code == 2
    assert "argument --seed: a seed is a whole number, 0 or more, got -1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
