"""Checkpoints: the same actions after a round trip, and every bad file refused with its reason."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from costeer.agent.checkpoint import CheckpointError, load_policy, save_checkpoint
from costeer.agent.normalise import Normaliser
from costeer.agent.policies import make_policy
from costeer.agent.runner import PolicyRunner


def _normaliser(dataset: Path, isotropic: bool) -> tuple[Normaliser, list[str]]:
    info = json.loads((dataset / "meta/info.json").read_text())
    stats = json.loads((dataset / "meta/stats.json").read_text())
    names = info["features"]["observation.state"]["names"]
    return Normaliser.from_stats(stats, names, info["features"]["action"]["names"], isotropic=isotropic), names


def _save(path: Path, dataset: Path, name: str = "mlp", **config: object) -> tuple[Path, PolicyRunner]:
    torch.manual_seed(0)
    policy = make_policy(name, observation_dim=15, hidden=16, **config)
    normaliser, names = _normaliser(dataset, policy.isotropic)
    save_checkpoint(path, policy, normaliser, observation_names=names, task="toy", fingerprint="f" * 64)
    return path, PolicyRunner(policy, normaliser, observation_names=names, task_name="toy")


def _observations() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(12, 15)) * 0.3


@pytest.mark.parametrize("name", ["mlp", "cnn", "flow", "equivariant"])
def test_round_trip_gives_identical_actions(name: str, toy_dataset: Path, tmp_path: Path) -> None:
    path, original = _save(tmp_path / "policy.pt", toy_dataset, name)
    loaded = load_policy(path, expect_task="toy")
    assert (loaded.task_name, loaded.observation_names, loaded.action_names) == ("toy", original.observation_names, original.action_names)
    first = np.stack([original.act(o) for o in _observations()])
    assert first.shape == (12, 6)
    np.testing.assert_array_equal(np.stack([loaded.act(o) for o in _observations()]), first)
    loaded.reset()  # a new episode with the same seed acts the same again
    np.testing.assert_array_equal(np.stack([loaded.act(o) for o in _observations()]), first)


def test_actions_are_in_dataset_units(toy_dataset: Path, tmp_path: Path) -> None:
    _, runner = _save(tmp_path / "policy.pt", toy_dataset)
    action = runner.act(_observations()[0])
    on = action[5]
    assert on in (0.0, 1.0) and action[4] == (2.0 if on else 0.0)
    if not on:
        assert (action[:4] == 0).all()
    with pytest.raises(ValueError, match=r"this policy needs \(15,\) \(atom60.x .. atom64.z\)"):
        runner.act(np.zeros(14))


def _refused(path: Path, match: str, **options: object) -> None:
    with pytest.raises(CheckpointError, match=match):
        load_policy(path, **options)


def test_bad_checkpoints_are_refused_with_the_reason(toy_dataset: Path, tmp_path: Path) -> None:
    good, _ = _save(tmp_path / "good.pt", toy_dataset)
    content = torch.load(good, weights_only=True)
    _refused(tmp_path / "missing.pt", "no such checkpoint file")
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    _refused(tmp_path / "noise.pt", "not a readable checkpoint")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(tmp_path / "cut.pt", "corrupt, cut short")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    _refused(tmp_path / "other.pt", "not a costeer policy checkpoint")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "pickled.pt")  # code in a pickle is never run
    _refused(tmp_path / "pickled.pt", r"not a readable checkpoint .*nothing in it was run: Unsupported global")
    for unreadable in ("noise.pt", "pickled.pt"):  # torch's advice to load it unsafely is not passed on
        with pytest.raises(CheckpointError) as refusal:
            load_policy(tmp_path / unreadable)
        assert "weights_only" not in str(refusal.value) and len(str(refusal.value)) < 400, str(refusal.value)
    _refused(good, "a policy for task 'toy', not 'nanotube'", expect_task="nanotube")
    for change, match in [({"format_version": 99}, "checkpoint format 99"),
                          ({"policy": "transformer"}, "unknown policy 'transformer'"),
                          ({"config": {**content["config"], "hidden": -1}}, "hidden=-1"),
                          ({"state_dict": {}}, "cannot rebuild its policy")]:
        torch.save({**content, **change}, tmp_path / "changed.pt")
        _refused(tmp_path / "changed.pt", match)


def test_a_checkpoint_whose_weights_were_damaged_is_refused_not_loaded(toy_dataset: Path, tmp_path: Path) -> None:
    # torch.load reads a bit-flipped weight as it is: the policy would act on the damage
    good, _ = _save(tmp_path / "good.pt", toy_dataset)
    with zipfile.ZipFile(good) as archive:
        weights = next(info for info in archive.infolist() if "/data/" in info.filename and info.file_size > 8)
    data = bytearray(good.read_bytes())
    with open(good, "rb") as file:  # the local header's own extra field may differ from the directory's
        file.seek(weights.header_offset + 28)
        start = weights.header_offset + 30 + len(weights.filename.encode()) + int.from_bytes(file.read(2), "little")
    data[start + 5] ^= 0x10
    (tmp_path / "flipped.pt").write_bytes(bytes(data))
    _refused(tmp_path / "flipped.pt", rf"flipped.pt: corrupt: {weights.filename} .*CRC.*train it again")
