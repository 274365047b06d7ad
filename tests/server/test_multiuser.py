"""Radial origins (NanoVer's formula) and the scene/transform shim."""

from __future__ import annotations

import math

import pytest

from costeer.server.commands import CommandError
from costeer.server.multiuser import SceneShim, radial_origins
from costeer.server.state import SharedState


def test_radial_origins_face_the_centre():
    origins = radial_origins({"avatar.a": {}, "avatar.b": {}, "avatar.c": {}, "scene": []}, radius=2.0)
    assert set(origins) == {"user-origin.a", "user-origin.b", "user-origin.c"}
    assert origins["user-origin.a"]["position"] == pytest.approx([2.0, 0, 0])
    half = math.sin(-math.pi / 4)
    assert origins["user-origin.a"]["rotation"] == pytest.approx([0, half, 0, math.cos(-math.pi / 4)])
    angle = 2 * math.pi / 3
    assert origins["user-origin.b"]["position"] == pytest.approx([2 * math.cos(angle), 0, 2 * math.sin(angle)])


def test_no_avatars_no_origins():
    assert radial_origins({"scene": 1}) == {}


def test_scene_and_transform_mirror_each_other_once():
    state = SharedState()
    SceneShim(state).install()
    changes = []
    state.add_listener(lambda updates, removals: changes.append(dict(updates)))
    state.update({"scene": [0, 0, 0, 0, 0, 0, 1, 2, 2, 2]})
    assert state.get("transform.simulation") == {"transform": [0, 0, 0, 0, 0, 0, 1, -2, 2, 2], "parent": "root"}
    state.update({"transform.simulation": {"transform": [1, 0, 0, 0, 0, 0, 1, -3, 3, 3], "parent": "root"}})
    assert state.get("scene") == [1, 0, 0, 0, 0, 0, 1, 3, 3, 3]
    assert len(changes) == 2  # each write carries its mirror in the same change, no ping-pong
    assert set(changes[0]) == set(changes[1]) == {"scene", "transform.simulation"}


def test_malformed_scene_is_not_mirrored():
    state = SharedState()
    SceneShim(state).install()
    state.update({"scene": "upside down"})
    state.update({"transform.simulation": {"transform": None}})
    assert "transform.simulation" not in state.snapshot() or state.get("transform.simulation") == {"transform": None}
    assert state.get("scene") == "upside down"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_poses_are_refused_without_ping_pong(bad):
    state = SharedState()
    SceneShim(state).install()
    changes = []
    state.add_listener(lambda updates, removals: changes.append(dict(updates)))
    state.update({"scene": [0, 0, 0, 0, 0, 0, 1, bad, 1, 1], "avatar.a": 1})
    state.update({"transform.simulation": {"transform": [bad, 0, 0, 0, 0, 0, 1, 1, 1, 1], "parent": "root"}})
    assert state.snapshot() == {"avatar.a": 1}
    assert changes == [{"avatar.a": 1}]


def test_a_client_repeating_a_non_finite_scene_is_warned_once(caplog):
    state = SharedState()
    SceneShim(state).install()
    for _ in range(10):
        state.update({"scene": [0, 0, 0, 0, 0, 0, 1, math.nan, 1, 1]}, origin="client-1")
    state.update({"scene": [0, 0, 0, 0, 0, 0, 1, math.nan, 1, 1]}, origin="client-2")
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2 and "client-1" in warnings[0] and "client-2" in warnings[1]


@pytest.mark.parametrize("scene", [[math.nan, 1.0], {"pose": [1.0, math.inf]}, [[0.0, -math.inf]]])
def test_a_malformed_scene_holding_nan_is_refused_and_the_log_says_so(scene, caplog):
    state = SharedState()
    SceneShim(state).install()
    state.update({"scene": scene, "avatar.a": 1})
    assert state.snapshot() == {"avatar.a": 1}
    assert "refused scene from the server, not stored" in caplog.text


def test_a_finite_malformed_scene_is_stored_unmirrored_and_the_log_says_so(caplog):
    state = SharedState()
    SceneShim(state).install()
    state.update({"scene": [0.0, 1.0]}, origin="client-1")
    assert state.snapshot() == {"scene": [0.0, 1.0]}
    assert "stored scene from client-1 as sent" in caplog.text and "not updated" in caplog.text


@pytest.mark.parametrize("radius", [math.nan, math.inf, -1.0, 101.0, "2", None, True])
def test_radial_origins_refuse_a_radius_that_is_not_a_sensible_number(radius):
    with pytest.raises(CommandError, match="radius must be a number of metres from 0 to 100"):
        radial_origins({"avatar.a": {}}, radius=radius)
