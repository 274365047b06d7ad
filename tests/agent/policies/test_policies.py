"""Every registered policy: builds from its config, trains a few steps on a toy dataset and its loss falls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from costeer.agent.data import EpisodeWindows
from costeer.agent.normalise import Normaliser
from costeer.agent.policies import make_policy, policy_names, register_policy
from costeer.agent.policies.mlp import MLPPolicy


def _windows(dataset: Path, history: int, chunk: int, isotropic: bool) -> EpisodeWindows:
    info = json.loads((dataset / "meta/info.json").read_text())
    stats = json.loads((dataset / "meta/stats.json").read_text())
    normaliser = Normaliser.from_stats(stats, info["features"]["observation.state"]["names"],
                                       info["features"]["action"]["names"], isotropic=isotropic)
    return EpisodeWindows(dataset, normaliser, history=history, chunk=chunk)


def test_the_four_policies_are_registered() -> None:
    assert policy_names() == ["cnn", "equivariant", "flow", "mlp"]


@pytest.mark.parametrize("name", ["mlp", "cnn", "flow", "equivariant"])
def test_each_policy_learns_the_toy_task(name: str, toy_dataset: Path) -> None:
    torch.manual_seed(0)
    policy = make_policy(name, observation_dim=15, hidden=32)
    windows = _windows(toy_dataset, policy.config.history, policy.config.chunk, policy.isotropic)
    batch = windows[torch.arange(len(windows))]
    assert policy.predict(batch["observation"]).shape == (len(windows), policy.config.chunk, 5)

    def loss() -> float:
        torch.manual_seed(1)  # the flow loss draws noise: the same draw before and after
        with torch.no_grad():
            return float(policy.loss(batch))

    before = loss()
    optimiser = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(60):
        optimiser.zero_grad()
        policy.loss(batch).backward()
        optimiser.step()
    assert loss() < 0.7 * before


@pytest.mark.parametrize(("name", "setting", "hint"), [
    ("mlp", {"hidden": 0}, "hidden=0: use an int from 1"),
    ("cnn", {"kernel": 4}, "kernel=4: use an odd int"),
    ("flow", {"steps": 1}, "steps=1: use an int from 2"),
    ("flow", {"chunk": 2, "execute": 3}, "execute=3 > chunk=2"),
    ("equivariant", {"atom_types": [6, 1]}, "give 5 ints"),
    ("mlp", {"observation_dim": 14}, "not a multiple of atom_features=3"),
    ("mlp", {"colour": "red"}, r"MLPConfig has no field\(s\) colour"),
])
def test_bad_settings_say_how_to_fix_them(name: str, setting: dict, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        make_policy(name, **{"observation_dim": 15, **setting})


def test_unknown_names_and_second_registrations_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown policy 'transformer': choose one of cnn, equivariant, flow, mlp"):
        make_policy("transformer", observation_dim=15)
    with pytest.raises(ValueError, match="already registered"):
        register_policy("mlp")(type("Other", (MLPPolicy,), {}))


def test_config_round_trips_through_plain_values() -> None:
    policy = make_policy("equivariant", observation_dim=15, atom_types=[6, 1, 1, 1, 1])
    values = json.loads(json.dumps(policy.config.to_dict()))
    assert make_policy("equivariant", **values).config == policy.config



@pytest.mark.parametrize("name", ["mlp", "cnn", "flow", "equivariant"])
def test_a_sample_of_weight_w_counts_as_w_copies_of_it(name: str, toy_dataset: Path) -> None:
    torch.manual_seed(0)
    policy = make_policy(name, observation_dim=15, hidden=16)
    windows = _windows(toy_dataset, policy.config.history, policy.config.chunk, policy.isotropic)
    first_on = windows.action[windows.chunk_index[:, 0], 4]
    samples = torch.cat([torch.nonzero(first_on > 0.5)[:3, 0], torch.nonzero(first_on < 0.5)[:3, 0]])

    def loss(batch: dict[str, torch.Tensor]) -> float:
        torch.manual_seed(1)  # flow's loss draws noise per sample: the same draw for batches of one size
        with torch.no_grad():
            return float(policy.loss(batch))

    plain = windows[samples]
    assert plain["weight"].tolist() == [1.0] * 6
    unweighted = {key: value for key, value in plain.items() if key != "weight"}
    assert loss(plain) == pytest.approx(loss(unweighted)) == pytest.approx(loss({**plain, "weight": torch.full((6,), 7.0)}))
    weighted = {**plain, "weight": torch.tensor([3.0, 1, 1, 1, 1, 1])}
    assert loss(weighted) != pytest.approx(loss(plain), rel=1e-3)
    if name != "flow":  # deterministic losses: weight 3 is exactly the sample three times
        assert loss(weighted) == pytest.approx(loss(windows[torch.cat([samples[:1], samples[:1], samples])]), rel=1e-5)
