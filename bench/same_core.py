"""costeer's server against raw OpenMM in one process, on the platform, threads and core the server chose.

    .venv/bin/python bench/same_core.py [--systems nanotube water] [--clients 4] [--pairs 16] [--seconds 2]

``bench/run.py`` compares a ``costeer serve`` process with raw OpenMM in the bench's process,
each on the core it was given, so its ratios carry two processes' and two cores' differences
as well as the server's cost (on this machine one core's pinned 1-thread slice has read 14%
faster than the other's). Here one free-running server (``classroom.Classroom``: the runner
thread, the WebSocket thread, frames at 30/s, ``--cpu-core auto``) and a raw context of the same
system (``raw_openmm.RawOpenMM``: ``integrator.step`` in a loop, nothing else) share this process
and the platform, thread count and core the server's trial chose. Interleaved rounds
(``interleave.py``) of three arms: raw (the server paused meanwhile), the server with no client,
and the server with ``--clients`` readers (``crowd.py``, a process of their own, as in the
classroom bench). Reported: each arm's median steps/s, and the paired ratios 0 clients / raw,
N clients / raw and N / 0 (median, quartiles, range). What is left between the server and raw is
the server's own cost: its Python between chunks and per frame, its other threads, the clients.
JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import classroom  # noqa: E402  (bench/, beside this script)
from interleave import interleave, paired_ratio  # noqa: E402
from raw_openmm import RawOpenMM  # noqa: E402

__all__ = ["main", "measure", "table", "CLIENTS", "PAUSE_SETTLE_SECONDS"]

CLIENTS = 4
"""Issue 6's speed target: the nanotube with 4 clients keeps >= 95% of raw OpenMM."""
PAUSE_SETTLE_SECONDS = 0.05
"""After ``pause``, the runner ends the chunk it is in (~5 ms free-running) before the raw window starts."""
RESULTS = REPO / "bench" / "results"


def measure(system: str, *, clients: int, pairs: int, seconds: float,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """The three arms of ``system`` in ``pairs`` interleaved rounds, and their paired ratios."""
    with classroom.Classroom(system, seconds=seconds) as room:
        chosen, particles = room.simulation.platform_candidate, room.particles
        raw = RawOpenMM(classroom.load_system(system), platform=chosen.name, threads=chosen.threads, core=chosen.core)
        runner = room.server.runner
        log(f"{system}: {particles} particles; server and raw on {chosen}")

        def raw_window() -> float:
            runner.pause()
            time.sleep(PAUSE_SETTLE_SECONDS)
            try:
                return raw.steps_per_second(seconds=seconds)
            finally:
                runner.play()  # the server's next window warms up (Classroom's warmup) before it counts

        arms = {"raw": raw_window,
                "0 clients": lambda: room.window(0)["steps_per_second"],
                f"{clients} clients": lambda: room.window(clients)["steps_per_second"]}
        rates = interleave(arms, pairs, on_round=lambda number, rates: log(
            f"{system} round {number}: " + ", ".join(f"{arm} {rate:,.0f}" for arm, rate in rates.items())))
    crowded = rates[f"{clients} clients"]
    return {
        "system": system, "particles": particles, "platform": str(chosen), "clients": clients,
        "steps_per_second": {arm: statistics.median(values) for arm, values in rates.items()},
        "ratios": {"0_vs_raw": paired_ratio(rates["0 clients"], rates["raw"]),
                   f"{clients}_vs_raw": paired_ratio(crowded, rates["raw"]),
                   f"{clients}_vs_0": paired_ratio(crowded, rates["0 clients"])},
        "rates": rates,
    }


def _cell(ratio: dict[str, Any]) -> str:
    return (f"{ratio['median']:.1%} (quartiles {ratio['q1']:.1%}–{ratio['q3']:.1%}; "
            f"{ratio['min']:.0%}–{ratio['max']:.0%}, {ratio['pairs']} pairs)")


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown, one line per system."""
    lines = ["| system (particles; platform, as the server chose) | steps/s raw / 0 / N clients (median) "
             "| 0 clients / raw | N clients / raw | N / 0 clients |", "|---|---|---|---|---|"]
    for row in rows:
        n = row["clients"]
        rates = row["steps_per_second"]
        lines.append(f"| {row['system']} ({row['particles']:,}; {row['platform']}) "
                     f"| {rates['raw']:,.0f} / {rates['0 clients']:,.0f} / {rates[f'{n} clients']:,.0f} (N = {n}) "
                     f"| {_cell(row['ratios']['0_vs_raw'])} | {_cell(row['ratios'][f'{n}_vs_raw'])} "
                     f"| {_cell(row['ratios'][f'{n}_vs_0'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", choices=classroom.SYSTEMS, default=["nanotube"])
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"readers in the crowded arm (default {CLIENTS})")
    parser.add_argument("--pairs", type=int, default=16, help="interleaved rounds (default 16)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds a window counts (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/same-core-TIME.json)")
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.clients < 1 or not args.seconds > 0:
        parser.error("--pairs and --clients must be at least 1 and --seconds positive")
    load_before, started = os.getloadavg(), time.time()
    rows = [measure(system, clients=args.clients, pairs=args.pairs, seconds=args.seconds) for system in args.systems]
    print(table(rows))
    print(f"\n{os.cpu_count()} CPUs; load average before {load_before}, after {os.getloadavg()}; {time.time() - started:.0f} s")
    out = args.out or RESULTS / f"same-core-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args) | {"out": str(out)}, "systems": rows}, indent=1, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
