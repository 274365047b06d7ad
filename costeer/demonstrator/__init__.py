"""Synthetic demonstrators: the task's scripted people steering it, through a live server or offline.

    reports = asyncio.run(demonstrate("ws://127.0.0.1:38801", episodes=20, seed=1))
    reports = demonstrate_offline("synthetic/", episodes=500, seed=0, workers=2)   # one recording each

The people themselves live with their tasks (``Task.demonstrator``, :mod:`costeer.tasks.hands`);
their names are re-exported here.
"""

from __future__ import annotations

from costeer.tasks.hand import HUMAN_SCALE_PER_DALTON, human_scale
from costeer.tasks.hands import HandEvent, Persona, ThreadingHand
from costeer.tasks.noise import SmoothNoise

from .calibration import HUMAN_PACE_PS_PER_S, MotionStatistics, measure_recording, measure_recordings
from .live import DEMONSTRATOR_KEY, EpisodeReport, demonstrate, measure_pace
from .offline import OfflineEpisode, demonstrate_offline, episode_path, offline_episode
from .person import require_synthetic_person, synthetic_person

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
    "demonstrate_offline",
    "episode_path",
    "human_scale",
    "measure_pace",
    "measure_recording",
    "measure_recordings",
    "offline_episode",
    "require_synthetic_person",
    "synthetic_person",
]
