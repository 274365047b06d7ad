"""The state mirror passes each side only what the other lacks: no echo of a change comes back."""

from __future__ import annotations

from costeer.server.state_mirror import StateMirror


def change(updates=None, removals=()):
    return {"updates": dict(updates or {}), "removals": list(removals)}


def test_a_local_change_goes_out_once_and_its_echo_is_dropped():
    mirror = StateMirror()
    assert mirror.outgoing(change({"scene": 1})) == change({"scene": 1})
    assert mirror.incoming(change({"scene": 1})) is None  # the hub sending it back


def test_a_remote_change_comes_in_once_and_is_not_sent_back():
    mirror = StateMirror()
    assert mirror.incoming(change({"avatar.u": {"x": 1}})) == change({"avatar.u": {"x": 1}})
    assert mirror.outgoing(change({"avatar.u": {"x": 1}})) is None  # the local state publishing it


def test_a_new_value_of_an_agreed_key_passes_either_way():
    mirror = StateMirror()
    mirror.incoming(change({"scene": 1}))
    assert mirror.outgoing(change({"scene": 2})) == change({"scene": 2})
    assert mirror.incoming(change({"scene": 3})) == change({"scene": 3})


def test_removals_pass_once_and_only_for_keys_agreed_on():
    mirror = StateMirror()
    mirror.incoming(change({"interaction.a": {}}))
    assert mirror.outgoing(change(removals=["never.seen"])) is None
    assert mirror.outgoing(change(removals=["interaction.a"])) == change(removals=["interaction.a"])
    assert mirror.incoming(change(removals=["interaction.a"])) is None  # the echo of the removal


def test_a_mixed_change_keeps_only_its_news():
    mirror = StateMirror()
    mirror.outgoing(change({"a": 1, "b": 2}))
    assert mirror.incoming(change({"a": 1, "b": 5, "c": 3}, removals=["a"])) == change({"b": 5, "c": 3}, removals=["a"])


def test_the_local_keys_are_those_the_remote_side_holds_from_here():
    mirror = StateMirror()
    mirror.outgoing(change({"simulation.name": "tube", "scene": 1, "avatar.local": {}}))
    mirror.incoming(change({"avatar.remote": {}, "scene": 2}))  # the remote side took scene over
    mirror.outgoing(change(removals=["avatar.local"]))
    assert mirror.local_keys() == ["simulation.name"]
