"""InteractionGate: invalid or excess interactions never enter the state or the runner."""

from __future__ import annotations

import logging
import math

from costeer.server.interactions import InteractionGate
from costeer.server.state import SharedState


def spring(position=(1.0, 0.0, 0.0), particles=(60,), **extra):
    return {"position": list(position), "particles": list(particles), "interaction_type": "spring",
            "scale": 100.0, "max_force": math.inf, **extra}


def make(**kwargs):
    state = SharedState()
    pushed = []
    gate = InteractionGate(particle_count=lambda: 65, on_change=pushed.append, **kwargs)
    gate.install(state)
    return state, gate, pushed


def test_valid_interaction_reaches_the_runner_and_removal_clears_it():
    state, gate, pushed = make()
    state.update({"interaction.a": spring(), "avatar.u": {}}, origin="c1")
    assert set(pushed[-1]) == {"interaction.a"}
    assert pushed[-1]["interaction.a"].particles.tolist() == [60]
    state.update({"avatar.u": {"moved": 1}}, origin="c1")
    assert len(pushed) == 1  # non-interaction changes do not disturb the runner
    state.update({}, ["interaction.a"])
    assert pushed[-1] == {}


def test_invalid_interactions_are_dropped_with_a_warning(caplog):
    state, gate, pushed = make()
    bad = {
        "interaction.nan": spring(position=(math.nan, 0, 0)),
        "interaction.neg": spring(particles=(-1,)),
        "interaction.range": spring(particles=(65,)),
        "interaction.type": spring(interaction_type="tractor-beam"),
        "interaction.scale": spring(scale=math.inf),
        "interaction.notmap": [1, 2, 3],
        "interaction.ok": spring(),
    }
    with caplog.at_level(logging.WARNING):
        stored = state.update(bad, origin="client-7")
    assert set(stored) == {"interaction.ok"}
    assert set(state.snapshot()) == {"interaction.ok"}
    assert set(pushed[-1]) == {"interaction.ok"}
    text = caplog.text
    assert "client-7's change to interaction.nan: interaction.nan holds NaN or infinity" in text  # refused by ownership
    assert "negative" in text and "out of range" in text and "unknown interaction_type" in text


def test_invalid_update_keeps_the_previous_valid_interaction():
    state, gate, pushed = make()
    state.update({"interaction.a": spring()}, origin="c")
    state.update({"interaction.a": spring(position=(math.inf, 0, 0))}, origin="c")
    assert state.snapshot()["interaction.a"]["position"] == [1.0, 0.0, 0.0]


def test_caps_per_client_and_in_total(caplog):
    state, gate, pushed = make(max_per_client=3, max_total=5)
    with caplog.at_level(logging.WARNING):
        stored = state.update({f"interaction.{i}": spring() for i in range(1000)}, origin="flood")
    assert len(stored) == 3 and "holds 3 interactions" in caplog.text
    state.update({"interaction.0": spring(position=(2, 0, 0))}, origin="flood")  # updates still allowed
    state.update({f"interaction.b{i}": spring() for i in range(3)}, origin="other")
    assert len(gate.interactions) == 5 and "already holds 5 interactions" in caplog.text


def test_clear_forgets_everything():
    state, gate, pushed = make()
    state.update({"interaction.a": spring()}, origin="c")
    gate.clear()
    assert pushed[-1] == {} and gate.interactions == {}


def test_the_runner_always_ends_with_the_latest_set_even_when_publishes_overlap():
    import threading

    state = SharedState()
    entered, delivered = [], []
    release = threading.Event()

    def slow_runner(interactions):
        entered.append(1)
        if len(entered) == 1:  # the first hand-over stalls, as a busy thread might
            release.wait(5)
        delivered.append(set(interactions))

    InteractionGate(particle_count=lambda: 65, on_change=slow_runner).install(state)
    adding = threading.Thread(target=state.update, args=({"interaction.a": spring()},), kwargs={"origin": "c1"})
    adding.start()
    while not entered:
        threading.Event().wait(0.005)
    removing = threading.Thread(target=state.update, args=({}, ["interaction.a"]))
    removing.start()
    removing.join(0.2)
    release.set()
    adding.join(5)
    removing.join(5)
    assert delivered == [{"interaction.a"}, set()]
