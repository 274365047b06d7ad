"""The co-pilot's commands, ``copilot/mode`` and ``copilot/stop``, as NanoVer lists them (name, label, arguments).

The same two commands whether the co-pilot runs in the server (registered in its
``CommandRegistry``) or as a client (``NanoverSession.register_command``)::

    for command in copilot_commands(live, error=CommandError):
        registry.register(command.name, command.handler, arguments=command.arguments, label=command.label)

A request with an unknown mode or a bad blend raises ``error`` (the requester's mistake)
with a message that names the modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from costeer.core import keys

from .live import LiveCopilot

__all__ = ["CopilotCommand", "MODE_LABEL", "STOP_LABEL", "copilot_commands"]

MODE_LABEL = "Co-pilot mode"
STOP_LABEL = "Stop the co-pilot"


@dataclass(frozen=True)
class CopilotCommand:
    """One command: its name, label, default arguments and handler (returns the status map)."""

    name: str
    label: str
    handler: Callable[..., dict[str, Any]]
    arguments: dict[str, Any] = field(default_factory=dict)


def copilot_commands(live: LiveCopilot, *, error: type[Exception] = ValueError) -> tuple[CopilotCommand, CopilotCommand]:
    """``copilot/mode`` (``mode``, ``blend``) and ``copilot/stop`` for ``live``; bad arguments raise ``error``."""

    def mode(mode: str = "assist", blend: float | None = None) -> dict[str, Any]:
        try:
            return live.set_mode(mode, blend)
        except ValueError as refused:
            raise error(str(refused)) from None

    def stop() -> dict[str, Any]:
        return live.stop()

    return (
        CopilotCommand(keys.COPILOT_MODE_COMMAND, MODE_LABEL, mode, {"mode": "assist", "blend": None}),
        CopilotCommand(keys.COPILOT_STOP_COMMAND, STOP_LABEL, stop),
    )
