"""Fixtures for the live co-pilot tests: nanotube frames, policies that pull, fail or hang, and a served nanotube.

    def test_x(nanotube_server, shipped_policy):
        server = nanotube_server(frame_rate=60.0)
        copilot = attach_copilot(server, shipped_policy, settings=CopilotSettings(mode="apply"))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from costeer.agent.checkpoint import load_policy, shipped_checkpoint
from costeer.core import keys
from costeer.core.frame import FrameDict


class MisbehavingPolicy:
    """A policy runner (the shipped one, or a constant pull) that can be told to raise or to hang in ``act``.

    ``failing``: ``act`` raises. ``hanging``: ``act`` blocks until ``release`` is set (or 60 s).
    """

    def __init__(self, runner: Any = None, *, pull: float = 500.0) -> None:
        self._runner = runner
        self.task_name = "nanotube" if runner is None else runner.task_name
        self.pull = np.array([0.0, 0.0, 1.0, pull, 2.0, 1.0])
        """The constant action when there is no runner: 1 nm along the task's axis, a spring of ``pull``."""
        self.failing = False
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.resets = 0
        self.in_act = threading.Event()
        """Set while ``act`` hangs."""

    def reset(self, seed: int | None = None) -> None:
        self.resets += 1
        if self._runner is not None:
            self._runner.reset(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.failing:
            raise RuntimeError("the policy exploded")
        if self.hanging.is_set():
            self.in_act.set()
            self.release.wait(60)
            self.in_act.clear()
        return self.pull.copy() if self._runner is None else self._runner.act(observation)


@pytest.fixture(scope="session")
def shipped_path() -> Path:
    """The co-pilot checkpoint that ships for the nanotube task."""
    return shipped_checkpoint("nanotube")


@pytest.fixture
def shipped_policy(shipped_path: Path) -> Any:
    """A fresh runner of the shipped checkpoint (its history is per test)."""
    return load_policy(shipped_path)


@pytest.fixture
def misbehaving() -> Iterator[Callable[..., MisbehavingPolicy]]:
    """``misbehaving(runner=None)``: a :class:`MisbehavingPolicy`, released when the test ends."""
    made: list[MisbehavingPolicy] = []

    def make(runner: Any = None, **options: Any) -> MisbehavingPolicy:
        policy = MisbehavingPolicy(runner, **options)
        made.append(policy)
        return policy

    yield make
    for policy in made:
        policy.release.set()


@pytest.fixture(scope="session")
def nanotube_frame() -> FrameDict:
    """The nanotube task's first full frame (topology and positions), as a server publishes it."""
    from costeer.rollout import TaskEnvironment

    env = TaskEnvironment("nanotube")
    try:
        frame = dict(env.reset(0).frame)
    finally:
        env.close()
    assert keys.PARTICLE_ELEMENTS in frame and keys.BOND_PAIRS in frame
    return frame


@pytest.fixture
def nanotube_server() -> Iterator[Callable[..., Any]]:
    """``nanotube_server(frame_rate=30.0, record=None)``: an in-process ``CosteerServer`` on the nanotube task, its first frame out."""
    from costeer.engine.loading import from_built
    from costeer.engine.openmm_simulation import OpenMMSimulation
    from costeer.server.app import CosteerServer
    from costeer.tasks import build_task_system

    started: list[Any] = []

    def start(*, frame_rate: float = 30.0, record: Path | None = None, steps_per_frame: int = 5) -> Any:
        simulation = OpenMMSimulation(from_built(build_task_system("nanotube")), source="task:nanotube",
                                      steps_per_frame=steps_per_frame, include_energies=False, platform="CPU",
                                      cpu_threads=1)
        server = CosteerServer([simulation], port=0, frame_rate=frame_rate, record=record)
        started.append(server)
        server.start()
        deadline = time.monotonic() + 60.0
        while keys.PARTICLE_POSITIONS not in (server.hub.current_frame or {}):
            if time.monotonic() > deadline:
                raise AssertionError("the nanotube server published no frame within 60 s")
            time.sleep(0.05)
        return server

    yield start
    for server in started:
        server.close()
