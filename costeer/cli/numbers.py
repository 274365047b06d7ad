"""Numbers a command takes, refused while its arguments are parsed: argparse prints the rule with the option.

    parser.add_argument("--seed", type=seed, default=0)     # "argument --seed: a seed is a whole number, 0 or more, got -1"
    parser.add_argument("--port", type=port, default=38801)  # "argument --port: a port is a whole number from 0 to 65535, ..."
    parser.add_argument("--max-seconds", type=seconds)       # "argument --max-seconds: give a time above 0 s, got -5"
"""

from __future__ import annotations

import argparse

__all__ = ["port", "seed", "seconds"]


def seed(text: str) -> int:
    """A seed: a whole number, 0 or more (numpy's generators, which seed the synthetic people and the
    rollouts, take no negative one; a refusal here comes before any system is built)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number, 0 or more, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a whole number, 0 or more, got {value}")
    return value


def port(text: str) -> int:
    """A TCP port: a whole number from 0 (a free one, picked when listening) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535 (0: a free one), got {value}")
    return value


def seconds(text: str) -> float:
    """A length of time in seconds, above 0 and finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a time in seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"give a time above 0 s, got {text}")
    return value
