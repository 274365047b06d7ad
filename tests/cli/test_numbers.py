"""Seeds, ports and times refused while the arguments are parsed, naming the option, before any work."""

from __future__ import annotations

import argparse

import pytest

from costeer.cli.main import main
from costeer.cli.numbers import nanometres, port, seconds, seed


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


def test_a_port_is_a_whole_number_from_0_to_65535():
    assert port("0") == 0 and port("65535") == 65535
    for bad in ("-1", "65536", "70000", "http", "1e3"):
        with pytest.raises(argparse.ArgumentTypeError, match="a port is a whole number from 0 to 65535"):
            port(bad)


@pytest.mark.parametrize("option", ["--port", "--web-port", "--grpc-port", "--imd-port", "--imd-v2-port"])
def test_serve_refuses_a_port_out_of_range_while_parsing(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", option, "70000"])
    assert exit_.value.code == 2
    assert f"argument {option}: a port is a whole number from 0 to 65535 (0: a free one), got 70000" in capsys.readouterr().err


def test_a_time_is_a_finite_number_of_seconds_above_0():
    assert seconds("0.5") == 0.5 and seconds("40") == 40.0
    for bad in ("0", "-5", "nan", "inf", "soon"):
        with pytest.raises(argparse.ArgumentTypeError, match="give a time"):
            seconds(bad)


@pytest.mark.parametrize("command", [["demo", "--max-seconds"], ["demo", "--served", "--duration"],
                                     ["evaluate", "--baseline", "none", "--max-seconds"],
                                     ["demonstrate", "--offline", "-o", "never-written", "--max-seconds"],
                                     ["dagger", "--policy", "absent.pt", "--dataset", "absent", "-o", "never", "--max-seconds"]])
def test_a_time_limit_of_0_or_less_is_refused_while_parsing(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "-5"])
    assert exit_.value.code == 2
    assert f"argument {command[-1]}: give a time above 0 s, got -5" in capsys.readouterr().err


def test_a_distance_is_a_finite_number_of_nanometres_above_0(capsys):
    assert nanometres("0.3") == 0.3
    for bad in ("0", "-0.3", "nan", "inf", "far"):
        with pytest.raises(argparse.ArgumentTypeError, match="give a distance above 0 nm"):
            nanometres(bad)
    with pytest.raises(SystemExit):  # NaN took no correction at all: every comparison with it is false
        main(["dagger", "--policy", "absent.pt", "--dataset", "absent", "-o", "never", "--gate-nm", "nan"])
    assert "argument --gate-nm: give a distance above 0 nm, got nan" in capsys.readouterr().err
