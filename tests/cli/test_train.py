"""``costeer train``: a real session to a checkpoint, and the errors users see."""

from __future__ import annotations

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
