"""Flow matching keeps two ways of acting apart where a regression averages them."""

from __future__ import annotations

import torch

from costeer.agent.policies import make_policy


def _train(name: str, steps: int = 600) -> torch.Tensor:
    """Train on one observation whose target x is +1 or -1 (on, half and half); 400 predictions."""
    torch.manual_seed(0)
    policy = make_policy(name, observation_dim=15, history=1, chunk=2, execute=1, hidden=32, layers=2)
    observation = torch.full((128, 1, 15), 0.3)
    action = torch.zeros(128, 2, 5)
    action[..., 4] = 1.0
    optimiser = torch.optim.Adam(policy.parameters(), lr=1e-2)
    for _ in range(steps):
        action[..., 0] = torch.where(torch.rand(128, 1) < 0.5, 1.0, -1.0)
        optimiser.zero_grad()
        policy.loss({"observation": observation, "action": action, "mask": torch.ones(128, 2, dtype=torch.bool)}).backward()
        optimiser.step()
    with torch.no_grad():
        return policy.predict(torch.full((400, 1, 15), 0.3), generator=torch.Generator().manual_seed(1))


def test_flow_samples_both_modes_and_mlp_averages_them() -> None:
    flow = _train("flow")[..., 0]
    first = flow[:, 0]
    assert (first > 0.5).float().mean() > 0.35 and (first < -0.5).float().mean() > 0.35
    assert (first.abs() < 0.5).float().mean() < 0.1
    assert ((flow[:, 1:] > 0) == (flow[:, :1] > 0)).float().mean() > 0.9  # one mode for the whole chunk
    mlp = _train("mlp", steps=300)[..., 0]
    assert mlp.abs().max() < 0.3


def test_a_generator_makes_flow_samples_repeat() -> None:
    policy = make_policy("flow", observation_dim=15, hidden=16)
    observation = torch.randn(3, 2, 15)
    first = policy.predict(observation, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, policy.predict(observation, generator=torch.Generator().manual_seed(5)))
