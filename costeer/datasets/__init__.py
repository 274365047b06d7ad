"""Episode datasets: recordings → demonstrations → LeRobot-v3-like Parquet, with statistics and plots.

    demos = read_demonstrations("session.nanover.zip")                 # episodes, frame by frame
    build_dataset(["session.nanover.zip"], task="nanotube", output="dataset/")   # append=True: add to it
    print(summarise_dataset("dataset/")); plot_dataset("dataset/", "figures/")
"""

from costeer.datasets.build import build_dataset
from costeer.datasets.demonstrations import (
    Demonstration,
    DemonstrationFrame,
    RepairedRecordingWarning,
    iter_demonstrations,
    read_demonstrations,
    recording_origin,
)
from costeer.datasets.episodes import ACTION_NAMES, INTERACTION_TYPE_CODES, Episode, Pseudonyms, build_episode
from costeer.datasets.lerobot import DatasetWriter, write_dataset
from costeer.datasets.plot import plot_dataset
from costeer.datasets.reading import read_episodes, read_info, read_steps
from costeer.datasets.summary import DatasetSummary, summarise_dataset

__all__ = [
    "ACTION_NAMES",
    "INTERACTION_TYPE_CODES",
    "DatasetSummary",
    "DatasetWriter",
    "Demonstration",
    "DemonstrationFrame",
    "Episode",
    "Pseudonyms",
    "RepairedRecordingWarning",
    "build_dataset",
    "build_episode",
    "iter_demonstrations",
    "plot_dataset",
    "read_demonstrations",
    "read_episodes",
    "read_info",
    "read_steps",
    "recording_origin",
    "summarise_dataset",
    "write_dataset",
]
