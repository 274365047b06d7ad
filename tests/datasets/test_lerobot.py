"""The dataset on disk: LeRobot v3 layout, readable by pyarrow and pandas alone, true to its recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from costeer.recording import RecordingReader

DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


def test_meta_files_exist_and_describe_the_data(real_dataset: Path) -> None:
    for name in (DATA, EPISODES, "meta/info.json", "meta/stats.json", "meta/tasks.parquet"):
        assert (real_dataset / name).is_file(), name
    info = json.loads((real_dataset / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"], info["fps"]) == (3, 1853, 1, 30)
    assert info["data_path"].format(chunk_index=0, file_index=0) == DATA
    table = pq.read_table(real_dataset / DATA)
    assert list(info["features"]) == table.column_names
    for name, feature in info["features"].items():
        values = table.column(name).to_pylist()[0]
        assert (len(values) if isinstance(values, list) else 1) == feature["shape"][0]
        assert feature["names"] is None or len(feature["names"]) == feature["shape"][0]
    assert info["features"]["observation.state"]["shape"] == [15]
    assert info["features"]["action"]["names"] == ["target_x", "target_y", "target_z", "strength", "type", "on"]
    assert info["costeer"]["action_types"]["spring"] == 2
    stats = json.loads((real_dataset / "meta/stats.json").read_text())
    assert set(stats) == set(info["features"]) - {"index", "episode_index", "frame_index", "task_index"}
    assert stats["action"]["max"][3] == pytest.approx(1201.078) and len(stats["action"]["mean"]) == 6
    assert info["features"]["action.valid"] == {"dtype": "bool", "shape": [1], "names": None}
    for feature, values in stats.items():  # the frames-only session's unknown targets are left out, not NaN
        assert all(value is not None and np.isfinite(value) for value in values["mean"] + values["std"]), feature
    assert pd.read_parquet(real_dataset / "meta/tasks.parquet").to_dict("records") == [{"task_index": 0, "task": "nanotube"}]


def test_pandas_reads_steps_and_episodes(real_dataset: Path) -> None:
    steps = pd.read_parquet(real_dataset / DATA)
    episodes = pd.read_parquet(real_dataset / EPISODES)
    assert len(steps) == 1853 and steps["index"].tolist() == list(range(1853))
    assert episodes["length"].tolist() == [929, 326, 598]
    assert (episodes["dataset_to_index"] - episodes["dataset_from_index"]).tolist() == [929, 326, 598]
    assert episodes["source"].tolist() == [f"{name}.nanover.zip" for name in
                                            ("nanotube-example", "nanotube-methane-01", "nanotube-methane-02")]
    assert episodes["success"].all() and set(episodes["origin"]) == {"human"}
    assert len(set(episodes["system_hash"])) == 1 and len(episodes["system_hash"][0]) == 64
    assert episodes["force_scale"].tolist()[1:] == [100.0, 100.0]
    # older NanoVer multiplied the spring by the grabbed carbon's mass: the physical constant is 2 x 100 x 12.011
    assert episodes["strength_factor"].tolist()[1:] == pytest.approx([12.011, 12.011], rel=1e-4)
    assert episodes["spring_constant"][1] == pytest.approx(2402.2, rel=1e-4)
    assert np.isnan(episodes["strength_factor"][0])  # the frames-only session: no interaction to measure
    assert episodes["frame_interval_s"].between(0.03, 0.04).all()
    for number, episode in episodes.iterrows():
        rows = steps[steps["episode_index"] == number]
        assert rows["next.done"].sum() == 1 and rows["next.done"].iloc[-1]
        assert rows["next.success"].sum() == 1
        assert rows["frame_index"][rows["next.success"]].item() == episode["success_index"]
        assert rows["timestamp"].iloc[0] == 0.0
    state = np.stack(steps["observation.state"].to_numpy())
    assert state.shape == (1853, 15) and state.dtype == np.float32


def test_hugging_face_datasets_reads_it_without_our_code(real_dataset: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    steps = datasets.load_dataset(
        "parquet", data_files=str(real_dataset / DATA), split="train", cache_dir=str(tmp_path)
    )
    assert steps.num_rows == 1853
    assert steps.features["action"].length == 6
    first = steps.with_format("numpy")[0]
    assert first["observation.state"].shape == (15,)
    episodes = datasets.load_dataset(
        "parquet", data_files=str(real_dataset / EPISODES), split="train", cache_dir=str(tmp_path)
    )
    assert episodes["length"] == [929, 326, 598]


def test_one_step_matches_its_recording(real_dataset: Path, sessions: dict[str, Path]) -> None:
    steps = pd.read_parquet(real_dataset / DATA)
    step = steps[(steps["episode_index"] == 1) & (steps["frame_index"] == 100)].iloc[0]
    with RecordingReader(sessions["nanotube-methane-01"]) as reader:
        timestamp, frame = list(reader.frames())[100]
        state = [s for t, s in reader.states() if t <= timestamp][-1]
    assert step["source_frame_index"] == frame["frame.index"]
    assert step["simulation_time"] == pytest.approx(frame["system.simulation.time"])
    origin, axes = step["task_frame"][:3].astype(float), step["task_frame"][3:].reshape(3, 3).astype(float)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-6)
    # Positions: the observation mapped back to the lab is the recorded methane.
    observed = step["observation.state"].reshape(5, 3).astype(float)
    np.testing.assert_allclose(observed @ axes + origin, frame["particle.positions"][60:65], atol=2e-6)
    # Action: the controller relative to methane's carbon, in the task's axes; strength, spring, on.
    (interaction,) = [value for key, value in state.items() if key.startswith("interaction.")]
    target = axes @ (np.asarray(interaction["position"]) - frame["particle.positions"][60])
    np.testing.assert_allclose(step["action"][:3], target, atol=2e-6)
    assert step["action"][3:].tolist() == pytest.approx([100.0 * 12.01078, 2.0, 1.0])  # strength = scale x mass
    assert step["action.valid"]
    # Force: the recorded user force on atom 60, in the task's axes.
    assert frame["forces.user.index"].tolist() == [60]
    np.testing.assert_allclose(step["user_force"], axes @ frame["forces.user.sparse"][0], rtol=1e-5)
    np.testing.assert_allclose(step["grabbed_position"], observed[0], atol=1e-6)


def test_recorded_force_is_the_spring_on_the_action(real_dataset: Path) -> None:
    """|F| = 2 * strength * |target|: NanoVer's sessions' scale times the grabbed carbon's mass is the strength."""
    steps = pd.read_parquet(real_dataset / DATA)
    action = np.stack(steps["action"].to_numpy()).astype(float)
    force = np.linalg.norm(np.stack(steps["user_force"].to_numpy()), axis=1)
    pulled = (action[:, 5] == 1) & steps["action.valid"].to_numpy() & (force > 0)
    assert np.isfinite(action[pulled]).all()
    ratio = force[pulled] / (2 * action[pulled, 3] * np.linalg.norm(action[pulled, :3], axis=1))
    assert np.median(ratio) == pytest.approx(1.0, rel=0.01)
