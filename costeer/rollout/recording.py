"""A rollout as a ``.nanover.zip`` recording, laid out as costeer's recorder lays out a live session.

Messages, in arrival order: the ``costeer.session`` state entry (the environment's settings
and the caller's labels, e.g. ``origin: synthetic``); the full frame (topology,
``frame.index`` 0); then for each later frame the state change the actor made on seeing the
frame before (the ``interaction.<owner>`` entry with its ``owner.id``/``label`` properties,
or its removal when the actor let go), then the frame itself. Timestamps are a person's time
(microseconds since the reset), as a person at the pace would have lived it.

    write_rollout_recording(rollout, "episode-00003.nanover.zip", labels={"origin": "synthetic", "seed": 3})
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from costeer import __version__
from costeer.core import keys
from costeer.core.frame import pack_frame
from costeer.recording.writer import RecordingWriter

from .environment import interaction_key

if TYPE_CHECKING:
    from .rollout import Rollout

__all__ = ["session_entry", "write_rollout_recording"]


def session_entry(rollout: "Rollout", labels: Mapping[str, Any]) -> dict[str, Any]:
    """The ``costeer.session`` state entry of a rollout's recording (the shape ``costeer serve`` writes)."""
    return {
        "server": "costeer",
        "generator": "costeer.rollout",
        "version": __version__,
        "systems": [{"task": rollout.task.name}],
        "settings": {**rollout.settings, "seed": rollout.seed},
        "labels": dict(labels),
    }


def write_rollout_recording(rollout: "Rollout", path: str | Path, *, labels: Mapping[str, Any]) -> Path:
    """Write ``rollout`` to a new ``.nanover.zip`` at ``path`` (``FileExistsError`` if there is one); returns the path."""
    path = Path(path)
    with RecordingWriter(path, flush_interval=float("inf")) as writer:
        writer.write({"state": {"updates": {keys.STATE_SESSION: session_entry(rollout, labels)}, "removals": []}},
                     timestamp_us=0)
        live: dict[str, Any] = {}
        for index, frame in enumerate(rollout.frames):
            stamp = int(round(rollout.times_s[index] * 1e6))
            if index:
                chosen = rollout.interactions[index - 1]
                wanted = {} if chosen is None else {interaction_key(chosen): chosen.to_state()}
                updates = {key: value for key, value in wanted.items() if live.get(key) != value}
                removals = [key for key in live if key not in wanted]
                if updates or removals:
                    previous = int(round(rollout.times_s[index - 1] * 1e6))
                    writer.write({"state": {"updates": updates, "removals": removals}}, timestamp_us=previous)
                live = wanted
            writer.write({"frame": pack_frame(frame)}, timestamp_us=stamp)
    return path
