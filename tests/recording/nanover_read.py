"""Side-venv script: open a recording with NanoVer's own reader and print what it sees as JSON.

    .venv-nanover/bin/python tests/recording/nanover_read.py FILE.nanover.zip

Prints one JSON object: the number of index entries, then per frame message its timestamp,
``frame.index`` and the merged frame's keys and positions, per state message its timestamp,
the final merged state, and how many trajectories NanoVer's trajectory splitter finds.
"""

from __future__ import annotations

import json
import sys

from nanover.recording.reading import NanoverRecordingReader
from nanover.recording.trajectory import trajectories_from_recording


def main(path: str) -> None:
    with NanoverRecordingReader.from_path(path) as reader:
        frames = []
        for entry, frame in reader.iter_frames_full():
            frame_dict = frame.frame_dict
            positions = frame_dict.get("particle.positions")
            frames.append(
                {
                    "timestamp": entry.metadata["timestamp"],
                    "frame_index": entry.metadata.get("frame.index"),
                    "keys": sorted(frame_dict),
                    "positions": None if positions is None else positions.tolist(),
                }
            )
        state_timestamps = []
        final_state: dict = {}
        for entry, state in reader.iter_states_full():
            state_timestamps.append(entry.metadata["timestamp"])
            final_state = state
        summary = {
            "entries": len(reader),
            "frames": frames,
            "state_timestamps": state_timestamps,
            "final_state": final_state,
            "trajectories": len(trajectories_from_recording(path)),
        }
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
