"""``costeer train``: a real session to a checkpoint, and the errors users see."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from costeer.agent.checkpoint import read_checkpoint
from costeer.cli.main import main
from costeer.datasets.build import build_dataset


@pytest.fixture(scope="module")
def session_dataset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    recording = shared_data / "recordings" / "nanotube-methane-01.nanover.zip"
    return build_dataset([recording], task="nanotube", output=tmp_path_factory.mktemp("train") / "dataset", progress=False)


def test_train_writes_a_checkpoint_of_a_real_session(session_dataset: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "eq.pt"
    code = main(["train", "--dataset", str(session_dataset), "--policy", "equivariant", "-o", str(output),
                 "--epochs", "1", "--threads", "1", "--lead-frames", "3", "--weight", "unknown=2.5", "--set", "hidden=8",
                 "--set", "history=1"])
    assert code == 0
    assert f"wrote {output}" in capsys.readouterr().out
    content = read_checkpoint(output, expect_task="nanotube")
    assert content["config"]["atom_types"] == [6, 1, 1, 1, 1]  # methane's elements, from the task's own system
    assert content["observation_names"][0] == "atom60.x" and content["config"]["history"] == 1
    command = content["training"]["command"]
    assert command[:3] == ["costeer", "train", "--dataset"] and command[-4:] == ["--set", "hidden=8", "--set", "history=1"]
    assert command[-8:-4] == ["--lead-frames", "3", "--weight", "unknown=2.5"]
    assert content["training"]["options"]["lead_frames"] == 3
    assert content["training"]["options"]["origin_weights"] == {"unknown": 2.5}  # NanoVer's recordings do not say


@pytest.mark.parametrize(("extra", "message"), [
    (["--policy", "transformer"], "unknown policy 'transformer': choose one of cnn, equivariant, flow, mlp"),
    (["--policy", "mlp", "--set", "hidden"], "--set 'hidden': write KEY=VALUE"),
    (["--policy", "mlp", "--set", "hidden=0"], "hidden=0: use an int from 1"),
    (["--policy", "mlp", "--epochs", "0"], "--epochs 0: use a positive int"),
    (["--policy", "mlp", "--lead-frames", "0"], "--lead-frames 0: use an int >= 1"),
    (["--policy", "mlp", "--weight", "human"], "--weight 'human': write ORIGIN=W with a number W"),
    (["--policy", "mlp", "--weight", "human=0"], "--weight human=0.0: use ORIGIN=W with a positive number"),
    (["--policy", "mlp", "--weight", "human=2"], "no episode of"),
])
def test_bad_options_are_one_clear_line(session_dataset: Path, tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    code = main(["train", "--dataset", str(session_dataset), "-o", str(tmp_path / "x.pt"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_folder_that_is_not_a_dataset_is_named(tmp_path: Path, capsys) -> None:
    assert main(["train", "--dataset", str(tmp_path), "--policy", "mlp", "-o", str(tmp_path / "x.pt")]) == 2
    assert f"{tmp_path} is not an episode dataset" in capsys.readouterr().err


def _damaged(dataset: Path, tmp_path: Path, damage: str) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(dataset, copy)
    data = next((copy / "data").glob("chunk-*/file-*.parquet"))
    if damage == "info not json":
        (copy / "meta/info.json").write_text('{"features": {')
    elif damage == "info without names":
        info = json.loads((copy / "meta/info.json").read_text())
        del info["features"]["action"]["names"]
        (copy / "meta/info.json").write_text(json.dumps(info))
    elif damage == "no stats":
        (copy / "meta/stats.json").unlink()
    elif damage == "data cut short":
        data.write_bytes(data.read_bytes()[:-100])
    elif damage == "no data":
        data.unlink()
    return copy


@pytest.mark.parametrize(("damage", "names"), [
    ("info not json", "meta/info.json"),
    ("info without names", "meta/info.json"),
    ("no stats", "meta/stats.json"),
    ("data cut short", "file-000.parquet"),
    ("no data", "data/chunk-*/file-*.parquet"),
])
def test_a_damaged_dataset_is_refused_naming_the_file_and_what_to_do(session_dataset: Path, tmp_path: Path, capsys,
                                                                      damage: str, names: str) -> None:
    damaged = _damaged(session_dataset, tmp_path, damage)
    assert main(["train", "--dataset", str(damaged), "--policy", "mlp", "-o", str(tmp_path / "x.pt"), "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert names in error and "costeer dataset build" in error, error
    assert "Traceback" not in error
