"""Clients that speak NanoVer's WebSocket protocol: scripted users, demos, recorders."""

from .session import CommandError, NanoverSession

__all__ = ["NanoverSession", "CommandError"]
