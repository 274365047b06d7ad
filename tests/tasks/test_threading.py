"""The threading detector on synthetic task-frame paths: each way to succeed or fail."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks.threading import Passage, detect_threading
from costeer.tasks.tube import TubeHull

HULL = TubeHull(half_length=0.52, radius=0.197)


def _path(*waypoints: tuple[float, float, float], steps: int = 40) -> np.ndarray:
    """Straight segments through the waypoints, ``steps`` samples each, with a little jitter."""
    points = np.asarray(waypoints, dtype=np.float64)
    segments = [np.linspace(a, b, steps, endpoint=False) for a, b in zip(points[:-1], points[1:])]
    path = np.concatenate([*segments, points[-1:]])
    return path + np.random.default_rng(0).normal(scale=0.005, size=path.shape)


def test_near_to_far_threads() -> None:
    outcome = detect_threading(_path((0.05, 0, -1.5), (0, 0, 0), (0.02, -0.03, 1.5)), HULL)
    assert outcome.success
    (passage,) = outcome.passages
    assert (passage.entry_end, passage.exit_end) == ("near", "far")
    assert passage.threads
    assert outcome.success_index == passage.exit_index
    assert outcome.details() == {
        "success": True,
        "success_index": passage.exit_index,
        "passages": 1,
        "entry_end": "near",
        "exit_end": "far",
        "entry_index": passage.entry_index,
        "exit_index": passage.exit_index,
    }


def test_far_to_near_also_threads() -> None:
    outcome = detect_threading(_path((0, 0, 1.2), (0, 0, -1.2)), HULL)
    assert outcome.success
    assert (outcome.passages[0].entry_end, outcome.passages[0].exit_end) == ("far", "near")


def test_indices_are_where_the_path_crosses_the_ends() -> None:
    z = np.linspace(-1.0, 1.0, 201)
    path = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    outcome = detect_threading(path, HULL)
    (passage,) = outcome.passages
    assert z[passage.entry_index] >= -0.52 > z[passage.entry_index - 1]
    assert z[passage.exit_index - 1] <= 0.52 < z[passage.exit_index]


def test_backing_out_the_way_it_came_fails() -> None:
    outcome = detect_threading(_path((0, 0, -1.5), (0, 0, 0.2), (0, 0, -1.5)), HULL)
    assert not outcome.success
    assert [(p.entry_end, p.exit_end) for p in outcome.passages] == [("near", "near")]
    assert outcome.success_index is None
    assert outcome.details()["entry_end"] == "near" and outcome.details()["exit_end"] == "near"


def test_passing_alongside_fails() -> None:
    outcome = detect_threading(_path((0.45, 0.1, -1.5), (0.45, 0.1, 1.5)), HULL)
    assert not outcome.success
    assert outcome.passages == ()
    assert outcome.details()["entry_end"] is None


def test_stopping_inside_fails() -> None:
    outcome = detect_threading(_path((0, 0, -1.5), (0, 0, 0.3)), HULL)
    assert not outcome.success
    (passage,) = outcome.passages
    assert passage.entry_end == "near" and passage.exit_index is None and passage.exit_end is None


def test_never_entering_fails() -> None:
    outcome = detect_threading(_path((0, 0, -2.0), (0.5, 0.5, -1.0), (0, 0, -0.8)), HULL)
    assert not outcome.success and outcome.passages == ()


def test_starting_inside_and_leaving_is_not_a_threading() -> None:
    outcome = detect_threading(_path((0, 0, -0.3), (0, 0, 1.5)), HULL)
    assert not outcome.success
    (passage,) = outcome.passages
    assert passage == Passage(entry_index=0, exit_index=passage.exit_index, entry_end=None, exit_end="far")


def test_crossing_the_wall_is_not_an_end() -> None:
    # Sparse samples that jump from beside the tube into it and out of the far end.
    path = np.array([[0.6, 0, 0.0], [0.0, 0, 0.1], [0.0, 0, 0.4], [0.0, 0, 0.8]])
    outcome = detect_threading(path, HULL)
    assert not outcome.success
    assert (outcome.passages[0].entry_end, outcome.passages[0].exit_end) == ("wall", "far")


def test_a_false_start_then_threading_succeeds() -> None:
    path = _path((0, 0, -1.5), (0, 0, -0.3), (0, 0, -1.0), (0, 0, 0.0), (0, 0, 1.5))
    outcome = detect_threading(path, HULL)
    assert outcome.success
    assert [(p.entry_end, p.exit_end) for p in outcome.passages] == [("near", "near"), ("near", "far")]
    assert outcome.threading_passage is outcome.passages[1]
    assert outcome.details()["entry_index"] == outcome.passages[1].entry_index


def test_threading_then_backing_in_and_out_still_succeeded() -> None:
    path = _path((0, 0, -1.5), (0, 0, 1.5), (0, 0, 0.2), (0, 0, 1.5))
    outcome = detect_threading(path, HULL)
    assert outcome.success
    assert outcome.success_index == outcome.passages[0].exit_index


def test_empty_and_bad_paths() -> None:
    assert not detect_threading(np.zeros((0, 3)), HULL).success
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        detect_threading(np.zeros((5, 2)), HULL)


def test_a_margin_ignores_jitter_across_an_end() -> None:
    # In at the near end, then hovering at the far end's plane (z = 0.52 +- 0.04).
    z = np.concatenate([np.linspace(-1.0, 0.52, 60), 0.52 + 0.04 * np.sin(np.arange(40))])
    path = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    assert detect_threading(path, HULL).success  # every poke past the plane counts without a margin
    hovering = detect_threading(path, HULL, margin=0.1)
    assert not hovering.success
    (passage,) = hovering.passages
    assert passage.exit_index is None
    out = np.concatenate([path, [[0, 0, 0.6], [0, 0, 0.7]]])
    (passage,) = detect_threading(out, HULL, margin=0.1).passages
    assert (passage.exit_index, passage.exit_end) == (len(out) - 1, "far")


def test_a_margin_keeps_one_stay_through_jitter_at_the_entrance() -> None:
    jitter = -0.52 + 0.03 * np.sin(np.arange(30))
    z = np.concatenate([np.linspace(-1.0, -0.52, 30), jitter, np.linspace(-0.5, 1.0, 30)])
    path = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    assert len(detect_threading(path, HULL).passages) > 1
    outcome = detect_threading(path, HULL, margin=0.1)
    assert outcome.success and len(outcome.passages) == 1
    with pytest.raises(ValueError, match="margin"):
        detect_threading(path, HULL, margin=-0.1)
