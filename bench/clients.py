"""Lightweight NanoVer WebSocket clients for the bench: frame rates, MD steps/s, round trips.

One asyncio loop drives any number of connections; each decodes only what the bench needs
(``frame.index``, ``system.simulation.time``, ``forces.user.index``), so clients cost the
shared CPU as little as possible, the same for costeer and for NanoVer's server.

    stream(url, clients=4, seconds=3.0, timestep_ps=0.0005)  -> Rates
    idle_steps(url, seconds=3.0, timestep_ps=0.0005)         -> steps/s with no client
    round_trips(url, count=15, particle=60)                   -> [seconds, ...]
    command(url, "playback/pause")                            -> the server's response
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import msgpack
import numpy as np
import websockets

__all__ = ["Rates", "stream", "idle_steps", "round_trips", "command"]

MAX_SIZE = 128 * 1024 * 1024
SIM_TIME = "system.simulation.time"
USER_INDEX = "forces.user.index"


@dataclass(frozen=True)
class Rates:
    """What N streaming clients saw: MD steps/s (from simulation time) and frames/s per client."""

    steps_per_second: float
    frames_per_second: list[float]


async def _frames(connection: websockets.ClientConnection):
    """Yield (arrival time, frame map) for every frame message."""
    async for data in connection:
        message = msgpack.unpackb(data)
        frame = message.get("frame")
        if frame is not None:
            yield time.perf_counter(), frame


async def _collect(url: str, seconds: float, warmup: float) -> list[tuple[float, float | None]]:
    seen: list[tuple[float, float | None]] = []
    async with websockets.connect(url, max_size=MAX_SIZE) as connection:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(warmup + seconds):
                async for arrived, frame in _frames(connection):
                    if arrived - start >= warmup:
                        seen.append((arrived, frame.get(SIM_TIME)))
        except TimeoutError:
            pass
    return seen


def _steps(seen: list[tuple[float, float | None]], timestep_ps: float) -> float:
    timed = [(t, sim) for t, sim in seen if sim is not None]
    if len(timed) < 2:
        return float("nan")
    (t0, s0), (t1, s1) = timed[0], timed[-1]
    return (s1 - s0) / timestep_ps / (t1 - t0)


def stream(url: str, *, clients: int, seconds: float, timestep_ps: float, warmup: float = 0.7) -> Rates:
    """``clients`` connections reading every frame for ``seconds`` (after ``warmup``)."""

    async def run() -> list[list[tuple[float, float | None]]]:
        return await asyncio.gather(*(_collect(url, seconds, warmup) for _ in range(clients)))

    logs = asyncio.run(run())
    fps = [(len(log) - 1) / (log[-1][0] - log[0][0]) if len(log) > 1 else 0.0 for log in logs]
    return Rates(steps_per_second=_steps(logs[0], timestep_ps), frames_per_second=fps)


async def _one_frame_time(url: str) -> tuple[float, float]:
    async with websockets.connect(url, max_size=MAX_SIZE) as connection:
        async for arrived, frame in _frames(connection):
            if SIM_TIME in frame:
                return arrived, frame[SIM_TIME]
    raise RuntimeError(f"{url} closed before sending a frame with {SIM_TIME}")


def idle_steps(url: str, *, seconds: float, timestep_ps: float) -> float:
    """MD steps/s with nobody connected: sample the simulation time, leave, come back."""
    t0, s0 = asyncio.run(_one_frame_time(url))
    time.sleep(seconds)
    t1, s1 = asyncio.run(_one_frame_time(url))
    return (s1 - s0) / timestep_ps / (t1 - t0)


def _index(frame: dict) -> list[int] | None:
    value = frame.get(USER_INDEX)
    if value is None:
        return None
    return np.frombuffer(value, dtype="<u4").tolist() if isinstance(value, bytes) else list(value)


async def _round_trips(url: str, count: int, particle: int, timeout: float) -> list[float]:
    key = "interaction.bench-round-trip"
    interaction = {
        "position": [0.0, 0.0, 0.0],
        "particles": [particle],
        "interaction_type": "spring",
        "scale": 0.01,
        "mass_weighted": True,
        "reset_velocities": False,
        "max_force": 20000.0,
    }
    latencies = []
    async with websockets.connect(url, max_size=MAX_SIZE) as connection:
        frames = _frames(connection)
        async with asyncio.timeout(timeout):
            async for _, frame in frames:  # wait for the first full frame
                break
            for _ in range(count):
                # frames arrive on a clock: send at a random phase of it, as a hand would
                # (frames queued meanwhile cannot show it: the last removal was confirmed)
                await asyncio.sleep(random.uniform(0.0, 0.05))
                sent = time.perf_counter()
                await connection.send(msgpack.packb({"state": {"updates": {key: interaction}, "removals": []}}))
                async for arrived, frame in frames:
                    if particle in (_index(frame) or []):
                        latencies.append(arrived - sent)
                        break
                await connection.send(msgpack.packb({"state": {"updates": {}, "removals": [key]}}))
                async for _, frame in frames:
                    if _index(frame) is not None and particle not in _index(frame):
                        break
    return latencies


def round_trips(url: str, *, count: int = 15, particle: int = 60, timeout: float = 60.0) -> list[float]:
    """Seconds from sending an interaction to the first frame whose forces.user.index shows it."""
    return asyncio.run(_round_trips(url, count, particle, timeout))


async def _command(url: str, name: str, timeout: float) -> object:
    request = {"name": name, "arguments": {}, "id": random.randrange(1 << 30)}
    async with websockets.connect(url, max_size=MAX_SIZE) as connection:
        await connection.send(msgpack.packb({"command": {"request": request}}))
        async with asyncio.timeout(timeout):
            async for data in connection:
                reply = msgpack.unpackb(data).get("command")
                for item in reply if isinstance(reply, list) else [reply] if reply else []:
                    if item.get("request", {}).get("id") == request["id"]:
                        if "exception" in item:
                            raise RuntimeError(f"{name} failed on {url}: {item['exception']}")
                        return item.get("response")
    raise RuntimeError(f"{url} closed before answering {name}")


def command(url: str, name: str, *, timeout: float = 30.0) -> object:
    """Run one command (``playback/pause``, ``playback/play``) and return its response."""
    return asyncio.run(_command(url, name, timeout))
