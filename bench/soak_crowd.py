"""The soak's hostile crowd: scripted clients that join, pull hard, write state, trespass and leave.

Used by ``bench/soak.py``: ``hostile_client`` runs one client until a deadline, choosing its
behaviours (``BEHAVIOURS``, weighted) with the crowd's seeded random generator, and counts in
the crowd's ``Tally`` what it did and which requests went unanswered.
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from costeer.core import keys

from soak_watch import Watch

__all__ = ["Crowd", "Tally", "Hostile", "BEHAVIOURS", "hostile_client", "REPLY_WAIT_S"]

REPLY_WAIT_S = 5.0
"""A request with an id unanswered this long counts as unanswered."""
BIG_VALUE_BYTES = 1_200_000
"""Over websockets' default 1 MiB message limit, under the server's 16 MiB."""
OVERSIZED_BYTES = 16 * 1024 * 1024 + 1


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
