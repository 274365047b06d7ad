"""Frames as IMD packets: each served frame encoded once per IMD version, assembled per client.

``frame_packets`` turns one (packed) frame into the IMD packets it has data for, units
converted (nm -> Å, kJ/mol -> kcal/mol for v2); the transport caches that per frame for
all clients of a version. ``FrameAssembler`` keeps, for one client, the latest packet of
each kind (energies are not in every frame) and writes a complete IMD frame: in v3 every
packet the session info promised, in order; in v2 energies (when known) and coordinates.

    packets = frame_packets(frame, version=3)
    assembler = FrameAssembler(version=3, flags=offered_flags(requested, packets))
    assembler.keep(packets)                 # every frame, sent or not (energies come now and then)
    wire = assembler.frame()                # None until every promised packet is known
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from costeer.core import keys

from .codec import (
    ANGSTROM_PER_NM,
    KCAL_PER_KJ,
    MessageType,
    SessionFlags,
    box,
    energies,
    time_packet,
    vectors,
)

__all__ = ["Packets", "frame_packets", "offered_flags", "FrameAssembler", "V3_ORDER", "particle_count_of"]

Packets = dict[MessageType, bytes]
"""IMD packets (header and body) by message type."""

V3_ORDER = (
    MessageType.TIME,
    MessageType.ENERGIES,
    MessageType.BOX,
    MessageType.FCOORDS,
    MessageType.VELOCITIES,
    MessageType.FORCES,
)
"""The order of the packets in every v3 frame."""
_FLAG_OF = {
    MessageType.TIME: "time",
    MessageType.ENERGIES: "energies",
    MessageType.BOX: "box",
    MessageType.FCOORDS: "positions",
    MessageType.VELOCITIES: "velocities",
    MessageType.FORCES: "forces",
}
_NM_PER_ANGSTROM = 1.0 / ANGSTROM_PER_NM


def _triplets(value: Any) -> np.ndarray:
    """A packed (little-endian float32 bytes) or unpacked frame array as (n, 3) float32."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, dtype="<f4").reshape(-1, 3)
    return np.asarray(value, dtype=np.float32).reshape(-1, 3)


def particle_count_of(frame: Mapping[str, Any]) -> int | None:
    """How many particles the frame's positions hold, or ``None`` without positions."""
    positions = frame.get(keys.PARTICLE_POSITIONS)
    return None if positions is None else len(_triplets(positions))


def frame_packets(frame: Mapping[str, Any], *, version: int) -> Packets:
    """The IMD packets of ``frame`` (a delta or an aggregate), for IMD ``version`` clients."""
    packets: Packets = {}
    step = int(frame.get(keys.SIMULATION_STEP, 0))
    if keys.PARTICLE_POSITIONS in frame:
        packets[MessageType.FCOORDS] = vectors(
            MessageType.FCOORDS, _triplets(frame[keys.PARTICLE_POSITIONS]), scale=ANGSTROM_PER_NM
        )
    if keys.POTENTIAL_ENERGY in frame and keys.KINETIC_ENERGY in frame:
        potential, kinetic = float(frame[keys.POTENTIAL_ENERGY]), float(frame[keys.KINETIC_ENERGY])
        packets[MessageType.ENERGIES] = energies(
            step=step,
            temperature=float(frame.get(keys.SYSTEM_TEMPERATURE, 0.0)),
            total=potential + kinetic,
            potential=potential,
            scale=1.0 if version == 3 else KCAL_PER_KJ,
        )
    if version == 2:
        return packets
    if keys.SIMULATION_TIME in frame:
        packets[MessageType.TIME] = time_packet(
            dt=float(frame.get(keys.SIMULATION_TIMESTEP, 0.0)), time=float(frame[keys.SIMULATION_TIME]), step=step
        )
    if keys.BOX_VECTORS in frame:
        packets[MessageType.BOX] = box(_triplets(frame[keys.BOX_VECTORS]))
    if keys.PARTICLE_VELOCITIES in frame:  # nm/ps -> Å/ps
        packets[MessageType.VELOCITIES] = vectors(
            MessageType.VELOCITIES, _triplets(frame[keys.PARTICLE_VELOCITIES]), scale=ANGSTROM_PER_NM
        )
    forces = frame.get(keys.PARTICLE_FORCES_SYSTEM, frame.get(keys.PARTICLE_FORCES))
    if forces is not None:  # kJ/(mol nm) -> kJ/(mol Å)
        packets[MessageType.FORCES] = vectors(MessageType.FORCES, _triplets(forces), scale=_NM_PER_ANGSTROM)
    return packets


def offered_flags(requested: SessionFlags, available: Packets) -> SessionFlags:
    """What a v3 session promises: what was asked for and the served frames have (positions always)."""
    offered = {
        name: getattr(requested, name) and kind in available
        for kind, name in _FLAG_OF.items()
        if kind != MessageType.FCOORDS
    }
    return replace(requested, positions=True, **offered)


class FrameAssembler:
    """One client's IMD frames from the shared per-frame packets, with the latest of each kind kept."""

    def __init__(self, *, version: int, flags: SessionFlags) -> None:
        self.version = version
        self.flags = flags
        self._kinds = (
            [kind for kind in V3_ORDER if getattr(flags, _FLAG_OF[kind])]
            if version == 3
            else [MessageType.ENERGIES, MessageType.FCOORDS]
        )
        self._latest: Packets = {}

    def keep(self, packets: Packets) -> None:
        """Remember the latest packet of each kind in ``packets``."""
        self._latest.update(packets)

    def frame(self) -> bytes | None:
        """The wire bytes of a frame of the latest packets; ``None`` while a promised one was never seen."""
        if MessageType.FCOORDS not in self._latest:
            return None
        parts = []
        for kind in self._kinds:
            packet = self._latest.get(kind)
            if packet is None:
                if self.version == 3:
                    return None
                continue  # v2: energies are optional
            parts.append(packet)
        return b"".join(parts)
