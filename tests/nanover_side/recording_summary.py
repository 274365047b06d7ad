"""Open a recording with NanoVer's own reader and print a short summary as JSON.

Runs inside NanoVer's side venv; used by the SIGKILL test to show that NanoVer's
``NanoverRecordingReader`` opens a repaired costeer recording, and how far it goes.

    .venv-nanover/bin/python tests/nanover_side/recording_summary.py FILE.nanover.zip

Prints ``{"entries", "frames": [{timestamp, index, server_timestamp, user_index}],
"state_keys_seen"}``; timestamps are the index's microseconds.
"""

from __future__ import annotations

import json
import sys

from nanover.recording.reading import NanoverRecordingReader

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    (path,) = sys.argv[1:] if argv is None else argv
    frames = []
    state_keys: set[str] = set()
    with NanoverRecordingReader.from_path(path) as reader:
        entries = len(reader)
        for entry, frame in reader.iter_frames_full():
            data = frame.frame_dict
            index = data.get("forces.user.index")
            frames.append(
                {
                    "timestamp": entry.metadata.get("timestamp"),
                    "index": entry.metadata.get("frame.index", data.get("frame.index")),
                    "server_timestamp": data.get("server.timestamp"),
                    "user_index": None if index is None else [int(i) for i in index],
                }
            )
        for _, state in reader.iter_states_full():
            state_keys.update(state)
    print(json.dumps({"entries": entries, "frames": frames, "state_keys_seen": sorted(state_keys)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
