"""SharedState: merged-change subscriptions, writers, filters and listeners."""

from __future__ import annotations

from costeer.server.state import SharedState


def test_first_take_is_the_whole_content_then_changes():
    state = SharedState()
    state.update({"a": 1, "b": 2})
    sub = state.subscribe()
    assert sub.take() == {"updates": {"a": 1, "b": 2}, "removals": []}
    assert sub.take() is None
    state.update({"a": 3}, ["b"])
    assert sub.take() == {"updates": {"a": 3}, "removals": ["b"]}


def test_changes_merge_like_nanovers_change_buffer():
    state = SharedState()
    state.update({"x": 0, "y": 0})
    sub = state.subscribe()
    sub.take()
    state.update({"x": 1})
    state.update({}, ["x"])        # removal cancels the pending update
    state.update({"y": 1})
    state.update({}, ["y"])
    state.update({"y": 2})         # update cancels the pending removal
    assert sub.take() == {"updates": {"y": 2}, "removals": ["x"]}


def test_snapshot_and_removal_of_absent_keys():
    state = SharedState()
    state.update({"a": 1})
    sub = state.subscribe()
    sub.take()
    state.update({}, ["missing"])
    assert sub.take() is None
    assert state.snapshot() == {"a": 1}


def test_writers_are_tracked_and_forgotten():
    state = SharedState()
    state.update({"avatar.u": 1, "scene": 2}, origin="c1")
    state.update({"other": 1}, origin="c2")
    assert state.keys_written_by("c1") == {"avatar.u", "scene"}
    state.update({}, ["scene"], origin="c2")
    assert state.keys_written_by("c1") == {"avatar.u"}
    state.forget_writer("c1")
    assert state.keys_written_by("c1") == set()


def test_filter_can_drop_updates_and_listener_sees_what_was_stored():
    state = SharedState()
    seen = []
    state.add_filter(lambda updates, origin, content: {k: v for k, v in updates.items() if k != "bad"})
    state.add_listener(lambda updates, removals: seen.append((dict(updates), set(removals))))
    stored = state.update({"good": 1, "bad": 2}, origin="c")
    assert stored == {"good": 1} and state.snapshot() == {"good": 1}
    assert seen == [({"good": 1}, set())]
    assert state.keys_written_by("c") == {"good"}


def test_failing_listener_does_not_break_the_update():
    state = SharedState()
    state.add_listener(lambda updates, removals: 1 / 0)
    state.update({"a": 1})
    assert state.snapshot() == {"a": 1}


def test_subscription_memory_is_bounded_by_the_key_count():
    state = SharedState()
    sub = state.subscribe()
    for i in range(10_000):
        state.update({f"avatar.{i % 3}": i})
    change = sub.take()
    assert change["updates"] == {"avatar.0": 9999, "avatar.1": 9997, "avatar.2": 9998}


def test_on_ready_and_close():
    state = SharedState()
    calls = []
    sub = state.subscribe(on_ready=lambda: calls.append(1))
    state.update({"a": 1})
    state.update({"a": 2})
    assert len(calls) == 1
    state.close()
    assert sub.wait(timeout=1) is None and sub.closed
    assert state.update({"b": 1}) == {}


def test_an_up_to_date_subscriber_shares_the_encoding_of_a_published_change():
    state = SharedState()
    first, second = state.subscribe(), state.subscribe()
    encodings = []

    def encode(change):
        encodings.append(change)
        return repr(change).encode()

    state.update({"a": 1})
    assert first.encoded_take(encode) == second.encoded_take(encode) == b"{'updates': {'a': 1}, 'removals': []}"
    assert len(encodings) == 1  # the empty initial content never got pending; one change, one encoding
    state.update({"b": 2})
    state.update({}, ["a"])
    assert first.take() == {"updates": {"b": 2}, "removals": ["a"]}  # two changes merged: its own copy
    assert second.encoded_take(encode) == b"{'updates': {'b': 2}, 'removals': ['a']}"
    state.update({"c": 3})
    taken = first.take()
    taken["updates"]["mutated"] = True  # a taker's dict is its own
    assert second.take() == {"updates": {"c": 3}, "removals": []}


def test_keys_created_and_removed_between_two_reads_never_reach_the_subscriber():
    state = SharedState()
    state.update({"kept": 1, "old": 1})
    sub = state.subscribe()
    for round_ in range(100):  # churn: each round's keys come and go before the subscriber reads
        state.update({f"churn.{round_}.{i}": i for i in range(10)})
        state.update({}, [f"churn.{round_}.{i}" for i in range(10)])
    state.update({}, ["old"])
    state.update({"old": 2})  # removed, then back: the subscriber had seen it, so it gets the update
    state.update({"new": 1}, ["kept"])
    assert sub.take() == {"updates": {"old": 2, "new": 1}, "removals": []}  # first take: what is there
    state.update({"gone": 1})
    state.update({}, ["gone", "new"])
    state.update({"brief": 1})
    state.update({}, ["brief"])
    state.update({"brief": 2})
    assert sub.take() == {"updates": {"brief": 2}, "removals": ["new"]}


def test_two_transports_each_encode_a_published_change_once_whatever_order_their_clients_take_it():
    state = SharedState()
    subscriptions = [state.subscribe() for _ in range(4)]
    calls = []

    def as_text(change):
        calls.append("text")
        return repr(change)

    def as_bytes(change):
        calls.append("bytes")
        return repr(change).encode()

    state.update({"a": 1})
    taken = [sub.encoded_take(encode) for sub, encode in zip(subscriptions, (as_text, as_bytes, as_text, as_bytes))]
    assert taken[0] is taken[2] and taken[1] is taken[3] and taken[1] == taken[0].encode()
    assert sorted(calls) == ["bytes", "text"]
