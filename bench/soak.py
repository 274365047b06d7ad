"""Soak: a hostile but fair crowd against ``costeer serve`` for minutes, a well-behaved watcher measuring.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 4] [--wave-seconds 20] [--seed 1]

Starts ``costeer serve`` (built-in nanotube task, ``--record`` to a temporary file) on
127.0.0.1. In waves, scripted clients join, pull hard (scales of ±1e6, absurd fields),
write state (avatars, hundreds of random keys, values over 1 MiB), trespass on the server's
and each other's keys, send bad messages and commands, and leave (politely or by dropping
the connection); when a blow-up pauses the simulation, the next client to run a command
resets and plays it, as someone in the room would. Two watchers stay connected throughout
(reconnecting if dropped): one accepting any message size, one with websockets' default
1 MiB limit, as most clients have; at each wave a late joiner with that limit checks that a
newcomer still gets a frame and the state. Reports the watcher's frames/s over 10 s
windows, the server's memory each minute, recoveries (``costeer.recovery``), exception
and non-finite frames, unanswered requests, the server's log, and whether the recording
reads with costeer's reader and holds only finite frames. Prints a markdown table and
writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import psutil
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from costeer.core import keys
from costeer.core.frame import unpack_frame
from costeer.recording.reader import RecordingReader

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RECOVERY_KEY = "costeer.recovery"
"""State key the server writes when it rolls back from a blow-up (counted when present)."""
ABSURD_NM = 1e4
"""A coordinate further than this from the origin (10 µm) is physically absurd."""
WINDOW_S = 10.0
REPLY_WAIT_S = 5.0
BIG_VALUE_BYTES = 1_200_000
"""Over websockets' default 1 MiB message limit, under the server's 16 MiB."""
OVERSIZED_BYTES = 16 * 1024 * 1024 + 1
DEFAULT_MAX_SIZE = 2**20
"""websockets' default message limit: what most clients (NanoVer's too) accept."""


@dataclass
class Tally:
    """What the crowd did and what it got back."""

    joins: int = 0
    connect_failures: int = 0
    aborted_leaves: int = 0
    actions: collections.Counter = field(default_factory=collections.Counter)
    requests: int = 0
    unanswered: collections.Counter = field(default_factory=collections.Counter)
    """Requests with an id that got no reply within REPLY_WAIT_S, by kind."""
    closed_by_server: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class Watch:
    """What the well-behaved watcher saw."""

    frame_times: list[float] = field(default_factory=list)
    exception_frames: int = 0
    non_finite_frames: int = 0
    absurd_frames: int = 0
    recoveries: int = 0
    recovery_values: list[Any] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    particle_count: int | None = None


@dataclass
class Crowd:
    """What the scripted clients share."""

    rng: random.Random
    watch: Watch
    tally: Tally = field(default_factory=Tally)
    users: set[str] = field(default_factory=set)
    interactions: set[str] = field(default_factory=set)
    last_big: float = 0.0
    last_oversized: float = 0.0
    blow_ups_reset: int = 0
    """Exception frames the crowd has already answered with reset and play."""


# ---- the server ------------------------------------------------------------------------------


class Server:
    """``costeer serve --record PATH --port 0`` as a subprocess; its log goes to a file."""

    def __init__(self, record: Path, log: Path) -> None:
        script = Path(sys.executable).parent / "costeer"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "costeer.cli.main"]
        self.log = log
        self._log_file = open(log, "w")
        self.process = subprocess.Popen(
            [*command, "serve", "--record", str(record), "--port", "0"],
            stdout=subprocess.PIPE, stderr=self._log_file, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = self._wait_for_url()
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain what follows

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 120
        for line in iter(self.process.stdout.readline, ""):
            if match := re.search(r"costeer serving (ws://\S+)", line):
                return match.group(1)
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


# ---- the watcher and the late joiners --------------------------------------------------------


async def watch(url: str, seen: Watch, *, max_size: int | None) -> None:
    """Stay connected (reconnecting when dropped), checking every frame; ``max_size`` as websockets'."""
    while True:
        try:
            async with websockets.connect(url, max_size=max_size, open_timeout=10, close_timeout=2) as connection:
                async for data in connection:
                    _watch_message(msgpack.unpackb(data, raw=False, strict_map_key=False), seen)
                seen.drops.append(f"{time.strftime('%H:%M:%S')} closed by the server")
        except ConnectionClosed as error:
            seen.drops.append(f"{time.strftime('%H:%M:%S')} {error}")
        except (OSError, TimeoutError) as error:
            seen.drops.append(f"{time.strftime('%H:%M:%S')} could not connect: {error}")
        await asyncio.sleep(0.5)


def _watch_message(message: dict[str, Any], seen: Watch) -> None:
    frame = message.get("frame")
    if frame is not None:
        seen.frame_times.append(time.monotonic())
        if keys.SIMULATION_EXCEPTION in frame:
            seen.exception_frames += 1
        if keys.PARTICLE_COUNT in frame:
            seen.particle_count = int(frame[keys.PARTICLE_COUNT])
        if keys.PARTICLE_POSITIONS in frame:
            positions = unpack_frame({keys.PARTICLE_POSITIONS: frame[keys.PARTICLE_POSITIONS]})[keys.PARTICLE_POSITIONS]
            if not np.all(np.isfinite(positions)):
                seen.non_finite_frames += 1
            elif positions.size and np.max(np.abs(positions)) > ABSURD_NM:
                seen.absurd_frames += 1
    state = message.get("state")
    if isinstance(state, dict) and RECOVERY_KEY in (state.get("updates") or {}):
        seen.recoveries += 1
        seen.recovery_values = [*seen.recovery_values[-4:], state["updates"][RECOVERY_KEY]]


async def late_joiner(url: str) -> str:
    """Join as a newcomer with the default 1 MiB limit: ``"ok"`` once a frame and the state came."""
    got_frame = got_state = False
    try:
        async with asyncio.timeout(15):
            async with websockets.connect(url, open_timeout=10, close_timeout=2) as connection:
                async for data in connection:
                    message = msgpack.unpackb(data, raw=False, strict_map_key=False)
                    got_frame |= "frame" in message
                    got_state |= "state" in message
                    if got_frame and got_state:
                        return "ok"
        return "closed before a frame and the state came"
    except ConnectionClosed as error:
        return f"dropped: {error}"
    except TimeoutError:
        return f"no {'frame' if not got_frame else 'state'} within 15 s"
    except OSError as error:
        return f"could not connect: {error}"


# ---- the hostile crowd -----------------------------------------------------------------------


class Hostile:
    """One scripted client: what it sends, and the replies it is owed."""

    def __init__(self, connection: Any, crowd: Crowd) -> None:
        self.connection = connection
        self.crowd = crowd
        self.rng = crowd.rng
        self.user = f"soak-{self.rng.getrandbits(32):08x}"
        self.pending: dict[int, tuple[str, float]] = {}
        self._ids = iter(range(1, 1 << 30))

    async def send(self, message: Any) -> None:
        await self.connection.send(msgpack.packb(message, use_bin_type=True))

    async def state(self, updates: dict[str, Any], removals: list[str] = ()) -> None:
        await self.send({"state": {"updates": updates, "removals": list(removals)}})

    async def request(self, name: Any, arguments: Any, kind: str) -> None:
        request_id = next(self._ids)
        request = {"name": name, "arguments": arguments, "id": request_id}
        if name is None:
            del request["name"]
        self.pending[request_id] = (kind, time.monotonic())
        self.crowd.tally.requests += 1
        await self.send({"command": {"request": request}})

    async def read(self) -> None:
        """Drain everything the server sends; settle the replies."""
        async for data in self.connection:
            message = msgpack.unpackb(data, raw=False, strict_map_key=False)
            command = message.get("command")
            if isinstance(command, dict) and ("response" in command or "exception" in command):
                self.pending.pop((command.get("request") or {}).get("id"), None)

    def settle(self, *, final: bool) -> None:
        """Count the requests that waited too long (all still waiting, when ``final``)."""
        now = time.monotonic()
        for request_id, (kind, sent) in list(self.pending.items()):
            if final or now - sent > REPLY_WAIT_S:
                self.crowd.tally.unanswered[kind] += 1
                del self.pending[request_id]

    def particles(self, count: int) -> list[int]:
        total = self.crowd.watch.particle_count or 1
        return sorted(self.rng.sample(range(total), min(count, total)))

    # -- behaviours ---------------------------------------------------------------------------

    async def pull_hard(self) -> None:
        key = f"interaction.{self.user}-{self.rng.getrandbits(16):04x}"
        pull = {
            "particles": self.particles(self.rng.choice([1, 1, 3, 10])),
            "interaction_type": self.rng.choice(["spring", "gaussian", "constant"]),
            "scale": self.rng.choice([1e6, -1e6, 1e4, -1e4, 1e9, 3000.0, -200.0]),
            "max_force": self.rng.choice([math.inf, 1e12, 20000.0]),
            "owner.id": self.user,
        }
        position = np.array([self.rng.uniform(-5, 8) for _ in range(3)])
        self.crowd.interactions.add(key)
        for _ in range(self.rng.randint(3, 30)):  # held 0.3-3 s, the hand wandering
            position += [self.rng.gauss(0, 0.1) for _ in range(3)]
            await self.state({key: {**pull, "position": position.tolist()}})
            await asyncio.sleep(0.1)
        if self.rng.random() < 0.7:
            await self.state({}, [key])
            self.crowd.interactions.discard(key)

    async def pull_absurdly(self) -> None:
        key = f"interaction.{self.user}-absurd"
        value = self.rng.choice([
            {"position": [1e308, 1e308, -1e308], "particles": self.particles(1), "scale": 1e6},
            {"position": [0, 0, 0], "particles": [], "scale": 1e6},
            {"position": [0, 0, 0], "particles": [-1]},
            {"position": [0, 0, 0], "particles": [10**9]},
            {"position": [0, 0, 0], "particles": self.particles(1), "scale": math.nan},
            {"position": [0, 0, 0], "particles": self.particles(1), "scale": "hard"},
            {"position": [0, 0, 0], "particles": self.particles(1), "max_force": -1},
            {"position": [math.nan, 0, 0], "particles": self.particles(1)},
            {"position": [0, 0, 0], "particles": list(range(200_000))},
            {"position": [0, 0, 0], "particles": self.particles(2), "interaction_type": "laser"},
            5,
        ])
        await self.state({key: value})
        await asyncio.sleep(0.5)
        await self.state({}, [key])

    async def write_self(self) -> None:
        pose = {"position": [self.rng.uniform(-1, 1) for _ in range(3)], "rotation": [0, 0, 0, 1]}
        await self.state({
            f"avatar.{self.user}": {"playerid": self.user, "name": "soak", "components": [pose, pose]},
            f"playarea.{self.user}": {"A": [0, 0, 0], "B": [1, 0, 0], "C": [1, 0, 1], "D": [0, 0, 1]},
            f"cursor.{self.user}.left": pose,
            f"update.index.{self.user}": self.rng.randint(0, 1000),
            "scene": self.rng.choice([[0, 0, 0, 0, 0, 0, 1, 1, 1, 1], [math.nan] * 10, [0, 0, 0, 0, 0, 0, 1, 1e308, 1, 1]]),
        })

    async def write_many_keys(self) -> None:
        count = self.rng.choice([10, 100, 500])
        size = self.rng.choice([10, 200, 1000])
        base = self.rng.getrandbits(20)
        await self.state({f"soak.{self.user}.{base}.{i}": "x" * size for i in range(count)})

    async def write_big_value(self) -> None:
        if time.monotonic() - self.crowd.last_big < 20:
            return
        self.crowd.last_big = time.monotonic()
        await self.state({f"soak.{self.user}.big": "b" * BIG_VALUE_BYTES})

    async def trespass(self) -> None:
        others = sorted(self.crowd.users - {self.user})
        choices: list[tuple[dict[str, Any], list[str]]] = [
            ({keys.STATE_SIMULATION_NAME: "hijacked"}, []),
            ({}, [keys.STATE_SESSION]),
            ({keys.STATE_VELOCITY_RESET_AVAILABLE: "maybe"}, []),
        ]
        if others:
            other = self.rng.choice(others)
            choices += [({f"avatar.{other}": {"stolen": True}}, []), ({}, [f"avatar.{other}"])]
        theirs = sorted(self.crowd.interactions)
        if theirs:
            victim = self.rng.choice(theirs)
            choices += [({victim: {"position": [0, 0, 0], "particles": self.particles(1), "scale": 0.0}}, []), ({}, [victim])]
        updates, removals = self.rng.choice(choices)
        await self.state(updates, removals)

    async def send_bad_message(self) -> None:
        kind = self.rng.choice(["bytes", "text", "list", "no parts", "bad state", "args not a map", "no name", "oversized"])
        if kind == "oversized" and time.monotonic() - self.crowd.last_oversized < 60:
            kind = "bytes"
        self.crowd.tally.actions[f"bad message: {kind}"] += 1
        if kind == "bytes":
            await self.connection.send(self.rng.randbytes(self.rng.randint(1, 200)))
        elif kind == "text":
            await self.connection.send("hello, server")
        elif kind == "list":
            await self.send([1, 2, 3])
        elif kind == "no parts":
            await self.send({"hello": "server"})
        elif kind == "bad state":
            await self.send({"state": {"updates": [1], "removals": "all"}})
        elif kind == "args not a map":
            await self.request(keys.PLAY_COMMAND, [1, 2], "arguments not a map")
        elif kind == "no name":
            await self.request(None, {}, "no name")
        else:
            self.crowd.last_oversized = time.monotonic()
            await self.connection.send(b"\x00" * OVERSIZED_BYTES)  # the server closes the connection

    async def run_command(self) -> None:
        if self.crowd.watch.exception_frames > self.crowd.blow_ups_reset:  # paused by a blow-up: someone resets
            self.crowd.blow_ups_reset = self.crowd.watch.exception_frames
            await self.request(keys.RESET_COMMAND, {}, "well-formed")
            await self.request(keys.PLAY_COMMAND, {}, "well-formed")
            return
        name, arguments = self.rng.choice([
            (keys.LIST_COMMANDS, {}),
            (keys.LIST_COMMAND, {}),
            (keys.PLAY_COMMAND, {}),
            (keys.RESET_COMMAND, {}),
            (keys.RADIALLY_ORIENT_COMMAND, {"radius": self.rng.choice([1.0, 2.5, "nan", math.inf, -3, "x"])}),
            (keys.LOAD_COMMAND, {"index": self.rng.choice([0, 5, -1, "a", 1e308])}),
            ("soak/nothing", {}),
            (keys.PLAY_COMMAND, {"unexpected": 1}),
        ])
        await self.request(name, arguments, "well-formed")
        if name == keys.RESET_COMMAND:
            await self.request(keys.PLAY_COMMAND, {}, "well-formed")


BEHAVIOURS = {
    Hostile.pull_hard: 6,
    Hostile.pull_absurdly: 2,
    Hostile.write_self: 3,
    Hostile.write_many_keys: 1,
    Hostile.write_big_value: 1,
    Hostile.trespass: 2,
    Hostile.send_bad_message: 2,
    Hostile.run_command: 3,
}


async def hostile_client(url: str, crowd: Crowd, until: float) -> None:
    """Join, misbehave until ``until``, leave (one time in five by dropping the connection)."""
    tally, rng = crowd.tally, crowd.rng
    try:
        connection = await websockets.connect(url, max_size=None, open_timeout=10, close_timeout=2)
    except (OSError, TimeoutError):
        tally.connect_failures += 1
        return
    tally.joins += 1
    client = Hostile(connection, crowd)
    crowd.users.add(client.user)
    reader = asyncio.create_task(client.read())
    try:
        behaviours, weights = list(BEHAVIOURS), list(BEHAVIOURS.values())
        while time.monotonic() < until and not reader.done():
            behaviour = rng.choices(behaviours, weights)[0]
            tally.actions[behaviour.__name__] += 1
            await behaviour(client)
            client.settle(final=False)
            await asyncio.sleep(rng.uniform(0.05, 0.4))
        deadline = time.monotonic() + REPLY_WAIT_S
        while client.pending and time.monotonic() < deadline and not reader.done():
            await asyncio.sleep(0.1)
    except ConnectionClosed:
        await asyncio.wait([reader], timeout=2)  # the reader sees the close too, and counts it
    finally:
        crowd.users.discard(client.user)
        if not reader.done():
            client.settle(final=True)
            reader.cancel()
        elif not reader.cancelled() and isinstance(reader.exception(), ConnectionClosed):
            tally.closed_by_server[str(reader.exception().rcvd)] += 1  # what it was owed went with it
        if connection.state is not State.OPEN:
            pass  # the server closed it
        elif rng.random() < 0.2:
            tally.aborted_leaves += 1
            connection.transport.abort()
        else:
            await connection.close()


# ---- the run ---------------------------------------------------------------------------------


async def soak(server: Server, *, minutes: float, clients: int, wave_seconds: float, rng: random.Random) -> dict[str, Any]:
    seen, limited = Watch(), Watch()
    crowd = Crowd(rng=rng, watch=seen)
    watchers = [asyncio.create_task(watch(server.url, seen, max_size=None)),
                asyncio.create_task(watch(server.url, limited, max_size=DEFAULT_MAX_SIZE))]
    start = time.monotonic()
    end = start + minutes * 60
    rss: list[tuple[float, float]] = [(0.0, server.rss_mb())]
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
        while time.monotonic() < min(end, wave_start + wave_seconds):
            await asyncio.sleep(0.5)
            if time.monotonic() >= next_sample:
                rss.append((time.monotonic() - start, server.rss_mb()))
                next_sample += 5
        _log(f"{(time.monotonic() - start) / 60:4.1f} min: {len(seen.frame_times)} frames watched, "
             f"RSS {rss[-1][1]:.0f} MB, {crowd.tally.joins} joins")
    if crowd_tasks:
        await asyncio.wait(crowd_tasks, timeout=REPLY_WAIT_S + 10)
    rss.append((time.monotonic() - start, server.rss_mb()))
    for watcher in watchers:
        watcher.cancel()
    return {"watch": seen, "limited": limited, "tally": crowd.tally, "rss": rss, "late_joiners": joiners, "start": start,
            "seconds": time.monotonic() - start}


def _frame_rates(times: list[float], start: float, seconds: float) -> list[float]:
    """Frames per second in each whole WINDOW_S window of the run."""
    counts = collections.Counter(int((t - start) // WINDOW_S) for t in times)
    return [counts.get(window, 0) / WINDOW_S for window in range(int(seconds // WINDOW_S))]


def _rss_by_minute(rss: list[tuple[float, float]]) -> list[float]:
    """The RSS sample nearest the start and each whole minute of the run."""
    minutes = int(rss[-1][0] // 60)
    return [min(rss, key=lambda sample: abs(sample[0] - 60 * minute))[1] for minute in range(minutes + 1)]


def check_recording(path: Path) -> dict[str, Any]:
    """Read the recording with costeer's reader: frames, states, non-finite or absurd coordinates."""
    result: dict[str, Any] = {"bytes": path.stat().st_size if path.exists() else 0}
    frames = non_finite = absurd = exceptions = 0
    try:
        with RecordingReader(path) as reader:
            for _, frame in reader.frame_updates():
                frames += 1
                exceptions += keys.SIMULATION_EXCEPTION in frame
                positions = frame.get(keys.PARTICLE_POSITIONS)
                if positions is None or not positions.size:
                    continue
                if not np.all(np.isfinite(positions)):
                    non_finite += 1
                elif np.max(np.abs(positions)) > ABSURD_NM:
                    absurd += 1
            result["states"] = sum(1 for _ in reader.state_updates())
    except Exception as error:  # the figure to report is that it does not read
        result["error"] = f"{type(error).__name__}: {error}"
    result.update(reads="error" not in result, frames=frames, non_finite_frames=non_finite,
                  absurd_frames=absurd, exception_frames=exceptions)
    return result


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
    by_minute = _rss_by_minute(run["rss"])
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
        "late_joiners": collections.Counter(run["late_joiners"]),
        "crowd": {"joins": tally.joins, "connect_failures": tally.connect_failures, "aborted_leaves": tally.aborted_leaves,
                  "actions": dict(tally.actions), "requests": tally.requests, "unanswered": dict(tally.unanswered),
                  "closed_by_server": dict(tally.closed_by_server)},
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
        ("RSS flat within 10% after minute 1", f"{'yes' if rss['flat_within_10_percent'] else 'no'} ({rss['growth_after_first_minute']:+.0%})"),
        ("recoveries (`costeer.recovery` updates)", str(report["recoveries"])),
        ("exception frames (watcher / recording)", f"{watcher['exception_frames']} / {recording['exception_frames']}"),
        ("non-finite frames (watcher / recording)", f"{watcher['non_finite_frames']} / {recording['non_finite_frames']}"),
        (f"absurd frames, beyond {ABSURD_NM:g} nm (watcher / recording)", f"{watcher['absurd_frames']} / {recording['absurd_frames']}"),
        ("requests with an id left unanswered", f"{sum(unanswered.values())} of {crowd['requests']}"
         + (f" ({', '.join(f'{k}: {v}' for k, v in unanswered.items())})" if unanswered else "")),
        ("oversized messages: sent / logged by the server", f"{oversized_sent} / {log['oversized_logged']}"),
        ("server log: warnings / errors / tracebacks", f"{log['warnings']} / {log['errors']} / {log['tracebacks']}"),
        ("server exit code after SIGTERM", str(report["server_exit_code"])),
        ("recording reads", f"{'yes' if recording['reads'] else 'NO: ' + recording['error']}, {recording['frames']} frames, "
         f"{recording.get('states', 0)} state changes, {recording['bytes'] / 1e6:.0f} MB"),
    ]
    return "\n".join(["| soak | result |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows)])


def _log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="hostile clients per wave (default 4)")
    parser.add_argument("--wave-seconds", type=float, default=20.0, help="a new wave of clients this often (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the crowd's choices (default 1)")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/soak-TIME.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="costeer-soak-") as temp:
        record, log = Path(temp) / "soak.nanover.zip", Path(temp) / "serve.log"
        server = Server(record, log)
        _log(f"serving {server.url}; {args.minutes:g} min, {args.clients} clients a wave every {args.wave_seconds:g} s")
        try:
            run = asyncio.run(soak(server, minutes=args.minutes, clients=args.clients,
                                   wave_seconds=args.wave_seconds, rng=random.Random(args.seed)))
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
