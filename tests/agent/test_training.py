"""Training end to end on a toy dataset: checkpoint and PNG written, early stopping, DDP with two gloo processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from costeer.agent.checkpoint import load_policy, read_checkpoint
from costeer.agent.data import dataset_fingerprint
from costeer.agent.training import TrainOptions, train_policy

REPO = Path(__file__).resolve().parents[2]


def test_training_writes_a_checkpoint_and_its_losses(toy_dataset: Path, tmp_path: Path) -> None:
    options = TrainOptions(epochs=4, batch_size=32, lr=3e-3, progress=False)
    result = train_policy(toy_dataset, "cnn", tmp_path / "cnn.pt", options=options, config={"hidden": 16, "channels": 8},
                          command=["costeer", "train"])
    assert len(result.train_loss) == len(result.validation_loss) == len(result.epoch_seconds) == 4
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.plot == tmp_path / "cnn.loss.png" and result.plot.stat().st_size > 1000
    content = read_checkpoint(result.checkpoint)
    assert content["dataset_fingerprint"] == dataset_fingerprint(toy_dataset)
    assert content["config"]["channels"] == 8 and content["task"] == "toy"
    assert content["training"]["command"] == ["costeer", "train"] and len(content["training"]["validation_episodes"]) == 1
    assert load_policy(result.checkpoint).act(np.zeros(15)).shape == (6,)


def test_successful_only_learns_from_episodes_that_did_the_task(toy_dataset: Path, tmp_path: Path) -> None:
    options = TrainOptions(epochs=1, progress=False, validation_fraction=0.0, successful_only=True)
    result = train_policy(toy_dataset, "mlp", tmp_path / "mlp.pt", options=options, config={"hidden": 8})
    assert read_checkpoint(result.checkpoint)["training"]["episodes"] == [0, 1, 3]  # episode 2 failed


def test_lead_frames_are_kept_in_the_checkpoint_and_default_to_the_plain_lag(toy_dataset: Path, tmp_path: Path) -> None:
    def trained(name: str, **lead: int) -> dict:
        options = TrainOptions(epochs=2, batch_size=32, progress=False, **lead)
        return read_checkpoint(train_policy(toy_dataset, "mlp", tmp_path / name, options=options,
                                            config={"hidden": 8}).checkpoint)

    plain, one, led = trained("plain.pt"), trained("one.pt", lead_frames=1), trained("led.pt", lead_frames=6)
    assert plain["training"]["options"]["lead_frames"] == 1 and led["training"]["options"]["lead_frames"] == 6
    assert all(torch.equal(plain["state_dict"][key], one["state_dict"][key]) for key in plain["state_dict"])
    assert not all(torch.equal(plain["state_dict"][key], led["state_dict"][key]) for key in plain["state_dict"])
    assert load_policy(tmp_path / "led.pt").lead_frames == 6 and load_policy(tmp_path / "plain.pt").lead_frames == 1
    with pytest.raises(ValueError, match="--lead-frames 0"):
        TrainOptions(lead_frames=0)


def test_origin_weights_change_the_training_and_are_kept_in_the_checkpoint(make_toy, tmp_path: Path) -> None:
    dataset = make_toy("mixed", origins=("human", "synthetic", "synthetic", "synthetic"))

    def trained(name: str, **weights: float) -> dict:
        options = TrainOptions(epochs=2, batch_size=32, progress=False, validation_fraction=0.0, origin_weights=weights)
        return read_checkpoint(train_policy(dataset, "mlp", tmp_path / name, options=options, config={"hidden": 8}).checkpoint)

    plain, ones, human = trained("plain.pt"), trained("ones.pt", human=1.0), trained("human.pt", human=10.0)
    assert plain["training"]["options"]["origin_weights"] == {} and human["training"]["options"]["origin_weights"] == {"human": 10.0}
    assert all(torch.equal(plain["state_dict"][key], ones["state_dict"][key]) for key in plain["state_dict"])
    assert not all(torch.equal(plain["state_dict"][key], human["state_dict"][key]) for key in plain["state_dict"])
    with pytest.raises(ValueError, match=r"no episode of .* has origin 'correction' \(its origins: human, synthetic\)"):
        trained("none.pt", correction=2.0)
    for weight in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="--weight human=.*use ORIGIN=W with a positive number"):
            TrainOptions(origin_weights={"human": weight})


def test_early_stopping_keeps_the_best_epoch(toy_dataset: Path, tmp_path: Path) -> None:
    options = TrainOptions(epochs=30, batch_size=64, lr=0.5, patience=2, progress=False)  # a rate too high to keep improving
    result = train_policy(toy_dataset, "mlp", tmp_path / "mlp.pt", options=options, config={"hidden": 8})
    assert len(result.train_loss) == result.best_epoch + 2 < 30
    assert read_checkpoint(result.checkpoint)["training"]["best_epoch"] == result.best_epoch


def test_equivariant_treats_atoms_as_their_own_types_when_elements_are_unknown(toy_dataset: Path, tmp_path: Path) -> None:
    result = train_policy(toy_dataset, "equivariant", tmp_path / "eq.pt", options=TrainOptions(epochs=1, progress=False),
                          config={"hidden": 8})
    assert read_checkpoint(result.checkpoint)["config"]["atom_types"] is None


def test_cuda_without_a_gpu_says_so(toy_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a machine with a GPU
    with pytest.raises(ValueError, match="--device cuda: this torch .* sees no CUDA GPU; use --device cpu"):
        train_policy(toy_dataset, "mlp", tmp_path / "x.pt", options=TrainOptions(device="cuda"))


def _free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


@pytest.mark.slow  # ~20 s: two interpreters importing torch
def test_costeer_train_runs_under_torchrun_with_two_gloo_processes(toy_dataset: Path, tmp_path: Path) -> None:
    output = tmp_path / "ddp.pt"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), "-m", "costeer.cli.main", "train", "--dataset", str(toy_dataset),
               "--policy", "mlp", "-o", str(output), "--epochs", "2", "--batch-size", "16", "--threads", "1",
               "--set", "hidden=8"]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("wrote") == 1  # rank 0 alone writes and reports
    training = read_checkpoint(output)["training"]
    assert training["world_size"] == 2 and len(training["train_loss"]) == 2
    assert (tmp_path / "ddp.loss.png").is_file()
