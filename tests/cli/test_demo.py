"""``costeer demo``: the synthetic person alone, then with the shipped co-pilot on the same seed (the served tour is in test_serve_and_demo)."""

from __future__ import annotations

import re

import torch

from costeer.cli.main import main


def test_the_demo_prints_both_runs_and_exits_0(capsys) -> None:
    threads = torch.get_num_threads()
    assert main(["demo", "--seed", "3", "--max-seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "synthetic person (seed 3)" in out and "nanotube.pt in assist, sharing the pull, its weight at most 0.5" in out
    alone = re.search(r"person alone\s+(not )?threaded in ([\d.]+) s; person's work (-?\d+) kJ/mol\n", out)
    together = re.search(r"with the co-pilot\s+(not )?threaded in ([\d.]+) s; person's work (-?\d+) kJ/mol, "
                         r"co-pilot pulled ([\d.]+) s", out)
    assert alone and together, out
    assert float(together.group(4)) > 0  # it shared the pull
    assert torch.get_num_threads() == threads  # the caller's torch is left as it was


def test_the_demo_refuses_a_blend_outside_0_1(capsys) -> None:
    assert main(["demo", "--blend", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
