"""Test helper (costeer's venv): record synthetic frames at ~30/s until killed.

    python tests/recording/write_until_killed.py OUT.nanover.zip

Prints ``<frame index> <timestamp_us>`` after each frame written, so the test knows what
the writer had accepted when it was killed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from costeer.core.frame import pack_frame
from costeer.recording.writer import RecordingWriter


def main(path: str) -> None:
    writer = RecordingWriter(path)
    rng = np.random.default_rng(0)
    index = 0
    while True:
        frame = {"frame.index": index, "particle.positions": rng.random((65, 3), dtype=np.float32)}
        if index == 0:
            frame["particle.count"] = 65
            frame["particle.elements"] = np.full(65, 6, dtype=np.uint8)
        writer.write({"frame": pack_frame(frame)})
        if index % 3 == 0:
            writer.write({"state": {"updates": {"avatar.me": {"step": index}}, "removals": []}})
        print(index, writer.last_timestamp_us, flush=True)
        index += 1
        time.sleep(1 / 30)


if __name__ == "__main__":
    main(sys.argv[1])
