"""costeer vs raw OpenMM vs NanoVer's own server, side by side in one run (not a test).

    .venv/bin/python bench/run.py [--seconds 2] [--pairs 5] [--systems nanotube villin villin-solvated]
                                  [--pairs-only] [--classroom [nanotube water]] [--out FILE.json]

Systems: the nanotube XML from ../shared/data; villin from OpenMM's test.pdb with amber14,
water removed, and the same villin solvated (amber14 + TIP3P, PME), both written by
``costeer export`` so NanoVer's server can run exactly the same system.

The machines are shared and drift (PERF-NOTES), so the comparisons that matter are
interleaved (``interleave.py``): each round measures raw OpenMM on every platform, costeer
free-running (``--platform auto``, its default) with 0 clients and with 4, NanoVer's server
unpaced with one client and costeer with ``--record`` (these two unless ``--pairs-only``),
one short window each, the servers paused by command while they are not measured; the
ratios are taken within each round and reported as their median and range. Solvated
villin's rounds compare raw OpenMM with costeer showing energies to one client and with
``--no-energies``. Once per system (unless ``--pairs-only``): frames/s at --frame-rate 90
and the interaction round trips. Then the classroom rows (``classroom.py``: 32 clients
against none on one server, interleaved, on the nanotube and a 3,222-atom water box).
Prints markdown tables and writes every number as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import openmm

import classroom
import clients
import raw_openmm
import servers
from interleave import interleave, paired_ratio

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = servers.REPO / ".." / "shared" / "data"
SYSTEMS = ("nanotube", "villin", "villin-solvated")
STREAM_WARMUP = 0.3
"""Seconds a window's clients read before counting (the server was just played)."""
WINDOW_STEPS = 100
"""A window lasts long enough for about this many raw steps (solvated villin: 3 s), up to
``MAX_WINDOW_FACTOR`` times ``--seconds``: a costeer window needs a few frames to time."""
MAX_WINDOW_FACTOR = 4
NANOVER_ARM = "NanoVer unpaced 1 client"
RECORD_ARM = "costeer --record 0 clients"


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ms = sorted(1000 * x for x in latencies)
    if not ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "count": 0}
    return {
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
        "count": len(ms),
    }


def _export(workdir: Path, name: str, *options: str) -> Path:
    pdb = Path(openmm.app.__file__).parent / "data" / "test.pdb"
    out = workdir / f"{name}.xml"
    command = [*servers._costeer_command(), "export", "--pdb", str(pdb), *options, "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"costeer export failed:\n{done.stderr[-2000:]}")
    return out


def _system_xml(name: str, workdir: Path) -> Path:
    if name == "nanotube":
        return (SHARED / "systems" / "nanotube.xml").resolve()
    if name == "villin":
        return _export(workdir, name, "--forcefield", "amber14-all.xml", "--strip-water")
    return _export(workdir, name, "--forcefield", "amber14-all.xml", "amber14/tip3p.xml")


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _log_round(number: int, rates: dict[str, float]) -> None:
    _log(f"round {number}: " + ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items()))


class _Paused:
    """A server kept paused, and its process frozen, except while one of its windows is measured
    (so that no server waiting for its turn takes CPU from the one measured)."""

    def __init__(self, url: servers.ServerUrl, *, timestep_ps: float, seconds: float) -> None:
        self.url = url
        self.timestep_ps = timestep_ps
        self.seconds = seconds
        self.fps: list[float] = []
        clients.command(url, "playback/pause")
        url.freeze()

    def window(self, client_count: int) -> float:
        self.url.thaw()
        clients.command(self.url, "playback/play")
        try:
            if client_count == 0:
                return clients.idle_steps(self.url, seconds=self.seconds, timestep_ps=self.timestep_ps)
            rates = clients.stream(
                self.url, clients=client_count, seconds=self.seconds, timestep_ps=self.timestep_ps,
                warmup=STREAM_WARMUP,
            )
            self.fps.append(min(rates.frames_per_second))
            return rates.steps_per_second
        finally:
            clients.command(self.url, "playback/pause")
            self.url.freeze()


def _chosen_platform(log: list[str], *, wait: float = 0.0) -> str:
    """The platform a costeer server logged at load (``'CPU (2 threads)'``); waits up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        for line in list(log):
            match = re.search(r"particles on the (.+) platform", line)
            if match:
                return match.group(1)
        if time.monotonic() >= deadline:
            return "?"
        time.sleep(0.1)


def _platform_options(label: str) -> list[str]:
    """``serve`` options for a logged platform label: ``['--platform', 'CPU', '--cpu-threads', '1', '--cpu-core', '0']``."""
    match = re.fullmatch(r"(\w+)(?: \((\d+) threads?(?:, core (\d+))?\))?", label)
    if not match:
        return []
    platform, threads, core = match.groups()
    return ["--platform", platform, *(["--cpu-threads", threads] if threads else []),
            "--cpu-core", core if core else "off"]


def _raw_arms(raws: list[raw_openmm.RawOpenMM], seconds: float) -> dict[str, Callable[[], float]]:
    return {f"raw {raw.label}": (lambda raw=raw: raw.steps_per_second(seconds=seconds)) for raw in raws}


def _best_raw(rates: dict[str, list[float]], raws: list[raw_openmm.RawOpenMM]) -> tuple[list[float], str]:
    """Per round, the fastest raw platform's rate; and the platform fastest by median."""
    labels = [f"raw {raw.label}" for raw in raws]
    per_round = [max(rates[label][i] for label in labels) for i in range(len(rates[labels[0]]))]
    best = max(labels, key=lambda label: statistics.median(rates[label]))
    return per_round, best.removeprefix("raw ")


def bench_system(name: str, xml: Path, *, seconds: float, pairs: int, extras: bool, workdir: Path) -> dict[str, Any]:
    dt = raw_openmm.timestep_ps(xml)
    result: dict[str, Any] = {"system": name, "particles": raw_openmm.particle_count(xml), "timestep_ps": dt}
    print(f"{name}: {result['particles']} particles", file=sys.stderr, flush=True)
    raws = raw_openmm.raw_candidates(xml, _cores())
    step_seconds = min(raw.seconds_per_step for raw in raws)
    seconds = min(max(seconds, WINDOW_STEPS * step_seconds), MAX_WINDOW_FACTOR * seconds)
    result["window_seconds"] = seconds
    omm = ["--omm", str(xml)]
    solvated = name == "villin-solvated"
    with ExitStack() as stack:
        log: list[str] = []
        url = stack.enter_context(servers.costeer([*omm, "--free-run"], log=log))
        server = _Paused(url, timestep_ps=dt, seconds=seconds)
        arms = _raw_arms(raws, seconds)
        if solvated:  # the same platform for both, so the energies are the only difference
            same = _platform_options(_chosen_platform(log, wait=servers.START_TIMEOUT))
            quiet_url = stack.enter_context(servers.costeer([*omm, "--free-run", "--no-energies", *same]))
            quiet = _Paused(quiet_url, timestep_ps=dt, seconds=seconds)
            arms["costeer 1 client"] = lambda: server.window(1)
            arms["costeer --no-energies 1 client"] = lambda: quiet.window(1)
        else:
            arms["costeer 0 clients"] = lambda: server.window(0)
            arms["costeer 4 clients"] = lambda: server.window(4)
        nanover = None
        if extras and not solvated:
            fastest = min(raws, key=lambda raw: raw.seconds_per_step)
            result["nanover_platform"] = fastest.label
            compared, nanover = _compared_arms(stack, name, xml, fastest, seconds=seconds, workdir=workdir)
            arms.update(compared)
        rates = interleave(arms, pairs, on_round=_log_round)
        result["costeer_platform"] = _chosen_platform(log)
        result["platform_timing"] = next((line.strip() for line in log if "platform timing" in line), None)
    raw_best, best_label = _best_raw(rates, raws)
    result["rates"] = rates
    result["raw_best_label"] = best_label
    result["raw_best"] = raw_best
    if solvated:
        result["ratios"] = {
            "energies_vs_raw": paired_ratio(rates["costeer 1 client"], raw_best),
            "no_energies_vs_raw": paired_ratio(rates["costeer --no-energies 1 client"], raw_best),
        }
    else:
        result["fps_4_clients"] = server.fps
        result["ratios"] = {
            "0_vs_raw": paired_ratio(rates["costeer 0 clients"], raw_best),
            "4_vs_raw": paired_ratio(rates["costeer 4 clients"], raw_best),
            "4_vs_0": paired_ratio(rates["costeer 4 clients"], rates["costeer 0 clients"]),
        }
        if nanover is not None:
            result["fps_nanover"] = nanover.fps
            result["ratios"] |= {
                "nanover_vs_raw": paired_ratio(rates[NANOVER_ARM], raw_best),
                "4_vs_nanover": paired_ratio(rates["costeer 4 clients"], rates[NANOVER_ARM]),
                "record_vs_0": paired_ratio(rates[RECORD_ARM], rates["costeer 0 clients"]),
            }
    _log(f"ratios: {result['ratios']}")
    del raws
    if extras and not solvated:
        result.update(_extras(xml, best_label, seconds=seconds))
    return result


def _compared_arms(
    stack: ExitStack, name: str, xml: Path, fastest: raw_openmm.RawOpenMM, *, seconds: float, workdir: Path,
) -> tuple[dict[str, Callable[[], float]], _Paused]:
    """Arms for the rounds: NanoVer unpaced (1 client) on the platform raw OpenMM timed fastest at its
    set-up, and costeer with ``--record`` (0 clients); their servers stay paused between windows."""
    dt = raw_openmm.timestep_ps(xml)
    omm = ["--omm", str(xml)]
    nanover_url = stack.enter_context(
        servers.nanover([*omm, "--platform", fastest.platform, "--play-interval", "0"], cpu_threads=fastest.threads)
    )
    nanover = _Paused(nanover_url, timestep_ps=dt, seconds=seconds)
    recording = workdir / f"{name}.nanover.zip"
    recorder = _Paused(stack.enter_context(servers.costeer([*omm, "--free-run", "--record", str(recording)])),
                       timestep_ps=dt, seconds=seconds)
    return {NANOVER_ARM: lambda: nanover.window(1), RECORD_ARM: lambda: recorder.window(0)}, nanover


def _extras(xml: Path, best_label: str, *, seconds: float) -> dict[str, Any]:
    """One measurement each (no rates compared): NanoVer's round trip, costeer at 90 fps and its round trips."""
    dt = raw_openmm.timestep_ps(xml)
    omm = ["--omm", str(xml)]
    options = _platform_options(best_label)
    platform = options[1]
    threads_count = int(options[options.index("--cpu-threads") + 1]) if "--cpu-threads" in options else None
    out: dict[str, Any] = {}
    with servers.nanover([*omm, "--platform", platform], cpu_threads=threads_count) as url:
        out["nanover_paced_round_trip"] = _percentiles(clients.round_trips(url))
    _log(f"NanoVer on {best_label}: round trip {out['nanover_paced_round_trip']}")

    with servers.costeer([*omm, "--free-run", "--frame-rate", "90"]) as url:
        rates = clients.stream(url, clients=1, seconds=seconds, timestep_ps=dt)
        out["costeer_free_90"] = {
            "steps_per_second": rates.steps_per_second,
            "fps": rates.frames_per_second,
            "round_trip": _percentiles(clients.round_trips(url)),
        }
    with servers.costeer(omm) as url:
        out["costeer_paced_round_trip"] = _percentiles(clients.round_trips(url))
    _log(f"costeer 90 fps: {out['costeer_free_90']}, paced round trip {out['costeer_paced_round_trip']}")
    return out


def _fmt(value: float, digits: int = 0) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def _fmt_ratio(ratio: dict[str, float]) -> str:
    if ratio["pairs"] == 0:
        return "n/a"
    return f"{ratio['median']:.0%} ({ratio['min']:.0%}–{ratio['max']:.0%}, {ratio['pairs']} pairs)"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: one column per system; paired ratios as median (min–max)."""
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for r in results:
            try:
                cells.append(cell(r))
            except (KeyError, TypeError, ValueError, statistics.StatisticsError):
                cells.append("–")
        rows.append((label, cells))

    def median(r, arm):
        return statistics.median([rate for rate in r["rates"][arm] if rate == rate])  # NaN: a window without frames

    row("particles; costeer's platform (auto)", lambda r: f"{r['particles']}; {r['costeer_platform']}")
    raw_labels = sorted({arm for r in results for arm in r["rates"] if arm.startswith("raw ")})
    for arm in raw_labels:
        row(f"{arm}, steps/s (median)", lambda r, a=arm: _fmt(median(r, a)))
    row("costeer free-run, 0 clients, steps/s (median)", lambda r: _fmt(median(r, "costeer 0 clients")))
    row("costeer free-run, 4 clients, steps/s (median)", lambda r: _fmt(median(r, "costeer 4 clients")))
    row("… 0 clients / fastest raw (paired)", lambda r: _fmt_ratio(r["ratios"]["0_vs_raw"]))
    row("… 4 clients / fastest raw (paired)", lambda r: _fmt_ratio(r["ratios"]["4_vs_raw"]))
    row("… 4 clients / 0 clients (paired)", lambda r: _fmt_ratio(r["ratios"]["4_vs_0"]))
    row("costeer frames/s per client (30 set, 4 clients: min)", lambda r: _fmt(min(r["fps_4_clients"]), 1))
    row("costeer, energies to 1 client, steps/s (median)", lambda r: _fmt(median(r, "costeer 1 client")))
    row("… / fastest raw (paired)", lambda r: _fmt_ratio(r["ratios"]["energies_vs_raw"]))
    row("costeer --no-energies, 1 client / fastest raw (paired)", lambda r: _fmt_ratio(r["ratios"]["no_energies_vs_raw"]))
    row("NanoVer unpaced, 1 client, steps/s (median; platform raw OpenMM timed fastest)",
        lambda r: f"{_fmt(median(r, NANOVER_ARM))} ({r['nanover_platform']})")
    row("… NanoVer / fastest raw (paired)", lambda r: _fmt_ratio(r["ratios"]["nanover_vs_raw"]))
    row("costeer 4 clients / NanoVer 1 client (paired)", lambda r: _fmt_ratio(r["ratios"]["4_vs_nanover"]))
    row("NanoVer frames/s per client (min)", lambda r: _fmt(min(r["fps_nanover"]), 1))
    row("costeer frames/s per client (90 set)", lambda r: _fmt(min(r["costeer_free_90"]["fps"]), 1))
    row("round trip p50/p95 ms: NanoVer (30 fps)", lambda r: f"{_fmt(r['nanover_paced_round_trip']['p50_ms'], 1)} / {_fmt(r['nanover_paced_round_trip']['p95_ms'], 1)}")
    row("round trip p50/p95 ms: costeer paced (30 fps)", lambda r: f"{_fmt(r['costeer_paced_round_trip']['p50_ms'], 1)} / {_fmt(r['costeer_paced_round_trip']['p95_ms'], 1)}")
    row("round trip p50/p95 ms: costeer free-run 90 fps", lambda r: f"{_fmt(r['costeer_free_90']['round_trip']['p50_ms'], 1)} / {_fmt(r['costeer_free_90']['round_trip']['p95_ms'], 1)}")
    row("costeer --record, 0 clients, steps/s (median)", lambda r: _fmt(median(r, RECORD_ARM)))
    row("… --record / without, 0 clients (paired)", lambda r: _fmt_ratio(r["ratios"]["record_vs_0"]))

    rows = [(label, cells) for label, cells in rows if any(cell != "–" for cell in cells)]
    header = "| measurement | " + " | ".join(r["system"] for r in results) + " |"
    lines = [header, "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each window (default 2)")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds per system (default 5)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--pairs-only", action="store_true", help="skip NanoVer, 90 fps, round trips and --record")
    parser.add_argument("--classroom", nargs="*", choices=classroom.SYSTEMS, default=list(classroom.SYSTEMS),
                        help=f"systems of the classroom rows ({classroom.CLIENTS} clients against none, interleaved, "
                             "bench/classroom.py); --classroom alone skips them (default: all)")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/bench-TIME.json)")
    args = parser.parse_args(argv)
    if args.pairs < 1 or not args.seconds > 0:
        parser.error("--pairs must be at least 1 and --seconds positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="costeer-bench-") as temp:
        workdir = Path(temp)
        results = [
            bench_system(
                name, _system_xml(name, workdir), seconds=args.seconds, pairs=args.pairs,
                extras=not args.pairs_only, workdir=workdir,
            )
            for name in args.systems
        ]
    rooms = classroom.run(args.classroom, clients=classroom.CLIENTS, pairs=args.pairs, seconds=args.seconds,
                          stall_seconds=classroom.STALL_SECONDS, log=_log)
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": _cores(), "platform": host.platform(), "openmm": openmm.__version__},
        "seconds_per_window": args.seconds,
        "pairs": args.pairs,
        "wall_seconds": time.time() - started,
        "systems": results,
        "classroom": rooms,
    }
    out = args.out or RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(table(results))
    if rooms:
        print(f"\nClassroom: {classroom.CLIENTS} clients against none on one server, interleaved\n")
        print(classroom.table(rooms))
    print(f"\n{_cores()} CPUs, OpenMM {openmm.__version__}, {report['wall_seconds']:.0f} s; JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
