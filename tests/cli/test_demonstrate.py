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
        (["--task", "peptide"], "unknown task 'peptide'"),
        (["--workers", "2"], "--workers go with --offline"),
        (["--offline"], "give the folder with -o DIR"),
        (["--offline", "-o", "out", "--episodes", "0"], "--episodes and --workers must be at least 1"),
        (["--offline", "-o", "out", "--time-compression", "6"], "offline episodes always run at a person's pace"),
    ],
)
def test_bad_options_are_refused_with_a_reason(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demonstrate", "--server", "ws://127.0.0.1:9", *options]) == 2
    assert message in capsys.readouterr().err


def test_a_task_without_a_synthetic_person_is_refused_by_name(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    task_file = tmp_path / "bare.py"
    task_file.write_text(
        "from costeer.tasks import register_task\n"
        "from costeer.tasks.builtin.nanotube import NanotubeTask\n"
        "from costeer.tasks.task import Task\n"
        "@register_task('bare-nanotube')\n"
        "class Bare(NanotubeTask):\n"
        "    demonstrator = Task.demonstrator\n"
    )
    assert main(["demonstrate", "--offline", "-o", str(tmp_path / "out"), "--task", str(task_file)]) == 2
    assert "task 'bare-nanotube' has no synthetic demonstrator" in capsys.readouterr().err
