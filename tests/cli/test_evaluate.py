"""``costeer evaluate`` and ``costeer dagger``: JSON, plots, the comparison with a person, and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from costeer.agent.checkpoint import read_checkpoint
from costeer.cli.main import main


def test_evaluate_a_policy_beside_a_baseline_writes_json_and_plots(checkpoint: Path, tmp_path: Path, capsys) -> None:
    code = main(["evaluate", "--policy", str(checkpoint), "--baselines", "none", "--rollouts", "1",
                 "--max-seconds", "2", "--json", str(tmp_path / "eval.json"), "--plot", str(tmp_path / "plots")])
    assert code == 0
    out = capsys.readouterr().out
    assert "mlp.pt: success" in out and "none: success 0/1" in out
    written = json.loads((tmp_path / "eval.json").read_text())
    assert [actor["actor"] for actor in written["actors"]] == [str(checkpoint), "none"]
    assert {"success_rate", "success_interval", "time_to_success_s_median", "work_median", "per_rollout"} <= set(written["actors"][0])
    assert (tmp_path / "plots" / "success.png").is_file() and (tmp_path / "plots" / "paths.png").is_file()
    # the policy acts at the pace of its training data: 2.5 fs between the person's frames, 5 steps of 0.5 fs
    assert read_checkpoint(checkpoint)["training"]["simulation_interval_ps"] == pytest.approx(0.0025, rel=0.01)
    assert written["actors"][0]["settings"]["steps_per_frame"] == 5


def test_against_a_recording_prints_the_agreement(checkpoint: Path, session: Path, capsys) -> None:
    assert main(["evaluate", "--policy", str(checkpoint), "--against", str(session)]) == 0
    assert "direction cosine" in capsys.readouterr().out


def test_against_a_recording_whose_pulls_have_no_target_says_so_and_writes_valid_json(
        checkpoint: Path, shared_data: Path, tmp_path: Path, capsys) -> None:
    example = shared_data / "recordings" / "nanotube-example.nanover.zip"  # the person's force in frames, no interaction in state
    out = tmp_path / "against.json"
    assert main(["evaluate", "--policy", str(checkpoint), "--against", str(example), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "never pulls with a recorded target" in printed and not re.search(r"\bnan\b", printed)
    (result,) = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))["against"]
    assert result["pulling_steps"] == 0 and result["direction_cosine"] is None and result["target_error_nm"] is None


@pytest.mark.parametrize(("arguments", "message"), [
    (["evaluate", "--baselines", "wizard"], "unknown baseline(s) wizard: choose from none, scripted, demonstrator"),
    (["evaluate", "--baselines", ""], "nothing to evaluate: give --policy CKPT and/or --baselines"),
    (["evaluate", "--policy", "missing.pt"], "--policy missing.pt: no such checkpoint"),
    (["evaluate", "--against", "x.nanover.zip"], "give --policy CKPT too"),
    (["dagger", "--policy", "missing.pt", "--dataset", ".", "-o", "out"], "no such checkpoint"),
])
def test_mistakes_are_one_clear_line(arguments: list[str], message: str, capsys) -> None:
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_a_checkpoint_of_another_task_is_refused(checkpoint: Path, capsys) -> None:
    assert main(["evaluate", "--policy", str(checkpoint), "--task", "helix", "--baselines", "", "--rollouts", "1"]) == 2
    assert "a policy for task 'nanotube', not 'helix'" in capsys.readouterr().err


def test_evaluate_with_a_synthetic_person_compares_alone_and_with_the_copilot(checkpoint: Path, tmp_path: Path,
                                                                              capsys) -> None:
    code = main(["evaluate", "--policy", str(checkpoint), "--with-person", "synthetic", "--mode", "assist",
                 "--blend", "0.5", "--episodes", "1", "--seed", "2", "--max-seconds", "2",
                 "--json", str(tmp_path / "c.json"), "--plot", str(tmp_path / "c.png")])
    assert code == 0
    out = capsys.readouterr().out
    assert "person alone: threaded 0/1" in out and "with co-pilot: threaded 0/1" in out
    assert "person work" in out and "time with the co-pilot <= 50% of alone: not met" in out
    written = json.loads((tmp_path / "c.json").read_text())
    assert (written["mode"], written["blend"], len(written["per_episode"])) == ("assist", 0.5, 2)
    assert {"success_interval", "time_to_success_s_interval", "person_work_interval"} <= set(written["with_copilot"])
    assert written["settings"]["steps_per_frame"] == 5  # the pace the checkpoint learned at
    assert (tmp_path / "c.png").is_file()


def test_evaluate_with_a_person_refuses_a_mode_without_a_pull(checkpoint: Path, capsys) -> None:
    assert main(["evaluate", "--policy", str(checkpoint), "--with-person", "synthetic", "--mode", "suggest"]) == 2
    assert "co-steering is measured in assist" in capsys.readouterr().err


def test_dagger_refuses_a_folder_that_is_not_empty_before_any_work(checkpoint: Path, tmp_path: Path, capsys) -> None:
    dataset = tmp_path / "dataset"
    (dataset / "meta").mkdir(parents=True)
    (dataset / "meta" / "info.json").write_text("{}")
    taken = tmp_path / "another-dataset"  # e.g. the dataset itself, given as -o by mistake
    taken.mkdir()
    (taken / "notes.txt").write_text("precious")
    assert main(["dagger", "--policy", str(checkpoint), "--dataset", str(dataset), "-o", str(taken)]) == 2
    assert f"{taken} is not empty: give an empty or new --output folder" in capsys.readouterr().err
    assert [path.name for path in taken.iterdir()] == ["notes.txt"]
