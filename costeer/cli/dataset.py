"""``costeer dataset``: build an episode dataset from recordings, summarise it, plot it."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .files import output_folder, readable_recording

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "dataset",
        help="turn recordings into an episode dataset (Parquet, LeRobot v3 layout); summarise or plot one",
        description="Episode datasets from .nanover.zip recordings, laid out like LeRobot's v3 datasets.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = actions.add_parser(
        "build",
        help="build a dataset from recordings",
        description="Read recordings (costeer's or NanoVer's), split them into episodes and write "
        "per-step observation, action, user force and success under a task.",
    )
    build.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING", help=".nanover.zip files")
    build.add_argument("--task", required=True, metavar="TASK", help="task name (e.g. nanotube) or task file (path/to/task.py)")
    build.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="folder to write the dataset to")
    build.add_argument("--per-grab", action="store_true", help="one episode per grab instead of per simulation run")
    build.add_argument("--anonymise", action="store_true", help="replace user ids with pseudonyms and leave out headset and controller poses")
    build.add_argument("--velocities", action="store_true", help="observe velocities too (recordings must include them)")
    build.add_argument("--infer-spring", type=float, metavar="STRENGTH",
                       help="frames-only recordings (a user force, no interaction): learn from their pulls, aimed where a "
                       "spring of this strength would exert the recorded force (the human sessions' pulls: 1201, a scale "
                       "of 100 on methane's carbon); without it they are left out of learning")
    build.add_argument("--origin", metavar="ORIGIN", help="origin of recordings that carry no costeer.session label (e.g. human)")
    replace = build.add_mutually_exclusive_group()
    replace.add_argument("--overwrite", action="store_true", help="replace DIR if it already holds a dataset")
    replace.add_argument("--append", action="store_true",
                         help="add the episodes to the dataset in DIR (same task and options), or start one there")
    build.set_defaults(run=run_build)

    info = actions.add_parser("info", help="print episodes, steps, origins, success rate, action statistics")
    info.add_argument("dataset", type=Path, metavar="DIR")
    info.set_defaults(run=run_info)

    plot = actions.add_parser("plot", help="write PNG figures: paths per episode, forces, success")
    plot.add_argument("dataset", type=Path, metavar="DIR")
    plot.add_argument("-o", "--output", type=Path, metavar="OUTDIR", help="folder for the figures (default DIR/figures)")
    plot.set_defaults(run=run_plot)


def run_build(args: argparse.Namespace) -> int:
    from ..datasets.build import build_dataset
    from ..datasets.demonstrations import RepairedRecordingWarning
    from ..datasets.summary import summarise_dataset
    from ..recording import RecordingError

    for recording in args.recordings:  # every input before any work; cut-short ones are read from a repaired copy
        readable_recording(recording, option="RECORDING", cut_short_ok=True)
    output_folder(args.output, option="-o/--output")
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RepairedRecordingWarning)
            output = build_dataset(
                args.recordings,
                task=args.task,
                output=args.output,
                per_grab=args.per_grab,
                anonymise=args.anonymise,
                velocities=args.velocities,
                origin=args.origin,
                overwrite=args.overwrite,
                append=args.append,
                infer_spring=args.infer_spring,
            )
    except RecordingError as error:
        raise ValueError(str(error)) from None
    finally:  # what repairs lost is worth saying even when the build then fails; said once the
        # catching is over (re-shown inside it, each warning was caught again, without end)
        for warning in caught:
            print(f"costeer dataset build: warning: {warning.message}", file=sys.stderr)
    print(f"wrote {output}")
    print(summarise_dataset(output))
    return 0


def run_info(args: argparse.Namespace) -> int:
    from ..datasets.summary import summarise_dataset

    print(summarise_dataset(args.dataset))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from ..datasets.plot import plot_dataset

    output = output_folder(args.output or args.dataset / "figures", option="-o/--output")
    written = plot_dataset(args.dataset, output)
    print(f"wrote {len(written)} figures to {output}")
    return 0
