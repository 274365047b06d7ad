"""The co-pilot's decisions in each mode, with the shipped nanotube policy and a fake person's pull."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.agent.checkpoint import load_policy, shipped_checkpoint
from costeer.agent.copilot import (
    COPILOT_INTERACTION_KEY,
    COPILOT_MODES,
    Copilot,
    CopilotSettings,
    arbitrate,
)
from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.rollout import TaskEnvironment

SUGGESTION = keys.STATE_COPILOT_SUGGESTION


@pytest.fixture(scope="module")
def start():
    """The nanotube task's first frame and grabbed atoms (a full frame: elements and bonds)."""
    env = TaskEnvironment("nanotube")
    step = env.reset(0)
    env.close()
    return step.frame, step.positions, env.selection


@pytest.fixture(scope="module")
def runner():
    return load_policy(shipped_checkpoint("nanotube"))


def make(runner, start, **settings) -> Copilot:
    frame, _, _ = start
    copilot = Copilot.from_frame(runner, frame, settings=CopilotSettings(**settings), policy_name="nanotube.pt")
    copilot.start()
    return copilot


def person(atoms, *, scale: float = 1201.1, label: str = "synthetic") -> Interaction:
    return Interaction(np.zeros(3), np.asarray(atoms), "spring", scale=scale,
                       properties={"owner.id": "someone", "label": label})


def test_start_writes_the_status_map(runner, start):
    copilot = Copilot.from_frame(runner, start[0], settings=CopilotSettings(mode="suggest", blend=None),
                                 policy_name="nanotube.pt")
    status = copilot.start().updates[keys.STATE_COPILOT]
    assert status == {"mode": "suggest", "blend": None, "policy": "nanotube.pt", "task": "nanotube", "acting": False,
                      "max_force": 2000.0, "owner.id": keys.COPILOT_OWNER, "error": None}


def test_off_writes_nothing(runner, start):
    copilot = make(runner, start, mode="off")
    change = copilot.on_frame(start[1], {}, frame_index=0)
    assert not change


def test_suggest_writes_only_the_suggestion(runner, start):
    copilot = make(runner, start, mode="suggest")
    change = copilot.on_frame(start[1], {}, frame_index=7)
    assert COPILOT_INTERACTION_KEY not in change.updates and not change.removals
    suggestion = change.updates[SUGGESTION]
    assert suggestion["particles"] == start[2].grabbed.tolist()
    assert 0.0 <= suggestion["confidence"] <= 1.0
    assert suggestion["confidence"] == pytest.approx(np.clip(copilot.last_proposal.action[5], 0, 1))
    assert (suggestion["frame.index"], suggestion["owner.id"], suggestion["label"]) == (7, keys.COPILOT_OWNER, "copilot")
    assert len(suggestion["position"]) == 3 and suggestion["scale"] > 0
    # every frame, and gone when the mode changes
    assert SUGGESTION in copilot.on_frame(start[1], {}, frame_index=8).updates
    assert SUGGESTION in copilot.set_mode("apply").removals


def test_apply_pulls_as_the_copilot_within_its_cap(runner, start):
    copilot = make(runner, start, mode="apply", max_force=500.0)
    change = copilot.on_frame(start[1], {}, frame_index=0)
    pull = Interaction.from_state(change.updates[COPILOT_INTERACTION_KEY])
    assert pull.properties == {"owner.id": keys.COPILOT_OWNER, "label": "copilot"}
    assert pull.max_force <= 500.0
    assert np.array_equal(pull.particles, start[2].grabbed)
    assert change.updates[keys.STATE_COPILOT]["acting"] is True
    assert SUGGESTION not in change.updates


def test_assist_lets_go_on_the_frame_a_person_grabs(runner, start):
    positions, grabbed = start[1], start[2].grabbed
    copilot = make(runner, start, mode="assist")
    assert COPILOT_INTERACTION_KEY in copilot.on_frame(positions, {}, frame_index=0).updates
    own = {COPILOT_INTERACTION_KEY: Interaction(np.zeros(3), grabbed, "spring",
                                                properties={"label": "copilot", "owner.id": keys.COPILOT_OWNER})}
    # its own pull, another agent's, and a person's on other atoms are no person on the task's atoms
    others = {**own, "interaction.policy": person(grabbed, label="policy"), "interaction.tube": person([0, 1])}
    assert COPILOT_INTERACTION_KEY in copilot.on_frame(positions, others, frame_index=1).updates
    change = copilot.on_frame(positions, {**others, "interaction.person": person(grabbed)}, frame_index=2)
    assert COPILOT_INTERACTION_KEY in change.removals and COPILOT_INTERACTION_KEY not in change.updates
    assert change.updates[keys.STATE_COPILOT]["acting"] is False
    # and takes over again once the person lets go
    assert COPILOT_INTERACTION_KEY in copilot.on_frame(positions, others, frame_index=3).updates


def test_assist_with_blend_pulls_beside_the_person_capped_to_its_share(runner, start):
    positions, grabbed = start[1], start[2].grabbed
    copilot = make(runner, start, mode="assist", blend=0.2)
    weak = person(grabbed, scale=100.0)
    change = copilot.on_frame(positions, {"interaction.person": weak}, frame_index=0)
    pull = Interaction.from_state(change.updates[COPILOT_INTERACTION_KEY])
    assert pull.properties["blend"] == 0.2
    assert pull.scale == pytest.approx(0.2 / 0.8 * 100.0)
    assert pull.scale < copilot.last_proposal.interaction.scale  # the policy wanted more
    assert change.updates[keys.STATE_COPILOT]["blend"] == 0.2


def test_stop_removes_everything_and_stays_off(runner, start):
    copilot = make(runner, start, mode="apply")
    copilot.on_frame(start[1], {}, frame_index=0)
    change = copilot.stop()
    assert set(change.removals) == {COPILOT_INTERACTION_KEY, SUGGESTION}
    assert change.updates[keys.STATE_COPILOT]["mode"] == "off"
    assert not copilot.on_frame(start[1], {}, frame_index=1)


def test_a_frame_with_nan_positions_lets_go_instead_of_raising(runner, start):
    copilot = make(runner, start, mode="apply")
    copilot.on_frame(start[1], {}, frame_index=0)
    broken = start[1].copy()
    broken[3] = np.nan
    change = copilot.on_frame(broken, {}, frame_index=1)
    assert change.removals == [COPILOT_INTERACTION_KEY]
    status = change.updates[keys.STATE_COPILOT]
    assert status["acting"] is False and status["mode"] == "apply" and "NaN" in status["error"]
    recovered = copilot.on_frame(start[1], {}, frame_index=2)
    assert COPILOT_INTERACTION_KEY in recovered.updates and recovered.updates[keys.STATE_COPILOT]["error"] is None


def test_let_go_keeps_the_mode(runner, start):
    copilot = make(runner, start, mode="assist")
    copilot.on_frame(start[1], {}, frame_index=0)
    change = copilot.let_go("stalled: no action for 3 frame intervals")
    assert change.removals == [COPILOT_INTERACTION_KEY]
    assert change.updates[keys.STATE_COPILOT]["mode"] == "assist"
    assert change.updates[keys.STATE_COPILOT]["error"].startswith("stalled")


def test_status_is_written_only_when_it_changes(runner, start):
    copilot = make(runner, start, mode="apply")
    assert keys.STATE_COPILOT in copilot.on_frame(start[1], {}, frame_index=0).updates  # acting now
    assert keys.STATE_COPILOT not in copilot.on_frame(start[1], {}, frame_index=1).updates
    assert keys.STATE_COPILOT in copilot.set_mode("assist", 0.5).updates
    assert keys.STATE_COPILOT not in copilot.set_mode("assist", 0.5).updates


def test_frame_zero_starts_a_new_episode(runner, start):
    copilot = make(runner, start, mode="apply")
    first = copilot.on_frame(start[1], {}, frame_index=0).updates[COPILOT_INTERACTION_KEY]
    moved = start[1] + np.array([0.3, 0.0, 0.0])
    for index in range(1, 10):
        copilot.on_frame(moved, {}, frame_index=index)
    again = copilot.on_frame(start[1], {}, frame_index=0).updates[COPILOT_INTERACTION_KEY]
    assert again == first


def test_bad_modes_and_blends_say_what_is_allowed(runner, start):
    copilot = make(runner, start)
    with pytest.raises(ValueError, match="off, suggest, apply, assist"):
        copilot.set_mode("drive")
    with pytest.raises(ValueError, match="between 0 and 1"):
        copilot.set_mode("assist", 1.0)
    with pytest.raises(ValueError, match="max_force"):
        CopilotSettings(max_force=float("inf"))
    assert COPILOT_MODES == ("off", "suggest", "apply", "assist")


def test_arbitrate_is_the_one_rule():
    proposal = Interaction(np.zeros(3), np.array([5]), "spring", scale=3000.0, properties={"label": "copilot"})
    someone = person([5], scale=1000.0)
    assert arbitrate("off", proposal, None, blend=None) is None
    assert arbitrate("suggest", proposal, None, blend=None) is None
    assert arbitrate("apply", proposal, someone, blend=None) is proposal  # the gate makes people win
    assert arbitrate("assist", proposal, None, blend=None) is proposal
    assert arbitrate("assist", proposal, someone, blend=None) is None
    blended = arbitrate("assist", proposal, someone, blend=0.5)
    assert blended.scale == 1000.0 and blended.properties == {"label": "copilot", "blend": 0.5}
    assert arbitrate("assist", None, someone, blend=0.5) is None
