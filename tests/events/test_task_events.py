"""TaskWatch: task progress and success from the nanotube's frames, a scripted threading path."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from costeer.core import keys
from costeer.events.task_events import TaskWatch
from costeer.tasks import AtomSelection, Chemistry, Task, TaskFrame, build_task_system, get_task


@pytest.fixture(scope="module")
def nanotube():
    built = build_task_system("nanotube")
    chemistry = Chemistry.from_topology(built.topology)
    task = get_task("nanotube")
    return task, chemistry, task.select(chemistry), np.asarray(built.positions)


def _threading_frames(task, selection, start: np.ndarray, count: int) -> list[np.ndarray]:
    """Methane moved rigidly along the task's own scripted path (round to the axis, then through)."""
    frame = task.frames(start[None], selection)
    waypoints = task.scripted_path(selection, start)
    lengths = np.r_[0, np.cumsum(np.linalg.norm(np.diff(waypoints, axis=0), axis=1))]
    methane = selection.groups["methane"]
    carbon = methane[0]
    episode = []
    for s in np.linspace(0, lengths[-1], count):
        local = np.array([np.interp(s, lengths, waypoints[:, axis]) for axis in range(3)])
        target = frame.origin[0] + local @ frame.axes[0]
        positions = start.copy()
        positions[methane] += target - start[carbon]
        episode.append(positions)
    return episode


def _feed(watch: TaskWatch, chemistry: Chemistry, episode: list[np.ndarray], *, counter: int = 0, dt: float = 0.05):
    events = []
    for index, positions in enumerate(episode):
        frame = {keys.PARTICLE_POSITIONS: positions.astype(np.float32), keys.FRAME_INDEX: index + 1,
                 keys.SIMULATION_TIME: 0.1 * index}
        if index == 0:
            frame.update({keys.PARTICLE_ELEMENTS: chemistry.elements, keys.BOND_PAIRS: chemistry.bonds,
                          keys.SIMULATION_COUNTER: counter})
        events += watch.frame(frame, now=counter * 1000 + index * dt)
    return events


def test_a_threading_path_makes_progress_and_one_success(nanotube):
    task, chemistry, selection, start = nanotube
    assert not task.evaluate(np.stack([start, start]), selection).success
    episode = _threading_frames(task, selection, start, 200)
    assert task.evaluate(np.stack(episode), selection).success  # the path itself is a success
    events = _feed(TaskWatch(task), chemistry, episode)
    progress = [payload for kind, payload in events if kind == "task/progress"]
    successes = [payload for kind, payload in events if kind == "task/success"]
    assert len(successes) == 1
    success = successes[0]
    assert success["task"] == "nanotube" and success["episode"] == 0 and success["details"]["success"] is True
    assert 1 <= success["frame_index"] <= 200 and success["episode_time_ps"] == pytest.approx(0.1 * (success["frame_index"] - 1))
    assert 33 <= len(progress) <= 40  # every 0.25 s of 10 s
    z = [payload["position"][2] for payload in progress]
    assert z[-1] > 1.0 and z[-1] - min(z) > 1.5  # in at the near end, out at the far one: along +z
    assert not progress[0]["done"] and progress[-1]["done"]


def test_each_episode_can_succeed_once(nanotube):
    task, chemistry, selection, start = nanotube
    watch = TaskWatch(task)
    episode = _threading_frames(task, selection, start, 200)
    first = _feed(watch, chemistry, episode, counter=0)
    second = _feed(watch, chemistry, episode, counter=1)
    assert [p["episode"] for k, p in first + second if k == "task/success"] == [0, 1]


def test_standing_still_is_no_success(nanotube):
    task, chemistry, selection, start = nanotube
    events = _feed(TaskWatch(task), chemistry, [start] * 100)
    assert [kind for kind, _ in events if kind == "task/success"] == []
    assert {kind for kind, _ in events} == {"task/progress"}


def test_a_system_the_task_does_not_fit_gives_no_task_events(nanotube):
    task, _, _, start = nanotube
    carbons = Chemistry(np.full(len(start), 6, dtype=np.uint8), np.zeros((0, 2), dtype=np.int64))
    assert _feed(TaskWatch(task), carbons, [start] * 20) == []


class _SlowToJudge(Task):
    """One atom, lab frame, and a success detector that takes 0.2 s and never fires."""

    name = "slow-to-judge"

    def __init__(self) -> None:
        self.judged = 0

    def build_system(self):
        raise NotImplementedError

    def select(self, chemistry):
        return AtomSelection(grabbed=[0], observed=[0])

    def frames(self, positions, selection, *, previous=None):
        batch = np.asarray(positions).shape[:-2]
        return TaskFrame(np.zeros(batch + (3,)), np.broadcast_to(np.eye(3), batch + (3, 3)))

    def evaluate(self, positions, selection):
        self.judged += 1
        time.sleep(0.2)
        return SimpleNamespace(success=False, success_index=None, details=dict)


def test_a_costly_success_detector_is_run_less_often():
    task = _SlowToJudge()
    chemistry = Chemistry(np.array([6], dtype=np.uint8), np.zeros((0, 2), dtype=np.int64))
    _feed(TaskWatch(task, check_interval=0.5), chemistry, [np.zeros((1, 3))] * 200)  # 10 s of frames
    assert 3 <= task.judged <= 6  # every 10 x 0.2 s, not every 0.5 s (20)
