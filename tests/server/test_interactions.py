"""InteractionGate: invalid or excess interactions never enter the state or the runner."""

from __future__ import annotations

import logging
import math

import pytest

from costeer.server.interactions import DEFAULT_AGENT_MAX_FORCE, PERSON_ROLE, InteractionGate, OriginRole
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


def agent_pull(particles=(60,), **extra):
    return spring(particles=particles, label="copilot", **{"owner.id": "costeer-copilot"}, **extra)


def test_an_agents_pull_is_withheld_while_a_person_holds_the_same_atoms_and_returns_when_they_let_go():
    state, gate, pushed = make()
    gate.set_role("costeer-copilot", OriginRole("agent"))
    state.update({"interaction.costeer-copilot": agent_pull(particles=(59, 60))}, origin="costeer-copilot")
    assert set(pushed[-1]) == {"interaction.costeer-copilot"}
    state.update({"interaction.hand": spring(particles=(60, 61))}, origin="headset")
    assert set(pushed[-1]) == {"interaction.hand"}
    assert "interaction.costeer-copilot" in state.snapshot()  # kept in the state, only not applied
    state.update({"interaction.costeer-copilot": agent_pull(particles=(59, 60), position=(2, 0, 0))}, origin="costeer-copilot")
    assert set(pushed[-1]) == {"interaction.hand"}
    state.update({}, ["interaction.hand"], origin="headset")
    assert set(pushed[-1]) == {"interaction.costeer-copilot"}


def test_an_agent_on_other_atoms_is_not_withheld():
    state, gate, pushed = make()
    state.update({"interaction.hand": spring(particles=(1,))}, origin="headset")
    state.update({"interaction.bot": agent_pull(particles=(60,))}, origin="bot")
    assert set(pushed[-1]) == {"interaction.hand", "interaction.bot"}


def test_an_agent_label_makes_an_interaction_an_agents_from_any_origin():
    state, gate, pushed = make()
    assert gate.role("some-client") == PERSON_ROLE
    state.update({"interaction.hand": spring(particles=(60,))}, origin="headset")
    state.update({"interaction.policy": spring(particles=(60,), label="policy")}, origin="some-client")
    assert set(pushed[-1]) == {"interaction.hand"}
    assert pushed[-1]["interaction.hand"].max_force == math.inf
    state.update({"interaction.synthetic": spring(particles=(60,), label="synthetic")}, origin="demonstrator")
    assert set(pushed[-1]) == {"interaction.hand", "interaction.synthetic"}  # a synthetic person is a person


def test_blend_caps_the_agents_scale_against_the_persons():
    state, gate, pushed = make()
    state.update({"interaction.hand": spring(particles=(60,), scale=30.0)}, origin="headset")
    state.update({"interaction.costeer-copilot": agent_pull(scale=500.0, blend=0.25)}, origin="costeer-copilot")
    applied = pushed[-1]
    assert set(applied) == {"interaction.hand", "interaction.costeer-copilot"}
    assert applied["interaction.costeer-copilot"].scale == pytest.approx(0.25 / 0.75 * 30.0)
    assert state.snapshot()["interaction.costeer-copilot"]["scale"] == 500.0
    state.update({}, ["interaction.hand"], origin="headset")
    assert pushed[-1]["interaction.costeer-copilot"].scale == 500.0  # alone it pulls as asked


@pytest.mark.parametrize("blend", [0.0, 1.0, "half", True, math.nan])
def test_an_unusable_blend_withholds_the_agent(blend):
    state, gate, pushed = make()
    state.update({"interaction.hand": spring(particles=(60,))}, origin="headset")
    state.update({"interaction.bot": agent_pull(blend=blend)}, origin="bot")
    assert set(pushed[-1]) == {"interaction.hand"}


def test_a_roles_max_force_cap_holds_even_when_the_agent_asks_for_more():
    state, gate, pushed = make()
    gate.set_role("costeer-copilot", OriginRole("agent", max_force=500.0))
    state.update({"interaction.costeer-copilot": agent_pull(max_force=1e9)}, origin="costeer-copilot")
    assert pushed[-1]["interaction.costeer-copilot"].max_force == 500.0
    assert state.snapshot()["interaction.costeer-copilot"]["max_force"] == 500.0
    state.update({"interaction.costeer-copilot": agent_pull(max_force=100.0)}, origin="costeer-copilot")
    assert pushed[-1]["interaction.costeer-copilot"].max_force == 100.0  # a lower request stands
    state.update({"interaction.labelled": agent_pull(particles=(3,))}, origin="no-role")  # the default agent role
    assert pushed[-1]["interaction.labelled"].max_force == DEFAULT_AGENT_MAX_FORCE


def test_a_roles_interaction_cap_refuses_more(caplog):
    state, gate, pushed = make()
    gate.set_role("bot", OriginRole("agent", max_interactions=1, yields_to_people=False))
    with caplog.at_level(logging.WARNING):
        stored = state.update({"interaction.b1": spring(), "interaction.b2": spring()}, origin="bot")
    assert len(stored) == 1 and "at most 1 interactions" in caplog.text
    state.update({"interaction.hand": spring()}, origin="headset")
    assert len(pushed[-1]) == 2  # it does not yield to people


def test_remove_takes_an_origins_interactions_out_of_the_gate_and_the_state():
    state, gate, pushed = make()
    state.update({"interaction.costeer-copilot": agent_pull(), "interaction.other": agent_pull(particles=(2,))},
                 origin="costeer-copilot")
    state.update({"interaction.hand": spring(particles=(5,))}, origin="headset")
    removed = gate.remove("costeer-copilot")
    assert sorted(removed) == ["interaction.costeer-copilot", "interaction.other"]
    assert set(state.snapshot()) == {"interaction.hand"}
    assert set(gate.interactions) == {"interaction.hand"} and set(pushed[-1]) == {"interaction.hand"}
    assert gate.remove("costeer-copilot") == []


def test_role_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="'person' or 'agent'"):
        OriginRole("robot")  # type: ignore[arg-type]
