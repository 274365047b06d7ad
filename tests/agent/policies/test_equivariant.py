"""The equivariant policy turns its target with the molecule and ignores the order of like atoms."""

from __future__ import annotations

import pytest
import torch

from costeer.agent.policies import make_policy


def _rotation(generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # a random rotation or reflection


@pytest.mark.parametrize("features", [3, 6])
def test_rotating_translating_and_permuting_the_atoms_turns_only_the_target(features: int) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(2)
    policy = make_policy("equivariant", observation_dim=5 * features, atom_features=features, history=3, chunk=2,
                         atom_types=[6, 1, 1, 1, 1], hidden=32, frame_points=False).double().eval()
    atoms = torch.randn(4, 3, 5, features, generator=generator, dtype=torch.float64)
    rotation, shift = _rotation(generator), torch.randn(3, generator=generator, dtype=torch.float64)
    order = torch.tensor([0, 3, 1, 4, 2])  # the carbon stays first; the hydrogens are shuffled
    moved = atoms[:, :, order].clone()
    moved[..., :3] = moved[..., :3] @ rotation.T + shift
    if features == 6:
        moved[..., 3:] = moved[..., 3:] @ rotation.T
    with torch.no_grad():
        before = policy.predict(atoms.flatten(2))
        after = policy.predict(moved.flatten(2))
    torch.testing.assert_close(after[..., :3], before[..., :3] @ rotation.T)
    torch.testing.assert_close(after[..., 3:], before[..., 3:])
    assert before[..., :3].abs().max() > 1e-3  # not trivially zero


def test_atoms_of_different_types_are_not_interchangeable() -> None:
    torch.manual_seed(0)
    policy = make_policy("equivariant", observation_dim=15, history=1, atom_types=[6, 1, 1, 1, 1], hidden=16).double()
    atoms = torch.randn(1, 1, 5, 3, dtype=torch.float64)
    swapped = atoms[:, :, [1, 0, 2, 3, 4]]
    with torch.no_grad():
        assert not torch.allclose(policy.predict(atoms.flatten(2)), policy.predict(swapped.flatten(2)))


def test_with_frame_points_the_whole_scene_turning_turns_the_target() -> None:
    """The frame's origin and z point are atoms too: turning the atoms about the z axis (which leaves
    those two points where they are) turns the target; turning them about another axis is a new scene."""
    torch.manual_seed(0)
    policy = make_policy("equivariant", observation_dim=15, history=1, atom_types=[6, 1, 1, 1, 1], hidden=16).double().eval()
    atoms = torch.randn(2, 1, 5, 3, dtype=torch.float64)
    about_z = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    about_x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        before = policy.predict(atoms.flatten(2))
        turned_z = policy.predict((atoms @ about_z.T).flatten(2))
        turned_x = policy.predict((atoms @ about_x.T).flatten(2))
    torch.testing.assert_close(turned_z[..., :3], before[..., :3] @ about_z.T)
    assert not torch.allclose(turned_x[..., :3], before[..., :3] @ about_x.T, atol=1e-4)
