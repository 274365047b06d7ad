"""Windows over episodes: history padded at the start, actions one step later (ACTION_LAG), chunks masked at the
end, unknown actions never learned."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costeer.agent.data import EpisodeWindows, dataset_fingerprint, split_episodes
from costeer.agent.normalise import Normaliser
from costeer.datasets.reading import read_steps


@pytest.fixture()
def normaliser(toy_dataset: Path) -> Normaliser:
    info = json.loads((toy_dataset / "meta/info.json").read_text())
    stats = json.loads((toy_dataset / "meta/stats.json").read_text())
    return Normaliser.from_stats(stats, info["features"]["observation.state"]["names"], info["features"]["action"]["names"])


def test_windows_stay_inside_their_episode(toy_dataset: Path, normaliser: Normaliser) -> None:
    windows = EpisodeWindows(toy_dataset, normaliser, history=3, chunk=4, episodes=[0])
    assert len(windows) == 39  # the last step's action would be recorded after the episode
    assert windows.history_index[0].tolist() == [0, 0, 0] and windows.history_index[5].tolist() == [3, 4, 5]
    assert windows.chunk_index[0].tolist() == [1, 2, 3, 4]  # what was chosen on seeing step 0 is recorded at 1
    assert windows.chunk_index[37].tolist() == [38, 39, 39, 39]
    assert windows.chunk_mask[37].tolist() == [True, True, False, False]
    state = np.stack(read_steps(toy_dataset, columns=["observation.state"]).column(0).to_numpy(zero_copy_only=False))
    batch = windows[[5]]
    np.testing.assert_allclose(batch["observation"][0].numpy(), normaliser.observation(state[3:6]), rtol=1e-6)
    assert batch["action"].shape == (1, 4, 5) and set(batch["action"][..., 4].flatten().tolist()) <= {0.0, 1.0}


def test_lead_shifts_every_learned_action_by_that_many_frames(toy_dataset: Path, normaliser: Normaliser) -> None:
    plain = EpisodeWindows(toy_dataset, normaliser, history=3, chunk=4, episodes=[0])
    same = EpisodeWindows(toy_dataset, normaliser, history=3, chunk=4, episodes=[0], lead=1)
    assert all((getattr(plain, name) == getattr(same, name)).all() for name in ("history_index", "chunk_index", "chunk_mask"))
    led = EpisodeWindows(toy_dataset, normaliser, history=3, chunk=4, episodes=[0], lead=5)
    assert len(led) == 35  # the last 5 steps' actions in 5 frames would be recorded after the episode
    assert (led.history_index == plain.history_index[:35]).all()
    assert (led.chunk_index[:, 0] == plain.chunk_index[:35, 0] + 4).all()  # step t learns the action at t + 5
    assert led.chunk_index[34].tolist() == [39, 39, 39, 39] and led.chunk_mask[34].tolist() == [True, False, False, False]
    np.testing.assert_array_equal(led[[0]]["action"].numpy(), plain[[4]]["action"].numpy())
    with pytest.raises(ValueError, match="use an int >= 1"):
        EpisodeWindows(toy_dataset, normaliser, history=3, chunk=4, lead=0)


def test_unknown_actions_are_neither_samples_nor_learned_in_chunks(toy_dataset: Path, normaliser: Normaliser) -> None:
    windows = EpisodeWindows(toy_dataset, normaliser, history=1, chunk=2, episodes=[1])
    assert len(windows) == 30  # steps 4, 8, .. 36 are unknown (9 of the next steps 1..39); the last has no next step
    rows = windows.history_index[:, 0] - 40
    assert ((rows + 1) % 4 != 0).all()  # no sample whose first action is unknown
    assert not windows.chunk_mask[(rows + 2) % 4 == 0][:, 1].any()  # the chunk's second action is unknown
    assert np.isfinite(windows[list(range(len(windows)))]["action"].numpy()).all()


def test_each_sample_carries_its_episodes_weight(toy_dataset: Path, normaliser: Normaliser) -> None:
    windows = EpisodeWindows(toy_dataset, normaliser, history=1, chunk=2, episodes=[0, 2], weights={2: 10.0, 3: 5.0})
    episode = windows.history_index[:, 0] // 40
    assert windows.weight[episode == 0].eq(1.0).all() and windows.weight[episode == 2].eq(10.0).all()
    assert windows[[0, len(windows) - 1]]["weight"].tolist() == [1.0, 10.0]


def test_split_is_by_episode_seeded_and_holds_one_out_at_least() -> None:
    train, held = split_episodes(10, validation_fraction=0.2, seed=3)
    assert len(held) == 2 and sorted(train + held) == list(range(10))
    assert split_episodes(10, validation_fraction=0.2, seed=3) == (train, held)
    assert split_episodes(3, validation_fraction=0.05, seed=0)[1] != []
    assert split_episodes(1, validation_fraction=0.2, seed=0) == ([0], [])
    with pytest.raises(ValueError, match="use a number in"):
        split_episodes(4, validation_fraction=1.0, seed=0)


def test_fingerprint_follows_the_data(toy_dataset: Path, make_toy) -> None:
    assert dataset_fingerprint(make_toy("same")) == dataset_fingerprint(toy_dataset)
    assert dataset_fingerprint(make_toy("other", seed=1)) != dataset_fingerprint(toy_dataset)
