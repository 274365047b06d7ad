"""Soak: a hostile but fair crowd against ``costeer serve`` for minutes, a well-behaved watcher measuring.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 4] [--wave-seconds 20] [--seed 1] [--probe PATH [--trace]]
                                   [--platform CPU --cpu-threads 2] [--legacy]

Starts ``costeer serve`` (built-in nanotube task, ``--record`` to a temporary file) on
127.0.0.1. In waves, scripted clients join, pull hard (scales of ±1e6, absurd fields),
write state (avatars, hundreds of random keys, values over 1 MiB), trespass on the server's
and each other's keys, send bad messages and commands, and leave (politely or by dropping
the connection); when a blow-up pauses the simulation, the next client to run a command
resets and plays it, as someone in the room would. Two watchers stay connected throughout
(reconnecting if dropped): one accepting any message size, one with websockets' default
1 MiB limit, as most clients have; at each wave a late joiner with that limit checks that a
newcomer still gets a frame and the state. Reports the watcher's frames/s over 10 s
windows, the server's memory each minute beside the shared state's size (keys, bytes
encoded and decoded, from the watcher's copy), recoveries (``costeer.recovery``), exception
and non-finite frames, unanswered requests, the server's log, and whether the recording
reads with costeer's reader and holds only finite frames. Prints a markdown table and
writes JSON under bench/results/. With ``--probe`` the server runs under ``soak_probe.py``,
which says where its memory goes (Python objects, glibc's heap, in use or kept free).

The crowd is in ``soak_crowd.py``, the watchers and the recording's check in ``soak_watch.py``;
``--legacy`` adds a gRPC and an IMD client to each wave (``soak_legacy.py``); this file starts
the server, runs the waves and reports.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import psutil

from soak_crowd import REPLY_WAIT_S, Crowd, Tally, hostile_client
from soak_watch import ABSURD_NM, DEFAULT_MAX_SIZE, Watch, check_recording, late_joiner, watch

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WINDOW_S = 10.0


# ---- the server ------------------------------------------------------------------------------


class Server:
    """``costeer serve --record PATH --port 0`` as a subprocess; its log goes to a file.

    With ``probe`` it runs under ``soak_probe.py``, sampling its memory into that file
    (``trace``: Python's allocations too).
    """

    def __init__(self, record: Path, log: Path, *, probe: Path | None = None, trace: bool = False,
                 serve_options: Sequence[str] = (), transports: Sequence[str] = ()) -> None:
        script = Path(sys.executable).parent / "costeer"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "costeer.cli.main"]
        if probe is not None:
            command = [sys.executable, str(Path(__file__).with_name("soak_probe.py")), "--out", str(probe),
                       *(["--trace"] if trace else [])]
        self.log = log
        self._log_file = open(log, "w")
        self.process = subprocess.Popen(
            [*command, "serve", "--record", str(record), "--port", "0", *serve_options],
            stdout=subprocess.PIPE, stderr=self._log_file, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.transports: dict[str, tuple[str, int]] = {}
        """Host and port of each other transport serve printed (``grpc``, ``imd``)."""
        self.url = self._wait_for_url(transports)
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain what follows

    def _wait_for_url(self, transports: Sequence[str]) -> str:
        """The WebSocket URL, once serve has also printed the address of each of ``transports``."""
        deadline = time.monotonic() + 120
        url = None
        for line in iter(self.process.stdout.readline, ""):
            if match := re.search(r"costeer serving (ws://\S+)", line):
                url = match.group(1)
            elif match := re.search(r"costeer serving (\w+) on (\S+):(\d+)", line):
                self.transports[match.group(1)] = (match.group(2), int(match.group(3)))
            if url is not None and set(transports) <= set(self.transports):
                return url
            if time.monotonic() > deadline:
                break
        self.process.kill()
        raise RuntimeError(f"costeer serve did not start; its log:\n{self.log.read_text()[-3000:]}")

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 1e6

    def stop(self) -> int | None:
        """SIGTERM, as Ctrl-C would; the exit code (None if it had to be killed)."""
        self.process.terminate()
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self._log_file.close()
        return code



# ---- the run ---------------------------------------------------------------------------------


async def soak(server: Server, *, minutes: float, clients: int, wave_seconds: float, rng: random.Random,
               legacy: bool = False) -> dict[str, Any]:
    seen, limited = Watch(), Watch()
    crowd = Crowd(rng=rng, watch=seen)
    legacy_tally = None
    if legacy:
        from soak_legacy import LegacyTally, grpc_client, imd_client  # needs the grpc extra

        legacy_tally = LegacyTally()
    watchers = [asyncio.create_task(watch(server.url, seen, max_size=None)),
                asyncio.create_task(watch(server.url, limited, max_size=DEFAULT_MAX_SIZE))]
    start = time.monotonic()
    end = start + minutes * 60
    rss: list[tuple[float, float]] = [(0.0, server.rss_mb())]
    state: list[tuple[float, int, int, int]] = [(0.0, *seen.state_size())]
    joiners: list[str] = []
    crowd_tasks: set[asyncio.Task] = set()
    next_sample = start + 5
    while time.monotonic() < end:
        wave_start = time.monotonic()
        joiners.append(await late_joiner(server.url))
        for _ in range(clients):
            until = min(end, wave_start + wave_seconds * rng.uniform(0.3, 1.0))
            task = asyncio.create_task(hostile_client(server.url, crowd, until))
            crowd_tasks.add(task)
            task.add_done_callback(crowd_tasks.discard)
        if legacy:
            until = min(end, wave_start + wave_seconds * rng.uniform(0.3, 1.0))
            particles = seen.particle_count or 1
            (grpc_host, grpc_port), (imd_host, imd_port) = server.transports["grpc"], server.transports["imd"]
            for task in (asyncio.create_task(asyncio.to_thread(grpc_client, f"{grpc_host}:{grpc_port}", legacy_tally,
                                                               random.Random(rng.getrandbits(32)), until, particles)),
                         asyncio.create_task(imd_client(imd_host, imd_port, legacy_tally, random.Random(rng.getrandbits(32)),
                                                        until, particles))):
                crowd_tasks.add(task)
                task.add_done_callback(crowd_tasks.discard)
        while time.monotonic() < min(end, wave_start + wave_seconds):
            await asyncio.sleep(0.5)
            if time.monotonic() >= next_sample:
                rss.append((time.monotonic() - start, server.rss_mb()))
                state.append((rss[-1][0], *seen.state_size()))
                next_sample += 5
        _log(f"{(time.monotonic() - start) / 60:4.1f} min: {len(seen.frame_times)} frames watched, "
             f"RSS {rss[-1][1]:.0f} MB, state {state[-1][1]} keys {state[-1][2] / 1024:.0f} KiB "
             f"({state[-1][3] / 1e6:.1f} MB decoded), {crowd.tally.joins} joins")
    if crowd_tasks:
        await asyncio.wait(crowd_tasks, timeout=REPLY_WAIT_S + 10)
    rss.append((time.monotonic() - start, server.rss_mb()))
    for watcher in watchers:
        watcher.cancel()
    return {"watch": seen, "limited": limited, "tally": crowd.tally, "rss": rss, "state": state, "late_joiners": joiners, "start": start,
            "seconds": time.monotonic() - start, "legacy": legacy_tally and legacy_tally.report()}


def _frame_rates(times: list[float], start: float, seconds: float) -> list[float]:
    """Frames per second in each whole WINDOW_S window of the run."""
    counts = collections.Counter(int((t - start) // WINDOW_S) for t in times)
    return [counts.get(window, 0) / WINDOW_S for window in range(int(seconds // WINDOW_S))]


def _by_minute(samples: Sequence[tuple[float, ...]]) -> list[tuple[float, ...]]:
    """The sample (time first) nearest the start and each whole minute of the run."""
    minutes = int(samples[-1][0] // 60)
    return [min(samples, key=lambda sample: abs(sample[0] - 60 * minute)) for minute in range(minutes + 1)]


def log_summary(log: Path) -> dict[str, Any]:
    text = log.read_text(errors="replace")
    lines = text.splitlines()
    return {
        "warnings": sum(" WARNING " in line for line in lines),
        "errors": sum(" ERROR " in line for line in lines),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "oversized_logged": sum(bool(re.search(r"1009|too big|oversized|larger than|over the size limit", line)) for line in lines),
        "last_errors": [line for line in lines if " ERROR " in line][-5:],
    }


def _watcher_report(seen: Watch, run: dict[str, Any]) -> dict[str, Any]:
    rates = _frame_rates(seen.frame_times, run["start"], run["seconds"])
    return {
        "frames": len(seen.frame_times),
        "fps_median": statistics.median(rates) if rates else 0.0,
        "fps_min": min(rates) if rates else 0.0,
        "fps_windows": rates,
        "exception_frames": seen.exception_frames,
        "non_finite_frames": seen.non_finite_frames,
        "absurd_frames": seen.absurd_frames,
        "drops": seen.drops,
    }


def summarise(run: dict[str, Any], recording: dict[str, Any], log: dict[str, Any], exit_code: int | None) -> dict[str, Any]:
    tally: Tally = run["tally"]
    by_minute = [rss for _, rss in _by_minute(run["rss"])]
    after_first = by_minute[1:]
    growth = (max(after_first) / min(after_first) - 1) if len(after_first) > 1 else 0.0
    return {
        "seconds": run["seconds"],
        "watcher": _watcher_report(run["watch"], run),
        "watcher_1mib": _watcher_report(run["limited"], run),
        "recoveries": run["watch"].recoveries,
        "recovery_values": run["watch"].recovery_values,
        "rss_mb": {"samples": run["rss"], "by_minute": by_minute, "growth_after_first_minute": growth,
                   "flat_within_10_percent": growth <= 0.10},
        "state_by_minute": [{"keys": keys, "bytes": size, "python_bytes": python}
                            for _, keys, size, python in _by_minute(run["state"])],
        "late_joiners": collections.Counter(run["late_joiners"]),
        "crowd": {"joins": tally.joins, "connect_failures": tally.connect_failures, "aborted_leaves": tally.aborted_leaves,
                  "actions": dict(tally.actions), "requests": tally.requests, "unanswered": dict(tally.unanswered),
                  "closed_by_server": dict(tally.closed_by_server)},
        "legacy": run["legacy"],
        "server_log": log,
        "server_exit_code": exit_code,
        "recording": recording,
    }


def table(report: dict[str, Any]) -> str:
    watcher, limited, rss, recording, crowd, log = (
        report[k] for k in ("watcher", "watcher_1mib", "rss_mb", "recording", "crowd", "server_log"))
    joiners = report["late_joiners"]
    unanswered = crowd["unanswered"]
    oversized_sent = crowd["actions"].get("bad message: oversized", 0)
    rows = [
        ("run", f"{report['seconds'] / 60:.1f} min, {crowd['joins']} hostile joins ({crowd['aborted_leaves']} left by "
                f"dropping the connection), {sum(crowd['actions'].values())} actions"),
        ("watcher frames/s, 10 s windows", f"median {watcher['fps_median']:.1f}, min {watcher['fps_min']:.1f}"),
        ("watcher with the default 1 MiB limit: frames/s; times dropped",
         f"median {limited['fps_median']:.1f}, min {limited['fps_min']:.1f}; {len(limited['drops'])}"),
        ("late joiners (1 MiB limit) that got a frame and the state", f"{joiners.get('ok', 0)} of {sum(joiners.values())}"),
        ("server RSS by minute, MB", ", ".join(f"{value:.0f}" for value in rss["by_minute"])),
        ("shared state by minute (the watcher's copy), keys / KiB encoded / MB decoded",
         ", ".join(f"{state['keys']} / {state['bytes'] / 1024:.0f} / {state['python_bytes'] / 1e6:.1f}"
                   for state in report["state_by_minute"])),
        ("RSS flat within 10% after minute 1", f"{'yes' if rss['flat_within_10_percent'] else 'no'} ({rss['growth_after_first_minute']:+.0%})"),
        ("recoveries (`costeer.recovery` updates)", str(report["recoveries"])),
        ("exception frames (watcher / recording)", f"{watcher['exception_frames']} / {recording['exception_frames']}"),
        ("non-finite frames (watcher / recording)", f"{watcher['non_finite_frames']} / {recording['non_finite_frames']}"),
        (f"absurd frames, beyond {ABSURD_NM:g} nm (watcher / recording)", f"{watcher['absurd_frames']} / {recording['absurd_frames']}"),
        ("requests with an id left unanswered", f"{sum(unanswered.values())} of {crowd['requests']}"
         + (f" ({', '.join(f'{k}: {v}' for k, v in unanswered.items())})" if unanswered else "")),
        ("oversized messages: sent / logged by the server", f"{oversized_sent} / {log['oversized_logged']}"),
        *_legacy_rows(report["legacy"]),
        ("server log: warnings / errors / tracebacks", f"{log['warnings']} / {log['errors']} / {log['tracebacks']}"),
        ("server exit code after SIGTERM", str(report["server_exit_code"])),
        ("recording reads", f"{'yes' if recording['reads'] else 'NO: ' + recording['error']}, {recording['frames']} frames, "
         f"{recording.get('states', 0)} state changes, {recording['bytes'] / 1e6:.0f} MB"),
    ]
    return "\n".join(["| soak | result |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows)])


def _legacy_rows(legacy: dict[str, Any] | None) -> list[tuple[str, str]]:
    if legacy is None:
        return []
    refused = ", ".join(f"{code} {count}" for code, count in sorted(legacy["grpc_refused"].items())) or "none"
    return [
        ("gRPC clients: joins, frames received (non-finite), calls (refused by code)",
         f"{legacy['grpc_joins']}, {legacy['grpc_frames']} ({legacy['grpc_non_finite_frames']}), "
         f"{sum(legacy['grpc_calls'].values())} ({refused})"),
        ("gRPC calls failed as the server's fault (UNKNOWN, INTERNAL)", str(legacy["grpc_server_fault_count"])),
        ("IMD clients: sessions, bytes received, messages sent, turned away",
         f"{legacy['imd_joins']}, {legacy['imd_bytes'] / 1e6:.1f} MB, {sum(legacy['imd_actions'].values())}, "
         f"{legacy['imd_refused_at_start']}"),
    ]


def _log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="hostile clients per wave (default 4)")
    parser.add_argument("--wave-seconds", type=float, default=20.0, help="a new wave of clients this often (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the crowd's choices (default 1)")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/soak-TIME.json)")
    parser.add_argument("--probe", type=Path, help="run the server under soak_probe.py, its memory samples to this file")
    parser.add_argument("--trace", action="store_true", help="with --probe: trace Python's allocations too (tracemalloc)")
    parser.add_argument("--platform", help="the server's OpenMM platform (default: serve's, timed at load)")
    parser.add_argument("--cpu-threads", type=int, help="the server's CPU platform threads (e.g. 2: OpenMM on every core)")
    parser.add_argument("--legacy", action="store_true",
                        help="also serve gRPC and IMD, and add a hostile client of each to every wave (needs the grpc extra)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="costeer-soak-") as temp:
        record, log = Path(temp) / "soak.nanover.zip", Path(temp) / "serve.log"
        serve_options = [*(["--platform", args.platform] if args.platform else []),
                         *(["--cpu-threads", str(args.cpu_threads)] if args.cpu_threads else []),
                         *(["--grpc-port", "0", "--imd-port", "0"] if args.legacy else [])]
        server = Server(record, log, probe=args.probe, trace=args.trace, serve_options=serve_options,
                        transports=("grpc", "imd") if args.legacy else ())
        _log(f"serving {server.url}; {args.minutes:g} min, {args.clients} clients a wave every {args.wave_seconds:g} s")
        try:
            run = asyncio.run(soak(server, minutes=args.minutes, clients=args.clients,
                                   wave_seconds=args.wave_seconds, rng=random.Random(args.seed), legacy=args.legacy))
        finally:
            exit_code = server.stop()
        report = summarise(run, check_recording(record), log_summary(log), exit_code)
    report.update(when=time.strftime("%Y-%m-%d %H:%M:%S"), options=vars(args) | {"out": str(args.out)},
                  machine={"cpus": os.cpu_count()})
    out = args.out or RESULTS / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(table(report))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
