"""Numbers a command takes, refused while its arguments are parsed: argparse prints the rule with the option.

    parser.add_argument("--seed", type=seed, default=0)     # "argument --seed: a seed is a whole number, 0 or more, got -1"
    parser.add_argument("--port", type=port, default=38801)  # "argument --port: a port is a whole number from 0 to 65535, ..."
    parser.add_argument("--max-seconds", type=seconds)       # "argument --max-seconds: give a time above 0 s, got -5"
    parser.add_argument("--gate-nm", type=nanometres)        # "argument --gate-nm: give a distance above 0 nm, got nan"
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

__all__ = ["nanometres", "port", "seed", "seconds"]


def _checked(text: str, parse: type, rule: str, fits: "Callable[[float], bool]") -> Any:
    """``parse(text)`` if it parses and ``fits``; else argparse's error saying ``rule`` and what was given."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{rule}, got {text!r}") from None
    if not fits(value):
        raise argparse.ArgumentTypeError(f"{rule}, got {text}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number, 0 or more (numpy's generators, which seed the synthetic people and the
    rollouts, take no negative one; a refusal here comes before any system is built)."""
    return _checked(text, int, "a seed is a whole number, 0 or more", lambda value: value >= 0)


def port(text: str) -> int:
    """A TCP port: a whole number from 0 (a free one, picked when listening) to 65535."""
    return _checked(text, int, "a port is a whole number from 0 to 65535 (0: a free one)",
                    lambda value: 0 <= value <= 65535)


def seconds(text: str) -> float:
    """A length of time in seconds, above 0 and finite."""
    return _checked(text, float, "give a time above 0 s", lambda value: 0 < value < math.inf)


def nanometres(text: str) -> float:
    """A distance in nm, above 0 and finite."""
    return _checked(text, float, "give a distance above 0 nm", lambda value: 0 < value < math.inf)
