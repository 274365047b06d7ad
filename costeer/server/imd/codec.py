"""The IMD wire format (versions 2 and 3), encoded and decoded without any I/O.

Every message is an 8-byte header, ``type`` and a ``slot`` (a count or a value, never a
byte length), both big-endian, except the handshake's slot (the protocol version), which
is written in the server's own byte order: the client learns the body byte order from it.
This server writes every body little-endian (``BODY_ORDER``), as imdclient and VMD accept.

Server -> client: ``handshake``, ``session_info`` (v3), then per frame the packets the
session asked for, in v3's fixed order TIME, ENERGIES, BOX, FCOORDS, VELOCITIES, FORCES.
Client -> server: GO, DISCONNECT, PAUSE, RESUME (v3), KILL, TRATE, WAIT (v3), MDCOMM
(forces on atoms). Units on the wire: Å, Å/ps, ps, K; energies kJ/mol and forces
kJ/(mol Å) in v3, kcal/mol and kcal/(mol Å) in v2 (VMD's and NAMD's units); the
``*_to_wire`` factors below convert costeer's nm, kJ/mol units at this edge.

    reader = ClientReader(version=3, particle_count=65)
    for message in reader.feed(data):      # raises ImdProtocolError on bad input
        ...
    reader.end()                           # raises if the stream stopped mid-message
    wire = handshake(3) + session_info(SessionFlags(energies=True))
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "MessageType",
    "ImdProtocolError",
    "SUPPORTED_VERSIONS",
    "HEADER_BYTES",
    "BODY_ORDER",
    "ANGSTROM_PER_NM",
    "KCAL_PER_KJ",
    "SessionFlags",
    "ClientMessage",
    "ClientReader",
    "header",
    "handshake",
    "read_handshake",
    "session_info",
    "read_session_info",
    "energies",
    "time_packet",
    "box",
    "vectors",
    "mdcomm",
]

HEADER_BYTES = 8
SUPPORTED_VERSIONS = (2, 3)
BODY_ORDER = "<"
"""Byte order of every body (and of the handshake's version) this server writes."""
ANGSTROM_PER_NM = 10.0
KCAL_PER_KJ = 1.0 / 4.184


class MessageType(enum.IntEnum):
    """IMD message type codes (``IMD_*``); 10 and above exist only in version 3."""

    DISCONNECT = 0
    ENERGIES = 1
    FCOORDS = 2
    GO = 3
    HANDSHAKE = 4
    KILL = 5
    MDCOMM = 6
    PAUSE = 7
    TRATE = 8
    IOERROR = 9
    SESSIONINFO = 10
    RESUME = 11
    TIME = 12
    BOX = 13
    VELOCITIES = 14
    FORCES = 15
    WAIT = 16


_CLIENT_TYPES = {
    2: frozenset({MessageType.DISCONNECT, MessageType.GO, MessageType.KILL, MessageType.MDCOMM,
                  MessageType.PAUSE, MessageType.TRATE}),
    3: frozenset({MessageType.DISCONNECT, MessageType.GO, MessageType.KILL, MessageType.MDCOMM,
                  MessageType.PAUSE, MessageType.TRATE, MessageType.RESUME, MessageType.WAIT}),
}
_KNOWN_TYPES = frozenset(int(kind) for kind in MessageType)
_HEADER = struct.Struct("!ii")
_ENERGIES = struct.Struct(BODY_ORDER + "i9f")
_TIME = struct.Struct(BODY_ORDER + "ddq")


class ImdProtocolError(ValueError):
    """Bytes that do not follow the IMD protocol; the message says what was wrong."""


def header(kind: MessageType, slot: int = 0) -> bytes:
    """An 8-byte header: both fields big-endian."""
    return _HEADER.pack(int(kind), int(slot))


def handshake(version: int) -> bytes:
    """The server's first message: the version in ``BODY_ORDER`` (IMD's byte-order signal)."""
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"IMD version {version} is not served; use one of {SUPPORTED_VERSIONS}")
    return struct.pack("!i", MessageType.HANDSHAKE) + struct.pack(BODY_ORDER + "i", version)


def read_handshake(data: bytes) -> tuple[int, str]:
    """``(version, body byte order)`` of a handshake, as a client reads it (either byte order)."""
    kind, slot = _read_header(data)
    if kind != MessageType.HANDSHAKE:
        raise ImdProtocolError(f"expected a handshake (type 4), got message type {kind}")
    if slot in SUPPORTED_VERSIONS:
        return slot, ">"
    swapped = struct.unpack("<i", struct.pack(">i", slot))[0]
    if swapped in SUPPORTED_VERSIONS:
        return swapped, "<"
    raise ImdProtocolError(
        f"unknown IMD version {slot} (byte-swapped {swapped}); this side speaks versions 2 and 3"
    )


@dataclass(frozen=True)
class SessionFlags:
    """What every v3 frame holds (IMD_SESSIONINFO); fields in wire order."""

    time: bool = True
    energies: bool = True
    box: bool = True
    positions: bool = True
    wrapped: bool = True
    """Coordinates wrapped into the box (costeer sends what OpenMM gives for the frame)."""
    velocities: bool = False
    forces: bool = False


def session_info(flags: SessionFlags) -> bytes:
    """IMD_SESSIONINFO: a header with slot 7 and one byte per flag."""
    values = [getattr(flags, field.name) for field in fields(SessionFlags)]
    return header(MessageType.SESSIONINFO, len(values)) + bytes(int(bool(value)) for value in values)


def read_session_info(data: bytes) -> SessionFlags:
    """The flags of a 15-byte IMD_SESSIONINFO message (header and body)."""
    kind, slot = _read_header(data)
    if kind != MessageType.SESSIONINFO or slot != 7 or len(data) != HEADER_BYTES + 7:
        raise ImdProtocolError(f"expected session info (type 10, 7 flags), got type {kind} slot {slot}")
    return SessionFlags(*(bool(byte) for byte in data[HEADER_BYTES:]))


def energies(
    *,
    step: int,
    temperature: float,
    total: float,
    potential: float,
    scale: float = 1.0,
) -> bytes:
    """IMD_ENERGIES: one 40-byte block; energies (kJ/mol) times ``scale`` (``KCAL_PER_KJ`` for v2).

    costeer knows only the kinetic and potential energy, so the van der Waals,
    electrostatic, bond, angle, dihedral and improper terms are sent as 0.
    """
    block = _ENERGIES.pack(
        _int32(step), temperature, total * scale, potential * scale, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    )
    return header(MessageType.ENERGIES, 1) + block


def time_packet(*, dt: float, time: float, step: int) -> bytes:
    """IMD_TIME (v3): time step and time in ps, and the integration step."""
    return header(MessageType.TIME, 1) + _TIME.pack(dt, time, step)


def box(vectors_nm: np.ndarray) -> bytes:
    """IMD_BOX (v3): the three box vectors, one per row, in Å."""
    vectors = np.asarray(vectors_nm, dtype=np.float64).reshape(3, 3) * ANGSTROM_PER_NM
    return header(MessageType.BOX, 1) + vectors.astype(BODY_ORDER + "f4").tobytes()


def vectors(kind: MessageType, values: np.ndarray, *, scale: float) -> bytes:
    """IMD_FCOORDS, IMD_VELOCITIES or IMD_FORCES: (n, 3) values times ``scale``, float32."""
    array = np.asarray(values, dtype=np.float32).reshape(-1, 3)
    body = np.multiply(array, np.float32(scale), dtype=np.float32).astype(BODY_ORDER + "f4", copy=False)
    return header(kind, len(array)) + body.tobytes()


def mdcomm(indices: np.ndarray, forces: np.ndarray, *, order: str = BODY_ORDER) -> bytes:
    """IMD_MDCOMM as a client sends it: int32 indices, then float32 force triplets."""
    indices = np.asarray(indices).reshape(-1)
    forces = np.asarray(forces).reshape(-1, 3)
    if len(indices) != len(forces):
        raise ValueError(f"{len(indices)} indices but {len(forces)} forces")
    return (
        header(MessageType.MDCOMM, len(indices))
        + indices.astype(order + "i4").tobytes()
        + forces.astype(order + "f4").tobytes()
    )


@dataclass(frozen=True)
class ClientMessage:
    """One message from a client. ``slot`` is the header's value (TRATE's rate, WAIT's mode)."""

    kind: MessageType
    slot: int = 0
    indices: np.ndarray | None = None
    """MDCOMM only: (m,) int64 atom indices."""
    forces: np.ndarray | None = None
    """MDCOMM only: (m, 3) float64 forces, as sent (kJ/(mol Å) in v3, kcal/(mol Å) in v2)."""


class ClientReader:
    """Turns the bytes a client sends into ``ClientMessage`` s; keeps a partial message between feeds.

    ``particle_count`` bounds MDCOMM: a message naming more atoms than the system has is
    refused from its header, before its body is waited for.
    """

    def __init__(self, *, version: int, particle_count: int) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"IMD version {version} is not served; use one of {SUPPORTED_VERSIONS}")
        self.version = version
        self.particle_count = particle_count
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[ClientMessage]:
        """The complete messages now buffered; raises ``ImdProtocolError`` at the first bad one."""
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER_BYTES:
            kind, slot = _read_header(self._buffer[:HEADER_BYTES])
            body_bytes = self._body_bytes(kind, slot)
            if len(self._buffer) < HEADER_BYTES + body_bytes:
                break
            body = bytes(self._buffer[HEADER_BYTES:HEADER_BYTES + body_bytes])
            del self._buffer[:HEADER_BYTES + body_bytes]
            messages.append(self._message(kind, slot, body))
        return messages

    def end(self) -> None:
        """The client closed its side: raises ``ImdProtocolError`` if it stopped mid-message."""
        if not self._buffer:
            return
        if len(self._buffer) < HEADER_BYTES:
            raise ImdProtocolError(
                f"truncated header: the stream ended after {len(self._buffer)} of its {HEADER_BYTES} bytes"
            )
        kind, slot = _read_header(self._buffer[:HEADER_BYTES])
        raise ImdProtocolError(
            f"truncated {MessageType(kind).name} message: the stream ended after "
            f"{len(self._buffer) - HEADER_BYTES} of its {self._body_bytes(kind, slot)} body bytes"
        )

    def _body_bytes(self, kind: int, slot: int) -> int:
        if kind == MessageType.HANDSHAKE:
            raise ImdProtocolError(_handshake_from_client(slot))
        if kind not in _KNOWN_TYPES:
            raise ImdProtocolError(f"unknown message type {kind} (IMD types are 0 to 16)")
        kind = MessageType(kind)
        if kind not in _CLIENT_TYPES[self.version]:
            raise ImdProtocolError(f"a client may not send {kind.name} (type {int(kind)}) in IMD version {self.version}")
        if kind != MessageType.MDCOMM:
            return 0
        if not 0 <= slot <= self.particle_count:
            raise ImdProtocolError(
                f"MDCOMM for {slot} atoms; the system has {self.particle_count} (send 0 to {self.particle_count})"
            )
        return 16 * slot

    def _message(self, kind: int, slot: int, body: bytes) -> ClientMessage:
        kind = MessageType(kind)
        if kind != MessageType.MDCOMM:
            return ClientMessage(kind, slot)
        count = slot
        indices = np.frombuffer(body, dtype=BODY_ORDER + "i4", count=count).astype(np.int64)
        forces = np.frombuffer(body, dtype=BODY_ORDER + "f4", offset=4 * count).reshape(count, 3).astype(np.float64)
        if count and (indices.min() < 0 or indices.max() >= self.particle_count):
            bad = int(indices[(indices < 0) | (indices >= self.particle_count)][0])
            raise ImdProtocolError(f"MDCOMM names atom {bad}; the system has atoms 0 to {self.particle_count - 1}")
        if not np.all(np.isfinite(forces)):
            raise ImdProtocolError("MDCOMM holds a force that is not finite (NaN or infinite)")
        return ClientMessage(kind, slot, indices=indices, forces=forces)


def _read_header(data: bytes | bytearray) -> tuple[int, int]:
    if len(data) < HEADER_BYTES:
        raise ImdProtocolError(f"truncated header: {len(data)} of its {HEADER_BYTES} bytes")
    return _HEADER.unpack_from(data)


def _handshake_from_client(slot: int) -> str:
    swapped = struct.unpack("<i", struct.pack(">i", slot))[0]
    version = slot if slot in SUPPORTED_VERSIONS else swapped
    if version in SUPPORTED_VERSIONS:
        return f"sent a handshake (version {version}); in IMD the server sends the handshake, the client answers GO"
    return f"sent a handshake of unknown IMD version {slot}; this server speaks versions 2 and 3"


def _int32(value: int) -> int:
    """``value`` as IMD's 32-bit step field holds it (wrapping, as a C int32 would)."""
    return ((int(value) + 2**31) % 2**32) - 2**31
