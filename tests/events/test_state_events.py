"""StateEvents: interactions started / updated / stopped, co-pilot mode and suggestions, from state changes."""

from __future__ import annotations

import numpy as np

from costeer.core import keys
from costeer.events.state_events import StateEvents, plain

KEY = "interaction.abc"


def _pull(x: float, *, label: str | None = None, owner: str = "abc") -> dict:
    value = {"position": [x, 0.0, 0.0], "particles": [3], "interaction_type": "spring", "scale": 2.0, "owner.id": owner}
    return value if label is None else {**value, "label": label}


def test_an_interaction_starts_updates_within_the_rate_and_stops():
    events = StateEvents(writer_of={KEY: "client-7"}.get, update_interval=0.1)
    [(kind, started)] = events.change({KEY: _pull(0.0)}, [], now=0.0)
    assert kind == "interaction/started"
    assert started == {"key": KEY, "owner_id": "abc", "connection": "client-7", "agent": False, "label": None,
                       "particles": [3], "position": [0.0, 0.0, 0.0], "interaction_type": "spring", "scale": 2.0}
    updated = []
    for step in range(1, 31):  # 30 updates in 0.3 s
        updated += events.change({KEY: _pull(step / 10)}, [], now=step / 100)
        updated += events.due(now=step / 100)
    assert 2 <= len(updated) <= 4 and all(kind == "interaction/updated" for kind, _ in updated)
    assert events.live_interactions == 1
    [(kind, stopped)] = events.change({}, [KEY], now=0.5)
    assert kind == "interaction/stopped"
    assert stopped["updates"] == 30 and stopped["duration_s"] == 0.5 and stopped["connection"] == "client-7"
    assert events.due(now=10.0) == [] and events.live_interactions == 0  # the held update died with it


def test_the_last_update_goes_out_when_its_time_comes():
    events = StateEvents(update_interval=0.1)
    events.change({KEY: _pull(0.0)}, [], now=0.0)
    assert events.change({KEY: _pull(1.0)}, [], now=0.01) == []
    assert events.next_due() == 0.1
    [(kind, payload)] = events.due(now=0.1)
    assert kind == "interaction/updated" and payload["position"] == [1.0, 0.0, 0.0]


def test_agent_by_label():
    events = StateEvents()
    found = events.change(
        {"interaction.a": _pull(0, label="copilot", owner=keys.COPILOT_OWNER), "interaction.b": _pull(0, label="synthetic"),
         "interaction.c": _pull(0, label="policy")}, [], now=0.0)
    assert {payload["key"]: payload["agent"] for _, payload in found} == {
        "interaction.a": True, "interaction.b": False, "interaction.c": True}


def test_copilot_mode_changes_are_events_and_repeats_are_not():
    events = StateEvents()
    status = {"mode": "suggest", "blend": None, "policy": "nanotube.pt", "task": "nanotube", "acting": False,
              "max_force": 2000.0, "owner.id": keys.COPILOT_OWNER, "error": None}
    [(kind, first)] = events.change({keys.STATE_COPILOT: status}, [], now=0.0)
    assert kind == "copilot/mode" and first["mode"] == "suggest" and first["previous_mode"] is None and first["present"]
    assert events.change({keys.STATE_COPILOT: dict(status)}, [], now=0.1) == []
    [(_, second)] = events.change({keys.STATE_COPILOT: {**status, "mode": "assist", "blend": 0.5}}, [], now=0.2)
    assert (second["mode"], second["previous_mode"], second["blend"]) == ("assist", "suggest", 0.5)
    [(_, acting)] = events.change({keys.STATE_COPILOT: {**status, "mode": "assist", "blend": 0.5, "acting": True}}, [], now=0.3)
    assert acting["acting"] is True
    [(_, gone)] = events.change({}, [keys.STATE_COPILOT], now=0.4)
    assert (gone["mode"], gone["previous_mode"], gone["present"]) == ("off", "assist", False)


def test_suggestions_are_sampled_and_their_withdrawal_is_told_at_once():
    events = StateEvents(suggestion_interval=0.2)
    sent = []
    for frame in range(30):  # one a frame at 30 frames/s for a second
        suggestion = {"position": np.array([frame, 0, 0], dtype=np.float32), "particles": [60], "interaction_type": "spring",
                      "scale": 1.5, "confidence": 0.8, "frame.index": frame, "owner.id": keys.COPILOT_OWNER, "label": "copilot"}
        sent += events.change({keys.STATE_COPILOT_SUGGESTION: suggestion}, [], now=frame / 30)
        sent += events.due(now=frame / 30)
    assert 5 <= len(sent) <= 6
    assert sent[0][1] == {"active": True, "position": [0.0, 0.0, 0.0], "particles": [60], "interaction_type": "spring",
                          "scale": 1.5, "confidence": 0.8, "frame_index": 0}
    [(kind, withdrawn)] = events.change({}, [keys.STATE_COPILOT_SUGGESTION], now=1.01)
    assert kind == "copilot/suggestion" and withdrawn["active"] is False
    assert events.due(now=5.0) == []


def test_plain_makes_json_ready_values():
    assert plain({"a": np.float32(1.5), "b": (np.int64(2), float("inf")), "c": np.arange(2)}) == {"a": 1.5, "b": [2, None], "c": [0, 1]}
