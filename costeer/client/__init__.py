"""Clients that speak NanoVer's WebSocket protocol: scripted users, demos, recorders."""

from .session import CommandError, CommandHandler, FrameListener, NanoverSession, StateListener

__all__ = ["NanoverSession", "CommandError", "CommandHandler", "FrameListener", "StateListener"]
