"""``costeer copilot``: a trained policy joins a live session as a NanoVer client and co-steers with the people in it.

    costeer copilot --server ws://127.0.0.1:38801 --policy nanotube.pt --mode assist

Works against ``costeer serve`` and NanoVer's own server. Ctrl-C (or SIGTERM) removes its
interaction, suggestion and status before it leaves. ``add_copilot_options`` and
``copilot_settings`` are shared with ``costeer serve --copilot``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
from pathlib import Path
from typing import Any

from ..agent.copilot.settings import COPILOT_MODES, CopilotSettings
from .connect import add_connection_options, connection_options
from .files import existing_file

__all__ = ["add_parser", "add_copilot_options", "copilot_settings", "load_copilot_policy"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "copilot",
        help="run a trained policy beside the people in a live session (a NanoVer client)",
        description="Join a NanoVer-protocol server as a client and co-steer with a trained policy. Modes: off; "
        "suggest (publish what it would do as costeer.copilot.suggestion, no force); apply (pull as a user "
        "would); assist (pull only while no person pulls the task's atoms; with --blend, share control). "
        "Any client switches the mode with the copilot/mode command and stops it with copilot/stop.",
    )
    parser.add_argument("--server", default="ws://127.0.0.1:38801", metavar="URL", help="the server (default ws://127.0.0.1:38801)")
    parser.add_argument("--policy", type=Path, required=True, metavar="CKPT", help="policy checkpoint (costeer train; shipped: costeer/agent/checkpoints/nanotube.pt)")
    add_copilot_options(parser, prefix="")
    add_connection_options(parser)
    parser.set_defaults(run=run)


def add_copilot_options(parser: argparse.ArgumentParser, *, prefix: str) -> None:
    """``--{prefix}mode``, ``--{prefix}blend``, ``--{prefix}max-force`` (``prefix`` "copilot-" for serve)."""
    parser.add_argument(f"--{prefix}mode", choices=COPILOT_MODES, default="assist", help="starting mode (default assist)")
    parser.add_argument(f"--{prefix}blend", type=float, default=None, metavar="ALPHA",
                        help="assist: share control instead of yielding, the person's weight never below 1-ALPHA (0 < ALPHA < 1)")
    parser.add_argument(f"--{prefix}max-force", type=float, default=2000.0, metavar="F",
                        help="cap on each co-pilot force, kJ/(mol nm) (default 2000)")


def copilot_settings(args: argparse.Namespace, *, prefix: str) -> CopilotSettings:
    """The ``CopilotSettings`` the options give; ``ValueError`` naming the option when one is wrong."""
    attribute = prefix.replace("-", "_")
    mode, blend, max_force = (getattr(args, attribute + name) for name in ("mode", "blend", "max_force"))
    if blend is not None and not 0.0 < blend < 1.0:
        raise ValueError(f"--{prefix}blend must be between 0 and 1 (the co-pilot's share of control), got {blend}")
    if not 0 < max_force < math.inf:
        raise ValueError(f"--{prefix}max-force must be a finite positive force in kJ/(mol nm), got {max_force}")
    return CopilotSettings(mode=mode, blend=blend, max_force=max_force)


def load_copilot_policy(path: Path, *, option: str, expect_task: str | None = None) -> Any:
    """The checkpoint's ``PolicyRunner`` (one torch thread: the simulation needs the cores); a
    ``ValueError``/``OSError`` naming the file and what to do when it cannot be used (or, with
    ``expect_task``, when it was trained for another task)."""
    existing_file(path, option=option)
    import torch

    from ..agent.checkpoint import load_policy

    torch.set_num_threads(1)
    return load_policy(path, expect_task=expect_task)


def run(args: argparse.Namespace) -> int:
    settings = copilot_settings(args, prefix="")
    connection = connection_options(args)
    runner = load_copilot_policy(args.policy, option="--policy")
    from ..agent.copilot.client import run_client_copilot

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready() -> None:
            print(f"costeer copilot on {args.server}: {args.policy.name}, mode {settings.mode}", flush=True)

        await run_client_copilot(args.server, runner, settings=settings, policy_name=args.policy.name, stop=stop,
                                 on_ready=ready, **connection)

    asyncio.run(main())
    return 0
