"""``costeer demonstrate``: synthetic people thread methane through a live server, episode after episode.

Connects as a NanoVer client (what a headset speaks), so it works with ``costeer serve`` and
with NanoVer's own server. Start the server with ``--record`` (and ``--label origin=synthetic``)
to keep the demonstrations; for short runs speed the server up and say so here, e.g.
``costeer serve --steps-per-frame 30`` with ``--time-compression 6``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demonstrate",
        help="synthetic demonstrations: scripted people steer the task through a live server",
        description="Connect to a NanoVer-protocol server as a headset would and run synthetic "
        "demonstrations (grab, steer like a person with delays, wobble, pauses, failures and "
        "retries; playback/reset between episodes), labelled origin=synthetic in the shared state.",
    )
    parser.add_argument("--task", default="nanotube", help="the task to demonstrate (default nanotube)")
    parser.add_argument("--episodes", type=int, default=10, help="how many episodes (default 10)")
    parser.add_argument(
        "--server", default="ws://127.0.0.1:38801", metavar="URL", help="the server (default ws://127.0.0.1:38801)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic people (default 0)")
    parser.add_argument(
        "--time-compression",
        type=float,
        default=None,
        metavar="X",
        help="the server runs X times a person's pace (serve it with --steps-per-frame 5X); checked "
        "against the frames. The hand always lives on simulated time, so any pace stays faithful.",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="longest episode, in a person's seconds (default 60)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per episode instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demonstrator import EpisodeReport, demonstrate

    if args.time_compression is not None and not args.time_compression > 0:
        raise ValueError(f"--time-compression must be positive, got {args.time_compression}")

    def show(report: EpisodeReport) -> None:
        if args.json:
            print(json.dumps(report.__dict__), flush=True)
            return
        verdict = "threaded" if report.success else "not threaded"
        print(
            f"episode {report.index:3d}: {verdict:12s} attempts {report.attempts}  person {report.hand_outcome:8s} "
            f"{report.person_s:5.1f} s of a person's time in {report.wall_s:5.1f} s",
            flush=True,
        )

    reports = asyncio.run(
        demonstrate(
            args.server,
            episodes=args.episodes,
            task_name=args.task,
            seed=args.seed,
            time_compression=args.time_compression,
            max_person_s=args.max_seconds,
            on_episode=show,
        )
    )
    if not args.json:
        successes = sum(report.success for report in reports)
        retried = sum(report.attempts > 1 for report in reports)
        print(
            f"costeer demonstrate: {successes}/{len(reports)} threaded ({successes / len(reports):.0%}), "
            f"{retried} episodes with a retry"
        )
    return 0
