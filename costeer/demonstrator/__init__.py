"""Synthetic demonstrators: scripted people who steer a task through a live server, for tests and data.

    reports = asyncio.run(demonstrate("ws://127.0.0.1:38801", episodes=20, seed=1))
    hand = ThreadingHand(task, selection, positions, rng=np.random.default_rng(1))   # for pull.drag
"""

from __future__ import annotations

from .calibration import HUMAN_PACE_PS_PER_S, MotionStatistics, measure_recording, measure_recordings
from .hand import HUMAN_SCALE_PER_DALTON, HandEvent, ThreadingHand, human_scale
from .live import DEMONSTRATOR_KEY, EpisodeReport, demonstrate, measure_pace
from .noise import SmoothNoise
from .offline import OfflineEpisode, rollout_offline
from .persona import Persona

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
