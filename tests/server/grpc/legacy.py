"""A Narupa/NanoVer-era gRPC client built from our generated stubs, for the gRPC transport's tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import grpc

from costeer.client import NanoverSession
from costeer.core.frame import merge_frames
from costeer.server.grpc.codec import decode_frame, from_struct, state_from_struct, to_struct
from costeer.server.grpc.generate import protocol

__all__ = ["LegacyClient", "spring", "with_websocket"]


class LegacyClient:
    """A Narupa/NanoVer-era client: its own channel, frame and state streams, one access token."""

    def __init__(self, port: int, namespace: str, token: str, *, frame_interval: float = 0.0) -> None:
        self.modules = protocol(namespace)
        self.token = token
        # a channel of its own, as on another device (grpc would otherwise share one connection)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
        self.trajectory = self.modules.trajectory_grpc.TrajectoryServiceStub(self.channel)
        self.states = self.modules.state_grpc.StateStub(self.channel)
        self.commands = self.modules.command_grpc.CommandStub(self.channel)
        self.frame: dict[str, Any] = {}
        self.frame_indices: list[int] = []
        self.state: dict[str, Any] = {}
        request = self.modules.trajectory.GetFrameRequest(frame_interval=frame_interval)
        self._frames = self.trajectory.SubscribeLatestFrames(request)
        self._updates = self.states.SubscribeStateUpdates(self.modules.state.SubscribeStateUpdatesRequest())
        self._threads = [
            threading.Thread(target=self._read, args=(self._frames, self._on_frame), daemon=True),
            threading.Thread(target=self._read, args=(self._updates, self._on_state), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, handle: Callable[[Any], None]) -> None:
        try:
            for message in stream:
                handle(message)
        except grpc.RpcError:
            pass

    def _on_frame(self, response: Any) -> None:
        self.frame = merge_frames(self.frame, decode_frame(response))
        self.frame_indices.append(response.frame_index)

    def _on_state(self, update: Any) -> None:
        updates, removals = state_from_struct(update.changed_keys)
        self.state.update(updates)
        for key in removals:
            self.state.pop(key, None)

    def update_state(self, updates: dict[str, Any], removals: tuple[str, ...] = ()) -> bool:
        change = to_struct({**updates, **{key: None for key in removals}})
        request = self.modules.state.UpdateStateRequest(
            access_token=self.token, update=self.modules.state.StateUpdate(changed_keys=change)
        )
        return self.states.UpdateState(request, timeout=10).success

    def update_locks(self, locks: dict[str, Any]) -> bool:
        request = self.modules.state.UpdateLocksRequest(access_token=self.token, lock_keys=to_struct(locks))
        return self.states.UpdateLocks(request, timeout=10).success

    def run_command(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        message = self.modules.command.CommandMessage(name=name, arguments=to_struct(arguments))
        return from_struct(self.commands.RunCommand(message, timeout=10).result)

    def close(self) -> None:
        self._frames.cancel()
        self._updates.cancel()
        self.channel.close()
        for thread in self._threads:
            thread.join(timeout=5)


def spring(*particles: int, x: float = 0.5) -> dict[str, Any]:
    return {"position": [x, 0.0, 0.0], "particles": list(particles), "interaction_type": "spring", "scale": 1.0}


def with_websocket(server, scenario: Callable[[NanoverSession], Any]) -> Any:
    """Run ``scenario(session)`` (a coroutine function) with a WebSocket client of ``server``."""

    async def run() -> Any:
        async with NanoverSession.connect(f"ws://127.0.0.1:{server.port}") as session:
            return await scenario(session)

    return asyncio.run(run())
