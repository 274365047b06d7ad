"""``costeer demonstrate``: synthetic people do the task, through a live server or offline, episode after episode.

Live, it connects as a NanoVer client (what a headset speaks), so it works with ``costeer
serve`` and with NanoVer's own server. Start the server with ``--record`` (and ``--label
origin=synthetic``) to keep the demonstrations; for short runs speed the server up and say so
here, e.g. ``costeer serve --steps-per-frame 30`` with ``--time-compression 6``.

``--offline -o DIR`` needs no server: worker processes step the task in-process with the
server's engine and write one recording per episode into DIR, ready for
``costeer dataset build DIR/*.nanover.zip --task TASK -o DATASET``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from .connect import add_connection_options, connection_options
from .files import output_folder
from .numbers import seconds, seed

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demonstrate",
        help="synthetic demonstrations: scripted people steer the task, through a live server or offline",
        description="Run synthetic demonstrations (grab, steer like a person with delays, wobble, pauses, "
        "failures and retries), labelled origin=synthetic: through a NanoVer-protocol server as a headset "
        "would (playback/reset between episodes), or with --offline in-process, one recording per episode.",
    )
    parser.add_argument("--task", default="nanotube", help="the task to demonstrate (default nanotube)")
    parser.add_argument("--episodes", type=int, default=10, help="how many episodes (default 10)")
    parser.add_argument(
        "--server", default="ws://127.0.0.1:38801", metavar="URL", help="the server (default ws://127.0.0.1:38801)"
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the synthetic people (default 0; offline, episode i uses seed+i)")
    parser.add_argument("--offline", action="store_true", help="no server: run the episodes in-process and write recordings (-o)")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="with --offline: folder for the episodes' .nanover.zip files")
    parser.add_argument("--workers", type=int, default=1, help="with --offline: worker processes (default 1)")
    parser.add_argument(
        "--time-compression",
        type=float,
        default=None,
        metavar="X",
        help="the server runs X times a person's pace (serve it with --steps-per-frame 5X); checked "
        "against the frames. The hand always lives on simulated time, so any pace stays faithful.",
    )
    parser.add_argument(
        "--max-seconds", type=seconds, default=60.0, help="longest episode, in a person's seconds (default 60)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per episode instead of text")
    add_connection_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.offline:
        return run_offline(args)
    if args.output is not None or args.workers != 1:
        raise ValueError("-o/--output and --workers go with --offline (a live server records with costeer serve --record)")
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
            **connection_options(args),
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


def run_offline(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..demonstrator import OfflineEpisode, demonstrate_offline

    if args.output is None:
        raise ValueError("--offline writes recordings: give the folder with -o DIR")
    output_folder(args.output, option="-o/--output")
    if args.time_compression is not None:
        raise ValueError("--time-compression is for a live server; offline episodes always run at a person's pace")
    with tqdm(total=args.episodes, desc="episodes", unit="episode", disable=args.json or None) as bar:
        successes = 0

        def show(report: OfflineEpisode) -> None:
            nonlocal successes
            successes += report.success
            if args.json:
                print(json.dumps(report.to_dict()), flush=True)
            bar.update()
            bar.set_postfix(succeeded=successes)

        reports = demonstrate_offline(
            args.output,
            episodes=args.episodes,
            seed=args.seed,
            workers=args.workers,
            task_name=args.task,
            max_s=args.max_seconds,
            on_episode=show,
        )
    if not args.json:
        successes = sum(report.success for report in reports)
        person_s = sum(report.person_s for report in reports)
        print(
            f"costeer demonstrate: {successes}/{len(reports)} succeeded ({successes / len(reports):.0%}), "
            f"{person_s / 60:.1f} min of a person's time in {args.output}"
        )
    return 0
