"""``costeer``: the command-line entry point; each subcommand is a thin layer over the package."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..recording.format import RecordingError
from . import copilot, dagger, dataset, demo, demonstrate, evaluate, export, record, serve, train

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costeer",
        description="Human-AI co-steering of molecular simulations: a NanoVer-compatible "
        "interactive MD server on OpenMM that records every session.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, export, record, demo, dataset, demonstrate, train, evaluate, dagger, copilot):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except (OSError, ValueError, ImportError, RecordingError) as error:  # OSError: missing files, ports in use, refused connections
        message = " ".join(str(error).split())  # one line, whatever the library wrote
        print(f"costeer {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
