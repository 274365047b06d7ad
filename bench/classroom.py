"""Classroom bench: what a class of 32 clients at 30 frames/s costs the simulation, and the server's memory.

    .venv/bin/python bench/classroom.py [--pairs 5] [--seconds 5] [--clients 32] [--systems nanotube water]
                                        [--stall-seconds 25] [--crowd-core CORE] [--out FILE.json]

One free-running ``CosteerServer`` per system in this process (frames sampled at 30 frames/s,
platform timed at load as ``serve`` does, ``--cpu-core auto`` included), on NanoVer's nanotube (``../shared/data/systems/
nanotube.xml``, 65 atoms) and on a box of TIP3P water built in code (``water_box``, 3,222
atoms, PME). The server keeps running the whole time; interleaved rounds (``interleave.py``)
alternate a window with no client and a window with ``--clients`` readers, which connect
from a process of their own (``crowd.py``) before the window and leave after it:

| measured | how |
|---|---|
| steps/s | ``system.simulation.step`` and ``server.timestamp`` of the hub's latest frame at each end of the window (no client needed to read them) |
| cost | the ratio N clients / 0 clients of steps/s within each round: median and range. Target >= 0.95 |
| frames/s per client | each reader's frames within the window. Target: every frame the server published, 30/s at most (read as >= 95% of the published rate) |
| CPU | cores busy in this process (the server) during the window, and per thread by name (the runner, the WebSocket loop...), and in the crowd's process while connected |
| host's steal | CPU time the hypervisor gave other guests during the window (``steal.py``), in cores: a window it took much from measures the host |
| memory per client | this process's RSS with the N clients connected, at the window's end, minus its RSS just before they connected, over N. Target < 1 MB |
| slow client | after the rounds, N readers and one client that never reads (4 KiB receive buffer) for ``--stall-seconds`` + a window: the readers' frames/s, and the frames the slow one got (reading its backlog at the end, up to a frame published after it began to read) against the frames published from its second frame to that one (``frame.index``): the gaps are frames the server merged away (it must drop frames, not queue them) |

The readers run in another process, but this machine has 2 cores shared with everything
else (the output says how many and the load average): the crowd's own CPU time competes
with the simulation, so the cost measured here is an upper bound of the server's. With
``--crowd-core CORE`` the clients' process runs on that core only and the server on the
others, as if the clients were on machines of their own (the server then has one core fewer).
Prints a markdown table and writes every window as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import openmm
import psutil
from openmm import app, unit

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from crowd import Crowd  # noqa: E402  (bench/, beside this script)
from interleave import interleave, paired_ratio, rate_between  # noqa: E402
from steal import steal_seconds  # noqa: E402

from costeer.core import keys  # noqa: E402
from costeer.engine.nanover_xml import LoadedSystem, read_nanover_xml  # noqa: E402

__all__ = ["main", "run", "summarise", "table", "load_system", "water_box", "Classroom", "CLIENTS", "STALL_SECONDS", "SYSTEMS"]

RESULTS = REPO / "bench" / "results"
NANOTUBE = REPO / ".." / "shared" / "data" / "systems" / "nanotube.xml"
SYSTEMS = ("nanotube", "water")
FRAME_RATE = 30.0
WARMUP = 1.0
"""Seconds between the crowd's connection (every reader has a frame) and the window's start."""
TARGET_RATIO = 0.95
TARGET_KEPT_UP = 0.95
"""Every reader gets at least this share of the frames published (30/s, or fewer when the simulation is slower)."""
TARGET_BYTES_PER_CLIENT = 1e6
SEED = 2026
CLIENTS = 32
STALL_SECONDS = 25.0
"""Long enough for the kernel to fill its buffers with nanotube frames, short enough that the
server's keepalive (a ping every 20 s, 20 s to answer) has not yet closed the silent client."""
STEPS_PER_FRAME = {"nanotube": 5, "water": 1}
"""``serve``'s 5 on the nanotube; 1 on the water box, whose 70-90 steps/s on 2 cores would
otherwise make fewer than 30 frames/s (free-running, a frame still goes out at most 30 times a second)."""


def water_box(edge_nm: float = 3.2, *, seed: int = SEED) -> LoadedSystem:
    """A cubic box of TIP3P water (3,222 atoms at 3.2 nm), PME, 2 fs Langevin at 300 K, briefly minimised."""
    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(forcefield, boxSize=openmm.Vec3(edge_nm, edge_nm, edge_nm) * unit.nanometer)
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=app.PME, nonbondedCutoff=1.0 * unit.nanometer, constraints=app.HBonds
    )
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 2 * unit.femtosecond)
    integrator.setRandomNumberSeed(seed)
    scratch = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"))
    scratch.setPositions(modeller.positions)
    openmm.LocalEnergyMinimizer.minimize(scratch, maxIterations=200)
    positions = np.asarray(scratch.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    del scratch
    box = np.array([v.value_in_unit(unit.nanometer) for v in modeller.topology.getPeriodicBoxVectors()])
    return LoadedSystem(name="water", topology=modeller.topology, system=system, integrator=integrator,
                        positions=positions, box=box)


def load_system(system: str) -> LoadedSystem:
    """The bench system ``system`` (one of ``SYSTEMS``), loaded afresh."""
    if system == "nanotube":
        if not NANOTUBE.is_file():
            raise FileNotFoundError(f"NanoVer's nanotube is not at {NANOTUBE.resolve()}: check out ../shared/data")
        return read_nanover_xml(NANOTUBE)
    return water_box()


class Classroom:
    """A free-running server in this process, measured in windows with 0 or N clients.

        with Classroom("nanotube", seconds=5) as classroom:
            classroom.window(0); classroom.window(32); classroom.slow_client(32, stall_seconds=30)
    """

    def __init__(self, system: str, *, seconds: float, warmup: float = WARMUP, platform: str | None = None,
                 crowd_core: int | None = None) -> None:
        from costeer.engine.openmm_simulation import OpenMMSimulation
        from costeer.server.app import CosteerServer

        self.system = system
        self.seconds = seconds
        self.warmup = warmup
        self.crowd_core = crowd_core
        """The core the clients' process runs on (``--crowd-core``), or ``None``."""
        self.simulation = OpenMMSimulation(load_system(system), platform=platform, cpu_core="auto", seed=SEED,
                                           steps_per_frame=STEPS_PER_FRAME[system])
        self.server = CosteerServer([self.simulation], port=0, frame_rate=FRAME_RATE, free_run=True)
        self.url = ""
        self._process = psutil.Process()

    def __enter__(self) -> "Classroom":
        self.server.start()
        self.url = f"ws://127.0.0.1:{self.server.port}"
        deadline = time.monotonic() + 60
        while self._mark()[0] is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.system} server published no stepped frame within 60 s")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.close()

    @property
    def particles(self) -> int:
        return self.simulation.particle_count

    def _mark(self) -> tuple[int | None, float]:
        """(step, server.timestamp) of the latest frame published."""
        frame = self.server.hub.current_frame or {}
        return frame.get(keys.SIMULATION_STEP), frame.get(keys.SERVER_TIMESTAMP, 0.0)

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far of this process (``"process"``: the server's threads) and of each named thread."""
        names = {thread.native_id: thread.name for thread in threading.enumerate()}
        times = self._process.cpu_times()
        cpu = {"process": times.user + times.system}
        for thread in self._process.threads():
            name = names.get(thread.id, "other threads")
            cpu[name] = cpu.get(name, 0.0) + thread.user_time + thread.system_time
        return cpu

    def _measure(self, crowd: Crowd | None, *, warmup: float) -> dict[str, Any]:
        """One window of ``self.seconds``, ``warmup`` s after the crowd (if any) has its first frames."""
        rss_before = self._process.memory_info().rss
        with crowd if crowd is not None else contextlib.nullcontext():
            time.sleep(warmup)
            step0, stamp0 = self._mark()
            published0, start, cpu0, steal0 = self.server.runner.frames_published, time.monotonic(), self._cpu(), steal_seconds()
            time.sleep(self.seconds)
            step1, stamp1 = self._mark()
            published1, end, cpu1, steal1 = self.server.runner.frames_published, time.monotonic(), self._cpu(), steal_seconds()
            rss_during = self._process.memory_info().rss
        clients = 0 if crowd is None else crowd.readers
        fps = [] if crowd is None else [rate_between(arrivals, start, end) for arrivals in crowd.report.readers]
        return {
            "clients": clients,
            "steps_per_second": (step1 - step0) / (stamp1 - stamp0) if stamp1 > stamp0 else float("nan"),
            "frames_per_second": fps,
            "published_per_second": (published1 - published0) / (end - start),
            "server_cores": (cpu1["process"] - cpu0["process"]) / (end - start),
            "thread_cores": {name: (cpu1[name] - cpu0.get(name, 0.0)) / (end - start) for name in cpu1 if name != "process"},
            "clients_cores": None if crowd is None else crowd.report.cores,
            "clients_on_cores": None if crowd is None else crowd.report.on_cores,
            "rss_before": rss_before,
            "rss_during": rss_during,
            "bytes_per_client": (rss_during - rss_before) / clients if clients else None,
            "load_average": os.getloadavg()[0],
            "steal_cores": None if steal0 is None or steal1 is None else (steal1 - steal0) / (end - start),
        }

    def window(self, clients: int) -> dict[str, Any]:
        """One window with ``clients`` readers (0: nobody connected)."""
        return self._measure(Crowd(self.url, readers=clients, core=self.crowd_core) if clients else None, warmup=self.warmup)

    def slow_client(self, clients: int, *, stall_seconds: float) -> dict[str, Any]:
        """A window with ``clients`` readers and one client that never reads, connected ``stall_seconds`` before."""
        crowd = Crowd(self.url, readers=clients, stalled=1, core=self.crowd_core)
        result = self._measure(crowd, warmup=self.warmup + stall_seconds)
        stalled = crowd.report.stalled[0]
        indices = stalled["indices"][1:]  # after its first frame, the aggregate (frame.index 0)
        published = indices[-1] - indices[0] + 1 if indices else 0
        result["stalled"] = {"received": len(indices), "published": published, "skipped": published - len(indices),
                             "disconnected": stalled["closed"]}
        return result


def bench_system(system: str, *, clients: int, pairs: int, seconds: float, stall_seconds: float,
                 platform: str | None = None, crowd_core: int | None = None,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Interleaved rounds of 0 and ``clients`` clients on one server, then the slow-client window."""
    with Classroom(system, seconds=seconds, platform=platform, crowd_core=crowd_core) as classroom:
        log(f"{system}: {classroom.particles} particles on {classroom.simulation.platform_candidate}")
        arms = {"0": lambda: classroom.window(0), str(clients): lambda: classroom.window(clients)}

        def heard(number: int, windows: dict[str, dict[str, Any]]) -> None:
            crowd = windows[str(clients)]
            log(f"{system} round {number}: 0 clients {windows['0']['steps_per_second']:,.0f} steps/s, "
                f"{clients} clients {crowd['steps_per_second']:,.0f} steps/s, frames/s per client "
                f"{min(crowd['frames_per_second']):.1f}-{max(crowd['frames_per_second']):.1f}, "
                f"RSS +{crowd['rss_during'] - crowd['rss_before']:,} B; host's steal {_steal(windows['0'].get('steal_cores'))} / {_steal(crowd.get('steal_cores'))}; "
                f"cores by thread "
                + ", ".join(f"{name} {windows['0']['thread_cores'].get(name, 0.0):.2f} / {cores:.2f}"
                            for name, cores in crowd["thread_cores"].items()))

        windows = interleave(arms, pairs, on_round=heard)
        slow = classroom.slow_client(clients, stall_seconds=stall_seconds) if stall_seconds > 0 else None
        if slow is not None:
            log(f"{system} slow client: {slow['stalled']}; readers {min(slow['frames_per_second']):.1f} frames/s at least")
        return summarise(system, classroom.particles, str(classroom.simulation.platform_candidate), clients,
                         windows["0"], windows[str(clients)], slow)


def summarise(system: str, particles: int, platform: str, clients: int, idle: list[dict[str, Any]],
              crowded: list[dict[str, Any]], slow: dict[str, Any] | None) -> dict[str, Any]:
    """The classroom row of one system: the paired ratio, frames/s, memory per client, the slow client's drops."""
    ratio = paired_ratio([w["steps_per_second"] for w in crowded], [w["steps_per_second"] for w in idle])
    fps = [rate for w in crowded for rate in w["frames_per_second"]]
    kept_up = [min(w["frames_per_second"]) / w["published_per_second"] for w in crowded if w["published_per_second"] > 0]
    per_client = [w["bytes_per_client"] for w in crowded]
    row: dict[str, Any] = {
        "system": system, "particles": particles, "platform": platform, "clients": clients,
        "steps_per_second": {"0": statistics.median(w["steps_per_second"] for w in idle),
                             str(clients): statistics.median(w["steps_per_second"] for w in crowded)},
        "ratio": ratio,
        "frames_per_second": {"min": min(fps), "median": statistics.median(fps),
                              "published": statistics.median(w["published_per_second"] for w in crowded),
                              "slowest_reader_over_published": min(kept_up, default=float("nan"))},
        "bytes_per_client": {"median": statistics.median(per_client), "max": max(per_client)},
        "thread_cores": {arm: {name: statistics.median(w["thread_cores"].get(name, 0.0) for w in windows)
                               for name in windows[0]["thread_cores"]}
                         for arm, windows in (("0", idle), (str(clients), crowded))},
        "steal_cores": {arm: _median_or_none([w.get("steal_cores") for w in windows])
                        for arm, windows in (("0", idle), (str(clients), crowded))},
        "cores": {"server_0": statistics.median(w["server_cores"] for w in idle),
                  "server_n": statistics.median(w["server_cores"] for w in crowded),
                  "clients": statistics.median(w["clients_cores"] for w in crowded)},
        "slow_client": None,
        "windows": {"0": idle, str(clients): crowded},
    }
    met = {
        "ratio": ratio["median"] >= TARGET_RATIO,
        "frames_per_second": min(kept_up, default=0.0) >= TARGET_KEPT_UP,
        "memory": max(per_client) < TARGET_BYTES_PER_CLIENT,
    }
    if slow is not None:
        row["slow_client"] = {**slow["stalled"], "readers_min_fps": min(slow["frames_per_second"]),
                              "published_per_second": slow["published_per_second"],
                              "steps_per_second": slow["steps_per_second"]}
        met["slow_client"] = (slow["stalled"]["skipped"] > 0
                              and min(slow["frames_per_second"]) >= TARGET_KEPT_UP * slow["published_per_second"])
    row["met"] = met
    return row


def _median_or_none(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _steal(cores: float | None) -> str:
    """The host's steal in cores, or ``?`` where the kernel does not say."""
    return "?" if cores is None else f"{cores:.2f}"


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per system (the classroom rows of the bench table)."""
    lines = [
        "| system (particles, platform) | clients | steps/s 0 / N clients (median) | N / 0 steps/s (paired median, range) "
        "| frames/s per client (min, median; published) | cores busy: server 0 / N clients; the N clients "
        "| RSS per connected client (median, max) "
        "| a client that never reads: frames received / published; the others' min frames/s "
        "| host's steal, cores (median, 0 / N clients) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio, fps, memory, slow = row["ratio"], row["frames_per_second"], row["bytes_per_client"], row["slow_client"]
        cores = row["cores"]
        stalled = ("–" if slow is None else
                   f"{slow['received']} / {slow['published']} ({slow['skipped']} skipped in frame.index"
                   f"{'; it was disconnected' if slow.get('disconnected') else ''}); {slow['readers_min_fps']:.1f} of {slow['published_per_second']:.1f}")
        met = ", ".join(f"{name} {_yes(ok)}" for name, ok in row["met"].items())
        lines.append(
            f"| {row['system']} ({row['particles']:,}, {row['platform']}) | {row['clients']} "
            f"| {row['steps_per_second']['0']:,.0f} / {row['steps_per_second'][str(row['clients'])]:,.0f} "
            f"| {ratio['median']:.1%} ({ratio['min']:.1%}–{ratio['max']:.1%}, {ratio['pairs']} pairs) "
            f"| {fps['min']:.1f}, {fps['median']:.1f}; {fps['published']:.1f} "
            f"| {cores['server_0']:.2f} / {cores['server_n']:.2f}; {cores['clients']:.2f} "
            f"| {memory['median'] / 1e3:,.0f} kB, {memory['max'] / 1e3:,.0f} kB | {stalled} "
            f"| {_steal(row['steal_cores'].get('0'))} / {_steal(row['steal_cores'].get(str(row['clients'])))} | {met} |"
        )
    return "\n".join(lines)


def run(systems: list[str], *, clients: int, pairs: int, seconds: float, stall_seconds: float,
        platform: str | None = None, crowd_core: int | None = None,
        log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """The classroom rows of ``systems``, in order."""
    return [bench_system(system, clients=clients, pairs=pairs, seconds=seconds, stall_seconds=stall_seconds,
                         platform=platform, crowd_core=crowd_core, log=log) for system in systems]


def keep_off(core: int) -> set[int]:
    """Keep this process (the server, and every thread it starts from now on) off ``core``; the cores it keeps."""
    allowed = os.sched_getaffinity(0)
    kept = allowed - {core}
    if core not in allowed or not kept:
        raise ValueError(f"--crowd-core {core}: choose one of the cores {sorted(allowed)} and leave the server another")
    os.sched_setaffinity(0, kept)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds of 0 and N clients (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds a window counts (default 5)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--platform", default=None, help="OpenMM platform (default: timed at load, as serve does)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"readers in the crowded arm (default {CLIENTS})")
    parser.add_argument("--stall-seconds", type=float, default=STALL_SECONDS,
                        help="how long the never-reading client is connected before its window (0: no such window; "
                             f"default {STALL_SECONDS:.0f}; with the window it must stay under the server's keepalive, ~40 s)")
    parser.add_argument("--crowd-core", type=int, default=None, metavar="CORE",
                        help="run the clients' process on this core only and the server on the others, as if the "
                             "clients were on other machines (default: both wherever the scheduler puts them)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/classroom-TIME.json)")
    args = parser.parse_args(argv)
    if args.pairs < 1 or not args.seconds > 0 or args.clients < 1:
        parser.error("--pairs and --clients must be at least 1 and --seconds positive")
    if args.crowd_core is not None:
        try:
            print(f"the clients on core {args.crowd_core}, the server on {sorted(keep_off(args.crowd_core))}")
        except ValueError as error:
            parser.error(str(error))
    load_before = os.getloadavg()
    started = time.time()
    rows = run(args.systems, clients=args.clients, pairs=args.pairs, seconds=args.seconds,
               stall_seconds=args.stall_seconds, platform=args.platform, crowd_core=args.crowd_core)
    load_after = os.getloadavg()
    print(table(rows))
    print(f"\n{psutil.cpu_count()} CPUs shared by the server, its {args.clients} clients (one process of their own) "
          f"and everything else on the machine; load average (1, 5, 15 min) before {load_before}, after {load_after}; "
          f"{time.time() - started:.0f} s")
    out = args.out or RESULTS / f"classroom-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": vars(args) | {"out": str(out), "frame_rate": FRAME_RATE},
                               "cpus": psutil.cpu_count(), "load_average": {"before": load_before, "after": load_after},
                               "systems": rows}, indent=1, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
