"""Building at scale: episodes streamed to several files, appended to a dataset, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costeer.cli.main import main
from costeer.core.frame import pack_frame
from costeer.datasets.build import build_dataset
from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.episodes import Pseudonyms, build_episode
from costeer.datasets.lerobot import write_dataset
from costeer.datasets.reading import read_episodes, read_info, read_steps
from costeer.recording import RecordingWriter
from costeer.tasks import get_task

SYNTHETIC = Path(__file__).resolve().parents[2] / "recordings" / "synthetic-nanotube-seed2.nanover.zip"


def test_episodes_stream_into_several_files_that_read_as_one_dataset(
    sessions: dict[str, Path], real_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = build_dataset(list(sessions.values()), task="nanotube", output=tmp_path / "small", origin="human",
                           rows_per_file=1000)
    files = sorted(output.glob("data/chunk-000/file-*.parquet"))
    assert [len(pd.read_parquet(file)) for file in files] == [929, 326 + 598]  # a file holds whole episodes
    episodes = read_episodes(output).to_pandas()
    assert episodes["data/file_index"].tolist() == [0, 1, 1]
    whole = read_steps(real_dataset)
    np.testing.assert_array_equal(np.stack(read_steps(output).column("action").to_numpy(zero_copy_only=False)),
                                  np.stack(whole.column("action").to_numpy(zero_copy_only=False)))
    assert (output / "meta/stats.json").read_text() == (real_dataset / "meta/stats.json").read_text()
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    steps = datasets.load_dataset("parquet", data_files=str(output / "data/*/*.parquet"), split="train",
                                  cache_dir=str(tmp_path / "cache"))
    assert steps.num_rows == 1853 and steps["index"] == list(range(1853))


def test_append_adds_episodes_files_and_merged_statistics(sessions: dict[str, Path], real_dataset: Path,
                                                           tmp_path: Path) -> None:
    output = tmp_path / "grown"
    names = ("nanotube-example", "nanotube-methane-01", "nanotube-methane-02")
    build_dataset([sessions[names[0]]], task="nanotube", output=output, origin="human", append=True)
    for name in names[1:]:
        build_dataset([sessions[name]], task="nanotube", output=output, origin="human", append=True)
    info, whole = read_info(output), read_info(real_dataset)
    assert (info["total_episodes"], info["total_frames"], info["fps"]) == (3, 1853, 30)
    assert info["features"] == whole["features"] and info["splits"] == {"train": "0:3"}
    assert info["costeer"]["sources"] == whole["costeer"]["sources"]
    assert len(list(output.glob("data/chunk-000/file-*.parquet"))) == 3
    assert len(list(output.glob("meta/episodes/chunk-000/file-*.parquet"))) == 3
    steps, episodes = read_steps(output).to_pandas(), read_episodes(output).to_pandas()
    assert steps["index"].tolist() == list(range(1853))
    assert episodes["episode_index"].tolist() == [0, 1, 2]
    assert episodes["dataset_from_index"].tolist() == [0, 929, 929 + 326]
    assert episodes["data/file_index"].tolist() == [0, 1, 2]
    assert pd.read_parquet(output / "meta/tasks.parquet").to_dict("records") == [{"task_index": 0, "task": "nanotube"}]
    merged, built = (json.loads((path / "meta/stats.json").read_text()) for path in (output, real_dataset))
    assert merged.keys() == built.keys()
    for name in merged:
        for statistic in ("min", "max", "mean", "std", "count"):
            assert merged[name][statistic] == pytest.approx(built[name][statistic], rel=1e-9, abs=1e-9), (name, statistic)


def test_append_refuses_another_task_or_other_columns(sessions: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "dataset"
    recording = str(sessions["nanotube-methane-01"])
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(output)]) == 0
    before = sorted(path.relative_to(output) for path in output.rglob("*"))
    info = json.loads((output / "meta/info.json").read_text())
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(output), "--anonymise",
                 "--append"]) == 2
    assert "was built with --anonymise off: append with the same options" in capsys.readouterr().err
    with pytest.raises(ValueError, match="nanotube-methane-01.nanover.zip gives other columns than the dataset.*"
                                         "missing: avatar.hand, avatar.headset"):
        write_dataset([build_episode(read_demonstrations(recording)[0], get_task("nanotube"), pseudonyms=Pseudonyms())],
                      output, task="nanotube", append=True)
    assert sorted(path.relative_to(output) for path in output.rglob("*")) == before, "a refused append changes nothing"
    assert json.loads((output / "meta/info.json").read_text()) == info
    info["costeer"]["task"] = "peptide"
    (output / "meta/info.json").write_text(json.dumps(info))
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(output), "--append"]) == 2
    assert "is a dataset of task 'peptide', not 'nanotube'" in capsys.readouterr().err
    assert main(["dataset", "build", recording, "--task", "nanotube", "-o", str(output)]) == 2
    assert "--append to add to it, or --overwrite" in capsys.readouterr().err


def test_cli_appends_synthetic_episodes_to_human_ones_with_one_strength(sessions: dict[str, Path], tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "mixed"
    assert main(["dataset", "build", str(sessions["nanotube-methane-02"]), "--task", "nanotube", "-o", str(output),
                 "--origin", "human"]) == 0
    assert main(["dataset", "build", str(SYNTHETIC), "--task", "nanotube", "-o", str(output), "--append"]) == 0
    assert "episodes      9 from 2 recording(s)" in capsys.readouterr().out
    episodes = read_episodes(output).to_pandas()
    assert episodes["origin"].tolist() == ["human"] + ["synthetic"] * 8
    assert episodes["strength_factor"].tolist() == pytest.approx([12.011] + [1.0] * 8, rel=1e-4)
    steps = read_steps(output, columns=["episode_index", "action", "action.valid"]).to_pandas()
    action = np.stack(steps["action"].to_numpy())
    on = action[:, 5] == 1
    human = steps["episode_index"].to_numpy() == 0
    # the same physical pull: strength ~1201 for a person's scale 100 and the synthetic scale 1201.1
    assert np.median(action[on & human, 3]) == pytest.approx(1201.1, rel=1e-4)
    assert np.median(action[on & ~human, 3]) == pytest.approx(1201.1, rel=1e-4)
    assert steps["action.valid"].all()


def test_cli_learns_from_a_frames_only_recording_given_a_spring_and_keeps_it_on_append(
        sessions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "inferred"
    example = str(sessions["nanotube-example"])
    assert main(["dataset", "build", example, "--task", "nanotube", "-o", str(output), "--infer-spring", "1201.1"]) == 0
    assert read_info(output)["costeer"]["infer_spring"] == 1201.1
    steps = read_steps(output, columns=["action", "action.valid"]).to_pandas()
    assert steps["action.valid"].all() and np.isfinite(np.stack(steps["action"].to_numpy())).all()
    assert main(["dataset", "build", str(sessions["nanotube-methane-01"]), "--task", "nanotube", "-o", str(output),
                 "--append"]) == 2
    assert "was built with --infer-spring 1201.1: append with the same options" in capsys.readouterr().err
    assert main(["dataset", "build", str(sessions["nanotube-methane-01"]), "--task", "nanotube", "-o", str(output),
                 "--append", "--infer-spring", "1201.1"]) == 0


def test_a_failed_build_leaves_no_dataset_behind(sessions: dict[str, Path], tmp_path: Path) -> None:
    other = _other_system(tmp_path / "other.nanover.zip")
    output = tmp_path / "dataset"
    with pytest.raises(ValueError, match="other.nanover.zip"):
        build_dataset([sessions["nanotube-methane-01"], other], task="nanotube", output=output)
    assert not output.exists() and not list(tmp_path.glob(".dataset*"))


def test_a_recording_of_another_system_is_refused_with_its_name_and_what_did_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even one where nobody pulls: it used to say "no frames with positions", which was untrue."""
    other = _other_system(tmp_path / "alanine.nanover.zip")
    assert main(["dataset", "build", str(other), "--task", "nanotube", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "alanine.nanover.zip: does not fit task 'nanotube'" in err
    assert "exactly one methane" in err and "10 atoms: H 5, C 3, N 1, O 1" in err
    assert "no frames with positions" not in err


def test_recordings_where_nobody_pulls_say_so(tmp_path: Path, scripted: type,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "idle.nanover.zip"
    rec = scripted(path)
    rec.frame(0, full=True)
    rec.frame(1)
    rec.close()
    assert main(["dataset", "build", str(path), "--task", "nanotube", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no episodes to write: nobody pulls the nanotube task's atoms in idle.nanover.zip" in err
    assert not (tmp_path / "out").exists()


def _other_system(path: Path) -> Path:
    """A small recording of a system that is no nanotube (an alanine-like fragment), someone pulling atom 0."""
    elements = np.array([7, 6, 6, 8, 6, 1, 1, 1, 1, 1], dtype=np.uint8)
    bonds = np.array([[0, 1], [1, 2], [2, 3], [1, 4], [0, 5], [1, 6], [4, 7], [4, 8], [4, 9]], dtype=np.uint32)
    positions = np.random.default_rng(0).normal(0, 0.2, (10, 3)).astype(np.float32)
    with RecordingWriter(path) as writer:
        for index in range(3):
            frame = {"frame.index": index, "particle.positions": positions,
                     "forces.user.index": np.array([0], np.uint32), "forces.user.sparse": np.ones((1, 3), np.float32)}
            if index == 0:
                frame.update({"particle.elements": elements, "bond.pairs": bonds})
            writer.write({"frame": pack_frame(frame)}, timestamp_us=33_000 * (index + 1))
    return path


def test_anonymised_appends_never_give_two_people_one_pseudonym(sessions: dict[str, Path], tmp_path: Path,
                                                                scripted: type) -> None:
    output = tmp_path / "anonymous"
    build_dataset([sessions["nanotube-methane-01"]], task="nanotube", output=output, anonymise=True)
    someone_else = tmp_path / "someone-else.nanover.zip"
    rec = scripted(someone_else)
    rec.frame(0, full=True)
    rec.state(rec.interaction(2.5, owner="another-person"))
    rec.frame(1, force=True)
    rec.close()
    build_dataset([someone_else], task="nanotube", output=output, anonymise=True, append=True)
    owners = read_episodes(output).column("owners").to_pylist()
    assert owners == [["user-1"], ["user-2"]]
