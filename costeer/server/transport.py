"""The transport seam: what every transport (WebSocket, gRPC, IMD) serves, and what it must offer.

A transport is built from the ``SessionParts`` of one session (frames, shared state,
commands, the interaction gate, the command pool, the connection listeners) by a
``TransportFactory``; the server starts and closes it, sums its clients and announces its
discovery services. Every transport serves the same session: a client's state writes carry
its client id (``ws-3``, ``grpc-1``, ``imd-2``: the transport's name and a number) as their
``origin``, and when it leaves, ``client_left`` removes what it leaves behind by the same
rule for everyone. Frames come from ``hub.subscribe()`` as ``SharedFrame`` objects, each
encoded once per protocol (``shared.encoding(protocol, encode)``) however many clients get it.

    def my_transport(parts: SessionParts) -> Transport:
        return MyServer(parts, port=0)

    server = CosteerServer(simulations, transports=[my_transport])
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

from .access import AccessPolicy
from .commands import CommandRegistry
from .hub import FrameHub
from .interactions import InteractionGate
from .serial import SerialExecutor
from .session import ClientLedger
from .state import SharedState
from .tls import TlsCredentials

__all__ = ["SessionParts", "Transport", "TransportFactory", "ConnectionListener"]

ConnectionListener = Callable[[str, "str | None", bool], None]
"""Called with (client id, its address or ``None``, connected): once it connected, and again
(``False``) once it has left and its keys are removed. Must be quick and must not block."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionParts:
    """What a transport serves: the session's frames, state, commands and its rules.

        parts = SessionParts.standalone()        # a session of its own (tests, tools)
        transport = factory(parts); transport.start()
    """

    hub: FrameHub
    """Frames: ``hub.subscribe(on_ready=...)`` -> ``FrameSubscription`` (``take_packed()``: ``SharedFrame``)."""
    state: SharedState
    """The shared state: ``state.update(updates, removals, origin=client_id)``; ``state.subscribe()``."""
    commands: CommandRegistry
    """Commands by name: ``commands.run(name, arguments)`` -> Future; ``CommandChannel`` for a client."""
    interactions: InteractionGate
    """The gate ``interaction.*`` writes pass through (already installed on ``state``)."""
    command_executor: Executor
    """The server's pool for clients' commands; give each client its own lane (``command_lane``)."""
    connection_listeners: list[ConnectionListener]
    """Tell them through ``tell_connection``."""
    address: str
    """The address the server listens on (``127.0.0.1`` by default)."""
    clients: ClientLedger
    """Who each client revealed itself to be (``avatar.<id>`` ...), for ``client_left``."""
    access: AccessPolicy = field(default_factory=AccessPolicy)
    """Who may connect and who may steer (open by default); every transport enforces it."""
    tls: TlsCredentials | None = None
    """The certificate and key, when clients must connect over TLS (wss, gRPC over TLS)."""

    @classmethod
    def standalone(
        cls,
        *,
        hub: FrameHub | None = None,
        state: SharedState | None = None,
        commands: CommandRegistry | None = None,
        command_executor: Executor | None = None,
        address: str = "127.0.0.1",
        access: AccessPolicy | None = None,
        tls: TlsCredentials | None = None,
    ) -> "SessionParts":
        """Parts around a hub and state of their own, without a simulation (tests, tools).

        The interaction gate knows no particle count, so it checks interactions' shapes only.
        """
        state = state if state is not None else SharedState()
        interactions = InteractionGate(particle_count=lambda: None)
        interactions.install(state)
        return cls(
            hub=hub if hub is not None else FrameHub(),
            state=state,
            commands=commands if commands is not None else CommandRegistry(),
            interactions=interactions,
            command_executor=command_executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="costeer-commands"),
            connection_listeners=[],
            address=address,
            clients=ClientLedger(state),
            access=access if access is not None else AccessPolicy(),
            tls=tls,
        )

    def command_lane(self) -> SerialExecutor:
        """A new lane on the command pool: one client's commands, one at a time, in its order."""
        return SerialExecutor(self.command_executor)

    def client_left(self, client_id: str) -> set[str]:
        """Remove that client's per-user keys and interactions (and forget it as a writer), as
        for a WebSocket client that disconnects; returns the removed keys. Call it once the
        client's own writes have stopped, before telling the listeners it left."""
        return self.clients.client_left(client_id)

    def tell_connection(self, client_id: str, address: str | None, connected: bool) -> None:
        """Call every connection listener; one that fails is logged, the others still run."""
        for listener in list(self.connection_listeners):
            try:
                listener(client_id, address, connected)
            except Exception:
                _log.exception("a connection listener failed")


@runtime_checkable
class Transport(Protocol):
    """One way for clients to reach the session (a listening socket and its clients).

        transport = factory(parts)
        transport.start(); print(transport.name, transport.port, transport.client_count)
        transport.close()
    """

    name: str
    """Short and unique among the server's transports (``"ws"``, ``"grpc"``, ``"imd"``): logs,
    client counts, the prefix of its client ids."""

    @property
    def port(self) -> int | None:
        """The port actually listened on, after ``start`` (``None`` before)."""

    @property
    def client_count(self) -> int:
        """Clients connected now."""

    @property
    def discovery_services(self) -> dict[str, int]:
        """ESSD service name -> port to announce (``{}`` for none); after ``start``."""

    def start(self) -> None:
        """Listen in its own thread(s); raise ``OSError`` naming the port if it is taken."""

    def close(self) -> None:
        """Disconnect the clients (their keys removed), stop listening; safe to call twice."""


TransportFactory = Callable[[SessionParts], Transport]
"""Builds a transport for a session: ``CosteerServer(..., transports=[factory, ...])``."""
