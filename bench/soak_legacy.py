"""The soak's legacy crowd: gRPC (Narupa / NanoVer to 2025-09) and IMD clients that join, pull hard, misbehave and leave.

Used by ``bench/soak.py --legacy``, whose server then also serves ``--grpc-port 0 --imd-port 0``.
Each wave adds one of each: ``grpc_client`` (its own channel, a frame stream, hard pulls and
infinite caps, locks, commands, calls of raw garbage, a new access token now and then) and
``imd_client`` (the v3 handshake, GO, hard MDCOMM pulls, PAUSE / RESUME / KILL / TRATE, unknown
message types, and leaving mid-message). ``LegacyTally`` counts what they did and, the point of
it, the gRPC calls that failed as the server's fault (UNKNOWN, INTERNAL: an exception escaped)
and IMD sessions the server dropped.
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from costeer.core import keys
from costeer.server.grpc.codec import decode_frame, to_struct
from costeer.server.grpc.generate import NAMESPACES, protocol
from costeer.server.imd.codec import HEADER_BYTES, MessageType, header, mdcomm

__all__ = ["LegacyTally", "grpc_client", "imd_client"]

SERVER_FAULTS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
"""gRPC codes that mean an exception escaped the server's handler, not a refusal."""


@dataclass
class LegacyTally:
    """What the legacy crowd did and what came back."""

    grpc_joins: int = 0
    grpc_frames: int = 0
    grpc_non_finite_frames: int = 0
    grpc_calls: collections.Counter = field(default_factory=collections.Counter)
    grpc_refused: collections.Counter = field(default_factory=collections.Counter)
    """Calls answered with a refusal, by status code (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...)."""
    grpc_server_faults: list[str] = field(default_factory=list)
    """Calls that failed with UNKNOWN or INTERNAL: the method and the details."""
    imd_joins: int = 0
    imd_bytes: int = 0
    imd_actions: collections.Counter = field(default_factory=collections.Counter)
    imd_refused_at_start: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def call(self, name: str, call: Any) -> Any:
        """Make one gRPC call, counting it and how it failed; ``None`` when it failed."""
        with self._lock:
            self.grpc_calls[name] += 1
        try:
            return call()
        except grpc.RpcError as error:
            code = error.code()
            with self._lock:
                if code in SERVER_FAULTS:
                    self.grpc_server_faults.append(f"{name}: {code.name}: {error.details()}")
                else:
                    self.grpc_refused[code.name] += 1
            return None

    def report(self) -> dict[str, Any]:
        return {"grpc_joins": self.grpc_joins, "grpc_frames": self.grpc_frames,
                "grpc_non_finite_frames": self.grpc_non_finite_frames, "grpc_calls": dict(self.grpc_calls),
                "grpc_refused": dict(self.grpc_refused), "grpc_server_faults": self.grpc_server_faults[:20],
                "grpc_server_fault_count": len(self.grpc_server_faults), "imd_joins": self.imd_joins,
                "imd_bytes": self.imd_bytes, "imd_actions": dict(self.imd_actions),
                "imd_refused_at_start": self.imd_refused_at_start}


def grpc_client(address: str, tally: LegacyTally, rng: random.Random, until: float, particle_count: int) -> None:
    """One legacy headset until ``until`` (blocking: run it in a thread)."""
    modules = protocol(rng.choice(NAMESPACES))
    channel = grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
    tally.grpc_joins += 1
    token = f"legacy-{rng.getrandbits(32):08x}"
    states = modules.state_grpc.StateStub(channel)
    commands = modules.command_grpc.CommandStub(channel)
    frames = modules.trajectory_grpc.TrajectoryServiceStub(channel).SubscribeLatestFrames(
        modules.trajectory.GetFrameRequest(frame_interval=rng.choice([0.0, 1 / 30, 0.5])))
    reader = threading.Thread(target=_read_frames, args=(frames, tally), daemon=True)
    reader.start()
    key = f"interaction.{token}"

    def update(change: dict[str, Any]) -> None:
        request = modules.state.UpdateStateRequest(access_token=token, update=modules.state.StateUpdate(changed_keys=to_struct(change)))
        tally.call("UpdateState", lambda: states.UpdateState(request, timeout=10))

    def run(name: str, **arguments: Any) -> None:
        message = modules.command.CommandMessage(name=name, arguments=to_struct(arguments))
        tally.call("RunCommand", lambda: commands.RunCommand(message, timeout=10))

    actions = [
        lambda: update({key: {"position": [rng.uniform(-50, 50) for _ in range(3)], "particles": [rng.randrange(particle_count)],
                              "interaction_type": rng.choice(["spring", "gaussian"]), "scale": rng.choice([1e6, -1e6, 50.0]),
                              "max_force": math.inf}}),
        lambda: update({key: None}),
        lambda: update({f"avatar.{token}": {"position": [rng.choice([0.0, math.nan, 1e308]), 0.0, 0.0]}}),
        lambda: update({keys.STATE_SIMULATION_NAME: "hijacked"}),
        lambda: tally.call("UpdateLocks", lambda: states.UpdateLocks(modules.state.UpdateLocksRequest(
            access_token=token, lock_keys=to_struct({"scene": rng.choice([2.0, math.nan, math.inf, None])})), timeout=10)),
        lambda: run(rng.choice([keys.PLAY_COMMAND, keys.RESET_COMMAND, keys.LIST_COMMANDS, "legacy/nothing"])),
        lambda: run(keys.RADIALLY_ORIENT_COMMAND, radius=rng.choice([1.0, math.inf, -2.0])),
        lambda: tally.call("raw garbage", lambda: channel.unary_unary(
            f"/{rng.choice(NAMESPACES)}.protocol.state.State/UpdateState")(rng.randbytes(rng.randint(1, 64)), timeout=10)),
    ]
    try:
        while time.monotonic() < until:
            rng.choice(actions)()
            if rng.random() < 0.05:
                token = f"legacy-{rng.getrandbits(32):08x}"  # another token on the same connection
            time.sleep(rng.uniform(0.05, 0.3))
    finally:
        if rng.random() < 0.8:
            frames.cancel()
        channel.close()
        reader.join(timeout=5)


def _read_frames(stream: Any, tally: LegacyTally) -> None:
    try:
        for response in stream:
            positions = decode_frame(response).get(keys.PARTICLE_POSITIONS)
            with tally._lock:
                tally.grpc_frames += 1
                tally.grpc_non_finite_frames += positions is not None and not np.isfinite(positions).all()
    except grpc.RpcError:
        pass
    except ValueError:  # the channel closed under the stream
        pass


async def imd_client(host: str, port: int, tally: LegacyTally, rng: random.Random, until: float, particle_count: int) -> None:
    """One IMD v3 client (imdclient's or a hand-written one) until ``until``."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        hello = await asyncio.wait_for(reader.readexactly(HEADER_BYTES), 10)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        tally.imd_refused_at_start += 1  # past the server's most IMD clients, or it could not connect
        return
    tally.imd_joins += 1
    draining = asyncio.create_task(_drain(reader, tally, len(hello)))
    actions = {  # name: (message, weight); the last four break the protocol, and the server closes the connection
        "go": (lambda: header(MessageType.GO), 1),
        "pull hard": (lambda: mdcomm(np.array([rng.randrange(particle_count)]),
                                     np.array([[rng.choice([1e6, -1e6, 50.0]), 0.0, 0.0]])), 8),
        "let go": (lambda: mdcomm(np.zeros(0, dtype=int), np.zeros((0, 3))), 2),
        "pause": (lambda: header(MessageType.PAUSE), 1),
        "resume": (lambda: header(MessageType.RESUME), 2),
        "kill": (lambda: header(MessageType.KILL), 1),
        "trate": (lambda: header(MessageType.TRATE, rng.choice([1, 2, 0, -5, 1000])), 1),
        "pull out of range": (lambda: mdcomm(np.array([particle_count + 5]), np.zeros((1, 3))), 0.2),
        "pull nan": (lambda: mdcomm(np.array([0]), np.full((1, 3), np.nan)), 0.2),
        "unknown type": (lambda: struct.pack("!ii", 99, 0), 0.2),
        "half a message": (lambda: header(MessageType.MDCOMM, 3)[:5], 0.2),
    }
    names, weights = list(actions), [weight for _, weight in actions.values()]
    try:
        writer.write(header(MessageType.GO))
        while time.monotonic() < until and not draining.done():
            name = rng.choices(names, weights)[0]
            tally.imd_actions[name] += 1
            writer.write(actions[name][0]())
            await writer.drain()
            if name == "half a message":
                break  # then leave mid-message
            await asyncio.sleep(rng.uniform(0.05, 0.3))
        if rng.random() < 0.5 and not draining.done():
            writer.write(header(MessageType.DISCONNECT))
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        draining.cancel()
        await asyncio.gather(draining, return_exceptions=True)


async def _drain(reader: asyncio.StreamReader, tally: LegacyTally, already: int) -> None:
    tally.imd_bytes += already
    while data := await reader.read(65536):
        tally.imd_bytes += len(data)
