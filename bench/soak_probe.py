"""Run ``costeer`` with a memory probe: where a long-running server's memory goes, minute by minute.

    .venv/bin/python bench/soak_probe.py --out probe.jsonl [--trace] serve --record x.nanover.zip ...

Everything after the probe's own options is ``costeer``'s command line, run in this process.
Every ``--every`` seconds (default 30) one JSON line goes to ``--out``: the RSS (anonymous and
file-backed), Python's allocated blocks, glibc's
``mallinfo2`` (bytes the heap arenas hold, in use and free; bytes in mmapped blocks) and,
with ``--trace``, what ``tracemalloc`` sees Python holding. With ``--trace`` it also takes a
snapshot after ``--baseline`` seconds (default 60) and, at exit, writes the allocation sites
that grew most since then (``{"top": [...]}``, the last line). So one soak says whether growth
is Python objects (tracemalloc grows with the RSS), memory glibc keeps but nothing uses (the
arenas' free bytes grow), or native allocations outside Python (neither).

``bench/soak.py --probe PATH`` starts its server this way.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import ctypes.util
import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

__all__ = ["main"]

_MALLINFO2_FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS]


def _mallinfo() -> dict[str, int]:
    """glibc's heap figures (summed over arenas), or ``{}`` where there is no ``mallinfo2``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    function.restype = _MallInfo2
    info = function()
    return {"heap_bytes": info.arena, "heap_in_use": info.uordblks, "heap_free": info.fordblks, "mmapped": info.hblkhd,
            "mmapped_blocks": info.hblks}


def _rss_parts() -> dict[str, int]:
    """Resident bytes of anonymous memory (heap, Python's arenas, stacks) and of mapped files (code)."""
    parts = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                parts[name.lower().replace("rss", "rss_")] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return parts


class Probe:
    """Samples memory in a daemon thread; ``finish`` writes the growth since the baseline."""

    def __init__(self, out: Path, *, every: float, baseline: float, trace: bool) -> None:
        self.out = out
        self.every = every
        self.baseline_after = baseline
        self.trace = trace
        self.start = time.monotonic()
        self.baseline: tracemalloc.Snapshot | None = None
        self._lock = threading.Lock()
        self._finished = False
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("")

    def sample(self) -> None:
        record: dict[str, Any] = {"seconds": round(time.monotonic() - self.start, 1),
                                  "rss": psutil.Process().memory_info().rss, **_rss_parts(),
                                  **_mallinfo(), "python_blocks": sys.getallocatedblocks()}
        if self.trace:
            record["python"] = tracemalloc.get_traced_memory()[0]
        self._write(record)

    def run(self) -> None:
        while True:
            time.sleep(self.every)
            self.sample()
            if self.trace and self.baseline is None and time.monotonic() - self.start >= self.baseline_after:
                self.baseline = tracemalloc.take_snapshot()

    def finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        self.sample()
        if self.trace and self.baseline is not None:
            grown = tracemalloc.take_snapshot().compare_to(self.baseline, "lineno")
            top = [{"where": str(stat.traceback), "grew": stat.size_diff, "size": stat.size, "count_grew": stat.count_diff}
                   for stat in grown[:40]]
            self._write({"top": top})

    def _write(self, record: dict[str, Any]) -> None:
        with self.out.open("a") as file:
            file.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--baseline", type=float, default=60.0, help="seconds before the tracemalloc baseline (default 60)")
    parser.add_argument("--trace", action="store_true", help="trace Python's allocations (tracemalloc; slower)")
    parser.add_argument("costeer", nargs=argparse.REMAINDER, help="costeer's command line (serve ...)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.trace:
        tracemalloc.start(1)
    probe = Probe(args.out, every=args.every, baseline=args.baseline, trace=args.trace)
    probe.sample()
    threading.Thread(target=probe.run, name="soak-probe", daemon=True).start()
    atexit.register(probe.finish)
    from costeer.cli.main import main as costeer_main

    try:
        return costeer_main(args.costeer)
    finally:
        probe.finish()


if __name__ == "__main__":
    sys.exit(main())
