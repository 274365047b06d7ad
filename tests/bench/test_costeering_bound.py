"""The oracle co-pilot bench: the oracle acts by the co-pilot's rule, threads beside the person, and is summarised honestly."""

from __future__ import annotations

import numpy as np
import pytest

import costeering_bound
from costeering_bound import Arm, AxisOracle
from costeer.agent.copilot import COPILOT_INTERACTION_KEY
from costeer.core.interaction import Interaction
from costeer.rollout import TaskEnvironment
from costeer.tasks import resolve_task

PERSON_SCALE = 1201.078
"""The synthetic person's pull on methane's carbon (100 per dalton: ``human_scale``)."""


@pytest.fixture(scope="module")
def env():
    environment = TaskEnvironment(resolve_task("nanotube"), steps_per_frame=5)
    yield environment
    environment.close()


def test_the_oracle_takes_no_more_than_its_blend_beside_a_person_and_all_of_its_pull_alone(env):
    oracle = AxisOracle(env, Arm(blend=0.75, strength=9.0, max_force=2000.0, lead=1.0))
    positions = env.initial_positions
    alone = Interaction.from_state(oracle.on_frame(positions, {}, frame_index=0).updates[COPILOT_INTERACTION_KEY])
    assert alone.scale == pytest.approx(9.0 * PERSON_SCALE) and "blend" not in alone.properties
    assert alone.max_force == 2000.0 and alone.properties["label"] == "copilot"
    person = Interaction(positions[60], np.array([60]), "spring", scale=PERSON_SCALE)
    beside = oracle.on_frame(positions, {"interaction.person": person}, frame_index=1).updates[COPILOT_INTERACTION_KEY]
    assert beside["scale"] == pytest.approx(3.0 * PERSON_SCALE) and beside["blend"] == 0.75


def test_beside_the_synthetic_person_the_oracle_threads_sooner_than_the_person_alone(env):
    arm = Arm(blend=0.5, strength=1.0, max_force=2000.0, lead=0.5)
    costeering_bound._worker.update(env=env, arms=(arm,), max_s=40.0)
    try:
        result = costeering_bound.run_seed(1)  # seed 0 is one it does not speed up
    finally:
        costeering_bound._worker.clear()
    alone, together = result["alone"], result["arms"][0]
    assert alone["success"] and together["success"] and not together["blew_up"]
    assert together["time_to_success_s"] < alone["time_to_success_s"]
    assert 0 < together["person_work"] < alone["person_work"]


def test_a_blow_up_counts_as_not_threaded_and_negative_work_as_holding_methane_back():
    arm = Arm(blend=0.9, strength=9.0, max_force=costeering_bound.UNCAPPED, lead=1.0)
    alone = [{"success": True, "time_to_success_s": 10.0, "person_work": 100.0} for _ in range(3)]
    together = [{"success": True, "blew_up": False, "time_to_success_s": 5.0, "person_work": -50.0},
                {"success": True, "blew_up": False, "time_to_success_s": 7.0, "person_work": 20.0},
                {"seed": 2, "success": False, "blew_up": True}]
    row = costeering_bound.summarise(arm, alone, together)
    assert (row["threaded"], row["blew_up"], row["time_pairs"], row["person_held_back"]) == (2, 1, 2, 1)
    assert row["time_ratio"] == pytest.approx(0.6) and row["person_work_ratio"] == pytest.approx(-0.15)
    line = costeering_bound.table(alone, [row]).splitlines()[-1]
    assert line.startswith("| blend 0.9, scale x9, cap lifted, lead 1 nm | 2/3 | 1 | 0.60 (") and "-0.15 (" in line
