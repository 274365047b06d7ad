"""The command line: parsing, option checks and the errors users see."""

from __future__ import annotations

import sys

import pytest

from costeer.cli.main import build_parser, main
from costeer.cli.serve import build_simulations, parse_labels, session_info


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_serve_defaults_match_nanover():
    args = parse("serve")
    assert (args.address, args.port, args.discovery) == ("127.0.0.1", 38801, False)
    assert (args.steps_per_frame, args.frame_rate, args.free_run) == (5, 30.0, False)


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "export", "record", "recording", "demo", "dataset"):
        assert command in out


def test_labels_parse_and_reject_bad_items():
    assert parse_labels(["origin=human", "site=bristol"]) == {"origin": "human", "site": "bristol"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_labels(["nonsense"])


def test_two_kinds_of_system_is_a_clear_error(capsys, nanotube_xml):
    code = main(["serve", "--omm", str(nanotube_xml), "--task", "nanotube"])
    assert code == 2
    assert "one kind of system" in capsys.readouterr().err


def test_an_unknown_platform_is_refused_before_serving(capsys):
    assert main(["serve", "--platform", "Bogus", "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert "no OpenMM platform named 'Bogus'; available here: auto, " in captured.err
    assert "serving" not in captured.out


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    code = main(["serve", "--omm", str(tmp_path / "absent.xml")])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--steps-per-frame", "0"], ["--frame-rate", "-1"], ["--max-force", "nan"]])
def test_bad_numbers_are_refused(option):
    with pytest.raises(ValueError):
        build_simulations(parse("serve", *option))


def test_session_info_names_the_file_and_its_hash(nanotube_xml):
    info = session_info(parse("serve", "--omm", str(nanotube_xml)), {"origin": "human"})
    assert info["server"] == "costeer"
    assert info["systems"][0]["file"] == str(nanotube_xml)
    assert len(info["systems"][0]["sha256"]) == 64
    assert info["labels"] == {"origin": "human"}
    assert info["settings"]["steps_per_frame"] == 5


def test_an_existing_recording_is_refused_before_serving(capsys, tmp_path):
    old = tmp_path / "yesterday.nanover.zip"
    old.write_bytes(b"precious")
    code = main(["serve", "--record", str(old)])
    assert code == 2
    assert "exists already" in capsys.readouterr().err
    assert old.read_bytes() == b"precious"


def test_energies_can_be_left_out_of_frames(nanotube_xml):
    (simulation,) = build_simulations(parse("serve", "--omm", str(nanotube_xml), "--no-energies"))
    simulation.load()
    frame = simulation.reset()
    delta = simulation.advance(1 / 30)
    assert "energy.potential" not in delta and "energy.kinetic" not in delta
    assert "particle.positions" in frame


def test_grpc_port_without_the_grpc_extra_is_a_clear_error(capsys, monkeypatch, nanotube_xml):
    monkeypatch.setitem(sys.modules, "costeer.server.grpc.server", None)  # as if grpcio were not installed
    assert main(["serve", "--omm", str(nanotube_xml), "--grpc-port", "0", "--port", "0"]) == 2
    assert "--grpc-port needs the grpc extra: pip install" in capsys.readouterr().err


def test_cpu_core_is_auto_by_default_and_refused_with_the_cores_there(capsys, nanotube_xml):
    assert parse("serve").cpu_core == "auto" and parse("serve", "--cpu-core", "off").cpu_core == "off"
    (simulation,) = build_simulations(parse("serve", "--omm", str(nanotube_xml), "--cpu-core", "0"))
    assert simulation.cpu_core == 0
    assert main(["serve", "--omm", str(nanotube_xml), "--cpu-core", "4096"]) == 2
    assert "no core 4096 to keep the simulation on: give auto, off or one of 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("serve", "--cpu-core", "first")
    assert "give auto, off or a core number" in capsys.readouterr().err


@pytest.mark.parametrize("first, second", [("--port", "--web-port"), ("--port", "--imd-port"),
                                           ("--imd-port", "--imd-v2-port"), ("--grpc-port", "--web-port")])
def test_two_listeners_on_one_port_are_refused_by_name_before_listening(capsys, first, second):
    assert main(["serve", first, "38999", second, "38999"]) == 2
    err = capsys.readouterr().err
    assert f"{first} and {second} are both 38999: give each its own port" in err and "Traceback" not in err


def test_port_0_may_repeat_each_listener_gets_a_free_one():
    from costeer.cli.serve import _check_ports

    _check_ports(parse("serve", "--port", "0", "--web-port", "0", "--imd-port", "0"))
