"""Frames as IMD packets: units at the edge, what a session offers, one client's frames in order."""

from __future__ import annotations

import struct

import numpy as np

from costeer.core import keys
from costeer.core.frame import pack_frame
from costeer.server.imd.codec import HEADER_BYTES, KCAL_PER_KJ, MessageType, SessionFlags
from costeer.server.imd.frames import FrameAssembler, frame_packets, offered_flags, particle_count_of

POSITIONS = np.arange(9, dtype=np.float32).reshape(3, 3) / 10
FULL = pack_frame({
    keys.PARTICLE_POSITIONS: POSITIONS,
    keys.PARTICLE_VELOCITIES: POSITIONS * 2,
    keys.PARTICLE_FORCES_SYSTEM: POSITIONS * 100,
    keys.BOX_VECTORS: np.eye(3, dtype=np.float32) * 4,
    keys.SIMULATION_TIME: 1.5,
    keys.SIMULATION_STEP: 750,
    keys.SIMULATION_TIMESTEP: 0.002,
    keys.POTENTIAL_ENERGY: -100.0,
    keys.KINETIC_ENERGY: 40.0,
    keys.SYSTEM_TEMPERATURE: 300.0,
})


def _body(packet: bytes, dtype: str = "<f4") -> np.ndarray:
    return np.frombuffer(packet[HEADER_BYTES:], dtype=dtype)


def test_v3_packets_convert_nm_and_kj_at_the_edge():
    packets = frame_packets(FULL, version=3)
    assert set(packets) == {MessageType.TIME, MessageType.ENERGIES, MessageType.BOX, MessageType.FCOORDS,
                            MessageType.VELOCITIES, MessageType.FORCES}
    np.testing.assert_allclose(_body(packets[MessageType.FCOORDS]).reshape(3, 3), POSITIONS * 10, rtol=1e-6)
    np.testing.assert_allclose(_body(packets[MessageType.VELOCITIES]).reshape(3, 3), POSITIONS * 20, rtol=1e-6)
    np.testing.assert_allclose(_body(packets[MessageType.FORCES]).reshape(3, 3), POSITIONS * 10, rtol=1e-6)
    np.testing.assert_allclose(_body(packets[MessageType.BOX]).reshape(3, 3), np.eye(3) * 40)
    assert struct.unpack("<ddq", packets[MessageType.TIME][HEADER_BYTES:]) == (0.002, 1.5, 750)
    step, temperature, total, potential = struct.unpack("<i3f", packets[MessageType.ENERGIES][HEADER_BYTES:24])
    assert (step, temperature, total, potential) == (750, 300.0, -60.0, -100.0)


def test_v2_packets_are_energies_in_kcal_and_coordinates_only():
    packets = frame_packets(FULL, version=2)
    assert set(packets) == {MessageType.ENERGIES, MessageType.FCOORDS}
    total = struct.unpack("<f", packets[MessageType.ENERGIES][HEADER_BYTES + 8:HEADER_BYTES + 12])[0]
    assert total == np.float32(-60.0 * KCAL_PER_KJ)


def test_a_session_offers_what_was_asked_and_the_frames_hold():
    packets = frame_packets(pack_frame({keys.PARTICLE_POSITIONS: POSITIONS, keys.SIMULATION_TIME: 0.0}), version=3)
    everything = SessionFlags(velocities=True, forces=True)
    assert offered_flags(everything, packets) == SessionFlags(
        time=True, energies=False, box=False, positions=True, velocities=False, forces=False
    )
    assert offered_flags(SessionFlags(time=False, velocities=True), frame_packets(FULL, version=3)) == SessionFlags(
        time=False, velocities=True
    )


def test_v3_frames_keep_the_fixed_order_and_the_latest_energies():
    assembler = FrameAssembler(version=3, flags=SessionFlags(box=False, velocities=True))
    assembler.keep(frame_packets(FULL, version=3))
    later = pack_frame({keys.PARTICLE_POSITIONS: POSITIONS + 1, keys.SIMULATION_TIME: 1.6,
                        keys.PARTICLE_VELOCITIES: POSITIONS})
    assembler.keep(frame_packets(later, version=3))
    data = assembler.frame()
    kinds = []
    offset = 0
    sizes = {MessageType.TIME: 24, MessageType.ENERGIES: 40}
    while offset < len(data):
        kind, slot = struct.unpack_from("!ii", data, offset)
        kinds.append(MessageType(kind))
        offset += HEADER_BYTES + sizes.get(kind, 12 * slot)
    assert kinds == [MessageType.TIME, MessageType.ENERGIES, MessageType.FCOORDS, MessageType.VELOCITIES]
    assert frame_packets(later, version=3)[MessageType.FCOORDS] in data
    assert frame_packets(FULL, version=3)[MessageType.ENERGIES] in data  # the last energies known


def test_no_v3_frame_until_every_promised_packet_was_seen_but_v2_goes_without_energies():
    positions_only = frame_packets(pack_frame({keys.PARTICLE_POSITIONS: POSITIONS}), version=3)
    v3 = FrameAssembler(version=3, flags=SessionFlags())
    v3.keep(positions_only)
    assert v3.frame() is None
    v2 = FrameAssembler(version=2, flags=SessionFlags())
    v2.keep(frame_packets(pack_frame({keys.PARTICLE_POSITIONS: POSITIONS}), version=2))
    assert v2.frame() == positions_only[MessageType.FCOORDS]


def test_particle_count_of_packed_and_plain_frames():
    assert particle_count_of(FULL) == 3
    assert particle_count_of({keys.PARTICLE_POSITIONS: np.zeros((5, 3))}) == 5
    assert particle_count_of({keys.SIMULATION_TIME: 1.0}) is None
