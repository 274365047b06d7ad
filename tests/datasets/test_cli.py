"""``costeer dataset build | info | plot`` from the command line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from costeer.cli.main import main


def test_build_info_plot(sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "dataset"
    recordings = [str(sessions[name]) for name in ("nanotube-methane-01", "nanotube-methane-02")]
    assert main(["dataset", "build", *recordings, "--task", "nanotube", "-o", str(output), "--per-grab",
                 "--anonymise", "--origin", "human"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {output}" in out and "episodes      2 from 2 recording(s)" in out and "anonymised" in out
    episodes = pd.read_parquet(output / "meta/episodes/chunk-000/file-000.parquet")
    assert episodes["origin"].tolist() == ["human", "human"]
    assert main(["dataset", "info", str(output)]) == 0
    assert "success       2/2 (100%)" in capsys.readouterr().out
    assert main(["dataset", "plot", str(output)]) == 0
    assert "wrote 5 figures" in capsys.readouterr().out
    assert len(list((output / "figures" / "paths").glob("*.png"))) == 2
    # A second build into the same folder needs --overwrite.
    assert main(["dataset", "build", recordings[0], "--task", "nanotube", "-o", str(output)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["dataset", "build", recordings[0], "--task", "nanotube", "-o", str(output), "--overwrite"]) == 0
    assert "episodes      1 from 1 recording(s)" in capsys.readouterr().out


def test_overwrite_never_deletes_a_folder_that_is_not_a_dataset(sessions, tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    (home / "important").mkdir(parents=True)
    (home / "important" / "thesis.txt").write_text("years of work")
    recording = str(sessions["nanotube-methane-01"])
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(home), "--overwrite"]) == 2
    assert "not a costeer dataset" in capsys.readouterr().err
    assert (home / "important" / "thesis.txt").read_text() == "years of work"


def test_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.nanover.zip"
    bogus.write_bytes(b"nothing")
    assert main(["dataset", "build", str(bogus), "--task", "nanotube", "-o", str(tmp_path / "out")]) == 2
    assert "bogus.nanover.zip is not a .nanover.zip recording" in capsys.readouterr().err
    assert main(["dataset", "info", str(tmp_path)]) == 2
    assert "not an episode dataset" in capsys.readouterr().err


def test_a_truncated_recording_is_built_with_a_warning(
    sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.nanover.zip"
    data = sessions["nanotube-methane-01"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert main(["dataset", "build", str(cut), "--task", "nanotube", "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "was cut short" in captured.err and "lost" in captured.err
    assert "episodes      1 from 1 recording(s)" in captured.out


def test_a_warning_during_the_build_is_printed_once(sessions, tmp_path: Path, capsys, monkeypatch) -> None:
    # the warnings caught during the build were shown again inside the catching block, which
    # caught them again: the list grew while being read, until the machine ran out of memory
    from costeer.datasets import build as build_module

    real = build_module.build_dataset

    def build_with_a_warning(*args, **kwargs):
        warnings.warn("these forces look odd", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module, "build_dataset", build_with_a_warning)
    recording = str(sessions["nanotube-methane-01"])
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err.count("these forces look odd") == 1
