"""``costeer demonstrate``: options are checked before anything connects."""

from __future__ import annotations

import pytest

from costeer.cli.main import build_parser, main


def test_the_subcommand_is_registered() -> None:
    args = build_parser().parse_args(["demonstrate", "--episodes", "3", "--seed", "4", "--time-compression", "6"])
    assert (args.episodes, args.seed, args.time_compression, args.task) == (3, 4, 6.0, "nanotube")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--time-compression", "0"], "--time-compression must be positive"),
        (["--episodes", "0"], "--episodes must be at least 1"),
        (["--task", "peptide"], "no synthetic demonstrator for task 'peptide'; known: nanotube"),
    ],
)
def test_bad_options_are_refused_with_a_reason(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demonstrate", "--server", "ws://127.0.0.1:9", *options]) == 2
    assert message in capsys.readouterr().err
