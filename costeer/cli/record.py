"""``costeer record`` (record any NanoVer server) and ``costeer recording repair``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import existing_file, new_recording

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    record = commands.add_parser(
        "record",
        help="record a running NanoVer server (costeer or NanoVer) to .nanover.zip",
        description="Connect to a NanoVer WebSocket server and record frames and state until "
        "interrupted (Ctrl-C) or --duration elapses.",
    )
    record.add_argument("url", help="server address, e.g. ws://127.0.0.1:38801")
    record.add_argument("output", type=Path, help="recording to write (.nanover.zip)")
    record.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    record.set_defaults(run=run_record)

    recording = commands.add_parser("recording", help="work on recordings")
    actions = recording.add_subparsers(dest="action", required=True, metavar="ACTION")
    repair = actions.add_parser(
        "repair",
        help="recover what a killed server left in a recording",
        description="Rebuild the index and zip directory of a recording cut short (for "
        "example by SIGKILL), keeping every complete message.",
    )
    repair.add_argument("file", type=Path, help="the damaged .nanover.zip")
    repair.add_argument("-o", "--output", type=Path, default=None, help="write here (a new file, or a new one in this folder) instead of repairing in place")
    repair.set_defaults(run=run_repair)


def run_record(args: argparse.Namespace) -> int:
    from ..recording.client import record_server

    args.output = new_recording(args.output, option="OUTPUT")
    try:
        result = record_server(args.url, args.output, duration=args.duration)
    except KeyboardInterrupt:
        print(f"stopped; recorded {args.url} to {args.output}")
        return 0
    print(f"recorded {result.frames} frames and {result.states} state updates in {result.seconds:.1f} s from {args.url} to {result.path}")
    return 0


def run_repair(args: argparse.Namespace) -> int:
    from ..recording.repair import repair_recording

    existing_file(args.file, option="FILE")
    output = args.output
    if output is not None and output.resolve() != args.file.resolve():
        output = new_recording(output, option="--output")  # never over another recording; a folder gets a new file
    report = repair_recording(args.file, output=output)
    print(report)
    return 0
