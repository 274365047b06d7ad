"""Synthetic demonstrators: scripted people who steer a task through a live server, for tests and data.

    reports = asyncio.run(demonstrate("ws://127.0.0.1:38801", episodes=20, seed=1))
    hand = ThreadingHand(task, selection, positions, rng=np.random.default_rng(1))   # for pull.drag
"""

from __future__ import annotations

from costeer.tasks.hand import HUMAN_SCALE_PER_DALTON, human_scale
from costeer.tasks.hands import HandEvent, Persona, ThreadingHand
from costeer.tasks.noise import SmoothNoise

from .calibration import HUMAN_PACE_PS_PER_S, MotionStatistics, measure_recording, measure_recordings
from .live import DEMONSTRATOR_KEY, EpisodeReport, demonstrate, measure_pace
from .offline import OfflineEpisode, rollout_offline

__all__ = [
    "DEMONSTRATOR_KEY",
    "EpisodeReport",
    "HUMAN_PACE_PS_PER_S",
    "HUMAN_SCALE_PER_DALTON",
    "HandEvent",
    "MotionStatistics",
    "OfflineEpisode",
    "Persona",
    "SmoothNoise",
    "ThreadingHand",
    "demonstrate",
    "human_scale",
    "measure_pace",
    "measure_recording",
    "measure_recordings",
    "rollout_offline",
]
