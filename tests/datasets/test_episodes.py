"""Episodes from demonstrations: actions, frames-only files, velocities, anonymising."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costeer.core.interaction import Interaction
from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.episodes import INTERACTION_TYPE_CODES, Pseudonyms, build_episode
from costeer.engine.imd import compute_imd_forces
from costeer.tasks import get_task
from costeer.tasks.encoding import element_masses


def test_actions_follow_the_interaction_on_a_scripted_recording(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "scripted.nanover.zip"
    rec = scripted(path)
    rec.frame(0, full=True)
    rec.state(rec.interaction(2.5))
    rec.frame(1, force=True)
    rec.state({}, removals=("interaction.one",))
    rec.frame(2)
    rec.close()
    (demo,) = read_demonstrations(path)
    episode = build_episode(demo, get_task("nanotube"))
    action = episode.steps["action"]
    assert action[[0, 2]].tolist() == [[0.0] * 6, [0.0] * 6]
    assert action[1, 3:].tolist() == [50.0, 2.0, 1.0]
    axes = episode.steps["task_frame"][1, 3:].reshape(3, 3)
    lab = np.array([2.5, 2.7, 2.2]) - rec.positions[60]
    np.testing.assert_allclose(action[1, :3], axes @ lab, atol=1e-6)
    np.testing.assert_allclose(episode.steps["user_force"][1], axes @ [100.0, 0.0, 0.0], rtol=1e-6)
    assert not episode.steps["user_force"][[0, 2]].any()
    meta = episode.metadata
    assert (meta["origin"], meta["interaction_type"], meta["force_scale"], meta["spring_constant"]) == (
        "synthetic", "spring", 50.0, 100.0)
    assert (meta["strength_factor"], meta["force_ratio"]) == (1.0, None)  # one pull: too few to tell the law
    assert episode.steps["action.valid"].all()
    assert json.loads(meta["labels"]) == {"origin": "synthetic", "user": "alice"}
    assert meta["owners"] == ["929680e7-b96d-4ead-9878-1f56462ab669"]
    assert meta["system_hash"] == demo.chemistry.system_hash()
    assert not meta["success"] and meta["success_index"] is None


def test_frames_only_recordings_have_on_off_but_no_target(sessions: dict[str, Path]) -> None:
    (demo,) = read_demonstrations(sessions["nanotube-example"])
    episode = build_episode(demo, get_task("nanotube"))
    action = episode.steps["action"]
    on = action[:, 5] == 1.0
    assert on.sum() == demo.pulling.sum() > 300
    assert np.isnan(action[on, :4]).all() and (action[on, 4] == -1).all()
    assert (action[~on] == 0).all()
    assert (episode.steps["action.valid"] == ~on).all(), "the pulls are masked: no NaN reaches a learner unmasked"
    assert episode.metadata["interaction_type"] is None and not episode.metadata["has_interactions"]
    assert np.isnan(episode.steps["avatar.headset"]).all()


def test_a_frames_only_recordings_pulls_aim_where_the_given_spring_exerts_the_recorded_force(
        sessions: dict[str, Path]) -> None:
    (demo,) = read_demonstrations(sessions["nanotube-example"])
    episode = build_episode(demo, get_task("nanotube"), infer_spring=1201.1)
    action, valid = episode.steps["action"], episode.steps["action.valid"]
    on = action[:, 5] == 1.0
    assert on.sum() == demo.pulling.sum() > 300 and valid.all() and np.isfinite(action).all()
    assert (action[on, 3] == np.float32(1201.1)).all() and (action[on, 4] == INTERACTION_TYPE_CODES["spring"]).all()
    masses = element_masses(demo.chemistry)
    for step in np.flatnonzero(on)[::25]:  # the spring on that target, by costeer's force code
        axes = episode.steps["task_frame"][step, 3:].reshape(3, 3).astype(np.float64)
        positions = demo.frames[step].positions.astype(np.float64)
        target = positions[60] + axes.T @ action[step, :3]
        pull = Interaction(position=target, particles=np.array([60]), interaction_type="spring", scale=1201.1)
        result = compute_imd_forces(positions, masses, [pull])
        np.testing.assert_allclose(result.forces[0], demo.frames[step].user_force[0], rtol=1e-3, atol=0.05)
    meta = episode.metadata
    assert (meta["interaction_type"], meta["force_scale"], meta["spring_constant"]) == ("spring", 1201.1, 2402.2)
    with pytest.raises(ValueError, match="must be a positive number, got 0"):
        build_episode(demo, get_task("nanotube"), infer_spring=0)


def test_velocities_join_the_observation_when_recorded(sessions: dict[str, Path]) -> None:
    (demo,) = read_demonstrations(sessions["nanotube-example"])
    episode = build_episode(demo, get_task("nanotube"), velocities=True)
    assert episode.steps["observation.state"].shape == (929, 30)
    assert episode.names["observation.state"][:7] == [
        "atom60.x", "atom60.y", "atom60.z", "atom60.vx", "atom60.vy", "atom60.vz", "atom61.x"]
    (without,) = read_demonstrations(sessions["nanotube-methane-01"])
    with pytest.raises(ValueError, match="no particle.velocities.*without --velocities"):
        build_episode(without, get_task("nanotube"), velocities=True)


def test_headset_and_hand_poses_are_kept_unless_anonymised(sessions: dict[str, Path]) -> None:
    (demo,) = read_demonstrations(sessions["nanotube-methane-01"])
    episode = build_episode(demo, get_task("nanotube"))
    headset, hand = episode.steps["avatar.headset"], episode.steps["avatar.hand"]
    known = np.isfinite(headset).all(axis=1)
    assert known.mean() > 0.9  # the first frame precedes the first avatar update
    np.testing.assert_allclose(np.linalg.norm(headset[known, 3:], axis=1), 1.0, atol=1e-3)  # unit quaternions
    pulling = demo.pulling
    assert np.isfinite(hand[pulling]).all() and np.isnan(hand[~pulling]).all()
    names = Pseudonyms()
    hidden = build_episode(demo, get_task("nanotube"), pseudonyms=names)
    assert "avatar.headset" not in hidden.steps and "avatar.hand" not in hidden.steps
    assert hidden.metadata["owners"] == ["user-1"] and names("someone else") == "user-2"


def test_an_anonymised_dataset_holds_no_user_ids_or_poses(anonymised_dataset: Path, owner: str) -> None:
    for file in anonymised_dataset.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert owner.encode() not in data and owner[:8].encode() not in data, file
    steps = pd.read_parquet(anonymised_dataset / "data/chunk-000/file-000.parquet")
    assert not [column for column in steps.columns if column.startswith("avatar")]
    episodes = pd.read_parquet(anonymised_dataset / "meta/episodes/chunk-000/file-000.parquet")
    assert [list(owners) for owners in episodes["owners"]] == [[], ["user-1"], ["user-1"]]
    info = json.loads((anonymised_dataset / "meta/info.json").read_text())
    assert info["costeer"]["anonymised"] and "avatar.headset" not in info["features"]


def test_a_system_the_task_does_not_fit_is_named(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "scripted.nanover.zip"
    rec = scripted(path)
    rec.topology["bond.pairs"] = rec.topology["bond.pairs"][:10]  # methane loses its C-H bonds
    rec.frame(0, full=True)
    rec.close()
    (demo,) = read_demonstrations(path, keep_idle=True)
    with pytest.raises(ValueError, match=r"scripted.nanover.zip: does not fit task 'nanotube'.*methane"):
        build_episode(demo, get_task("nanotube"))


def test_someone_else_pulling_other_atoms_is_not_the_tasks_action(tmp_path: Path, scripted: type) -> None:
    path = tmp_path / "two-users.nanover.zip"
    rec = scripted(path)
    rec.frame(0, full=True)
    tube_grab = {"position": [2.0, 2.0, 3.0], "particles": [5], "interaction_type": "spring", "scale": 50.0}
    rec.state({"interaction.other": tube_grab, **rec.interaction(2.5)})
    rec.frame(1, shift=0.01, force=True)
    rec.state({}, removals=("interaction.one",))
    rec.frame(2, shift=0.02)
    rec.close()
    (demo,) = read_demonstrations(path)
    action = build_episode(demo, get_task("nanotube")).steps["action"]
    assert action[1, 5] == 1.0, "the methane grab is the action"
    assert action[2, 5] == 0.0 and action[2, 3] == 0.0, "only the tube grab is left: nobody acts on the methane"
