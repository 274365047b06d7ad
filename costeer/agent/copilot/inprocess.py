"""The co-pilot inside a ``CosteerServer``: its own thread and frame subscription, writing as ``costeer-copilot``.

    runner = load_policy("nanotube.pt")
    copilot = attach_copilot(server, runner, settings=CopilotSettings(mode="assist"), policy_name="nanotube.pt")
    ...                    # closed with the server (first, before the simulation stops)

It reads frames from its own subscription to the server's hub (never from the simulation
thread or the WebSocket loop), the live interactions from the interaction gate, and puts its
changes into the shared state with ``origin="costeer-copilot"``, so its interaction passes
the gate like a client's and gets the agent role (its force capped at ``max_force``; a
person's pull on the same atoms wins). ``copilot/mode`` and ``copilot/stop`` are registered
as the server's commands.
"""

from __future__ import annotations

from typing import Any

from costeer.core import keys
from costeer.core.frame import FrameDict, unpack_frame
from costeer.server.app import CosteerServer
from costeer.server.commands import CommandError
from costeer.server.interactions import OriginRole

from .commands import copilot_commands
from .copilot import Copilot
from .settings import CopilotChange, CopilotSettings
from .live import LiveCopilot, initial_status

__all__ = ["InProcessCopilot", "attach_copilot"]


class _HubFrames:
    """The newest whole frame from one hub subscription (a ``FrameSource``); ``frame.index`` is the
    newest frame's, or 0 when a reset came since the last take (NanoVer's merge keeps a 0 forever)."""

    def __init__(self, server: CosteerServer) -> None:
        self._subscription = server.hub.subscribe()
        self._frame: FrameDict = {}

    def __call__(self, timeout: float) -> FrameDict | None:
        packed = self._subscription.wait(timeout)
        if packed is None:
            return None
        delta = unpack_frame(packed)  # the merge of what came since the last take: frame.index 0 if a reset did
        self._frame = delta if delta.get(keys.FRAME_INDEX) == 0 else {**self._frame, **delta}
        return self._frame

    def close(self) -> None:
        self._subscription.close()


class InProcessCopilot:
    """A :class:`LiveCopilot` wired to one server's hub, gate, state and commands.

    Usage: ``copilot = InProcessCopilot(server, runner, settings=s); copilot.start(); copilot.close()``
    (or :func:`attach_copilot`, which also closes it with the server).
    """

    def __init__(self, server: CosteerServer, runner: Any, *, settings: CopilotSettings = CopilotSettings(),
                 policy_name: str = "") -> None:
        self.server = server
        self.settings = settings
        self._frames = _HubFrames(server)
        server.interactions.set_role(keys.COPILOT_OWNER, OriginRole("agent", max_force=settings.max_force))

        def make(frame: FrameDict) -> Copilot:
            return Copilot.from_frame(runner, frame, settings=settings, policy_name=policy_name)

        self.live = LiveCopilot(
            make,
            next_frame=self._frames,
            live_interactions=lambda: server.interactions.interactions,
            write=self._write,
            frame_interval=lambda: 1.0 / server.runner.frame_rate,
            settings=settings,
            status=initial_status(settings, policy_name=policy_name, task=getattr(runner, "task_name", "")),
        )
        self._commands = copilot_commands(self.live, error=CommandError)
        self._closed = False

    def start(self) -> None:
        """Register the commands and start acting on frames."""
        for command in self._commands:
            self.server.commands.register(command.name, command.handler, arguments=command.arguments, label=command.label)
        self.live.start()

    def close(self) -> None:
        """Stop acting, remove the co-pilot's keys and commands; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for command in self._commands:
            self.server.commands.unregister(command.name)
        self._frames.close()
        self.live.close()

    def _write(self, change: CopilotChange) -> None:
        self.server.state.update(change.updates, change.removals, origin=keys.COPILOT_OWNER)


def attach_copilot(server: CosteerServer, runner: Any, *, settings: CopilotSettings = CopilotSettings(),
                   policy_name: str = "") -> InProcessCopilot:
    """Start a co-pilot in ``server`` (started or not), closed first when the server closes."""
    copilot = InProcessCopilot(server, runner, settings=settings, policy_name=policy_name)
    server.companions.append(("co-pilot", copilot.close))
    copilot.start()
    return copilot
