"""The IMD codec: what it writes reads back with imdclient's own parsers; bad client bytes are refused precisely."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from imdclient.IMDProtocol import IMDHeader, IMDTime, parse_box_bytes, parse_energy_bytes, parse_imdv3_session_info

from costeer.server.imd.codec import (
    HEADER_BYTES,
    KCAL_PER_KJ,
    ClientReader,
    ImdProtocolError,
    MessageType,
    SessionFlags,
    box,
    energies,
    handshake,
    header,
    mdcomm,
    read_handshake,
    read_session_info,
    session_info,
    time_packet,
    vectors,
)


def test_header_is_big_endian_type_and_slot():
    assert header(MessageType.FCOORDS, 65) == b"\x00\x00\x00\x02\x00\x00\x00\x41"
    parsed = IMDHeader(header(MessageType.TRATE, 7))
    assert (parsed.type.value, parsed.length) == (8, 7)


@pytest.mark.parametrize("version", [2, 3])
def test_handshake_carries_the_version_in_the_body_byte_order(version):
    data = handshake(version)
    assert data[:4] == b"\x00\x00\x00\x04"
    assert struct.unpack("<i", data[4:])[0] == version
    assert read_handshake(data) == (version, "<")


def test_handshake_of_an_unknown_version_is_refused_on_both_sides():
    with pytest.raises(ValueError, match="version 4 is not served"):
        handshake(4)
    with pytest.raises(ImdProtocolError, match="unknown IMD version"):
        read_handshake(header(MessageType.HANDSHAKE, 4))


def test_session_info_round_trips_and_imdclient_reads_it():
    flags = SessionFlags(time=True, energies=False, box=True, wrapped=False, velocities=True, forces=False)
    data = session_info(flags)
    assert data[:HEADER_BYTES] == header(MessageType.SESSIONINFO, 7)
    assert read_session_info(data) == flags
    theirs = parse_imdv3_session_info(data[HEADER_BYTES:], "<")
    assert (theirs.time, theirs.energies, theirs.box, theirs.positions, theirs.wrapped_coords,
            theirs.velocities, theirs.forces) == (True, False, True, True, False, True, False)


def test_energies_block_in_v3_and_v2_units():
    data = energies(step=12, temperature=300.0, total=-418.4, potential=-836.8)
    assert IMDHeader(data[:HEADER_BYTES]).length == 1 and len(data) == HEADER_BYTES + 40
    parsed = parse_energy_bytes(data[HEADER_BYTES:], "<")
    assert parsed["step"] == 12
    assert parsed["temperature"] == pytest.approx(300.0)
    assert parsed["total_energy"] == pytest.approx(-418.4)
    assert parsed["potential_energy"] == pytest.approx(-836.8)
    kcal = parse_energy_bytes(energies(step=1, temperature=0, total=-418.4, potential=0, scale=KCAL_PER_KJ)[8:], "<")
    assert kcal["total_energy"] == pytest.approx(-100.0)


def test_energies_step_wraps_like_a_c_int32():
    parsed = parse_energy_bytes(energies(step=2**31 + 5, temperature=0, total=0, potential=0)[8:], "<")
    assert parsed["step"] == -(2**31) + 5


def test_time_packet_holds_dt_time_and_a_64_bit_step():
    data = time_packet(dt=0.002, time=12.5, step=2**40)
    parsed = IMDTime(data[HEADER_BYTES:], "<")
    assert (parsed.dt, parsed.time, parsed.step) == (0.002, 12.5, 2**40)


def test_box_is_sent_in_angstrom_one_vector_per_row():
    vectors_nm = np.array([[3.0, 0, 0], [0.5, 4.0, 0], [0, 0, 5.0]])
    parsed = parse_box_bytes(box(vectors_nm)[HEADER_BYTES:], "<")
    np.testing.assert_allclose(parsed, vectors_nm * 10.0, rtol=1e-6)


def test_coordinates_are_float32_triplets_scaled_at_the_edge():
    positions_nm = np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    data = vectors(MessageType.FCOORDS, positions_nm, scale=10.0)
    assert IMDHeader(data[:HEADER_BYTES]).length == 4
    sent = np.frombuffer(data[HEADER_BYTES:], dtype="<f4").reshape(4, 3)
    np.testing.assert_allclose(sent, positions_nm * 10.0, rtol=1e-6)


def test_reader_decodes_control_messages_split_anywhere():
    stream = (header(MessageType.GO) + header(MessageType.WAIT, 1) + header(MessageType.PAUSE)
              + header(MessageType.RESUME) + header(MessageType.TRATE, 5) + header(MessageType.DISCONNECT))
    reader = ClientReader(version=3, particle_count=10)
    messages = [message for byte in stream for message in reader.feed(bytes([byte]))]
    assert [(m.kind, m.slot) for m in messages] == [
        (MessageType.GO, 0), (MessageType.WAIT, 1), (MessageType.PAUSE, 0),
        (MessageType.RESUME, 0), (MessageType.TRATE, 5), (MessageType.DISCONNECT, 0),
    ]
    reader.end()


def test_reader_decodes_mdcomm_indices_and_forces():
    forces = np.array([[1.5, -2.0, 0.25], [0.0, 0.0, 3.0]])
    reader = ClientReader(version=2, particle_count=10)
    (message,) = reader.feed(mdcomm([7, 2], forces) + header(MessageType.GO))[:1]
    assert message.kind == MessageType.MDCOMM
    assert message.indices.tolist() == [7, 2]
    np.testing.assert_array_equal(message.forces, forces)


def test_reader_refuses_an_mdcomm_in_the_other_byte_order_by_its_indices():
    data = mdcomm([1], [[1.0, 2.0, 3.0]], order=">")
    with pytest.raises(ImdProtocolError, match="names atom"):
        ClientReader(version=3, particle_count=10).feed(data)


def test_truncated_header_is_reported_at_end_of_stream():
    reader = ClientReader(version=3, particle_count=10)
    assert [message.kind for message in reader.feed(header(MessageType.GO) + b"\x00\x00\x00")] == [MessageType.GO]
    with pytest.raises(ImdProtocolError, match="truncated header: the stream ended after 3 of its 8 bytes"):
        reader.end()


def test_truncated_mdcomm_body_is_reported_at_end_of_stream():
    reader = ClientReader(version=3, particle_count=10)
    assert reader.feed(mdcomm([1, 2], np.ones((2, 3)))[:-5]) == []
    with pytest.raises(ImdProtocolError, match="truncated MDCOMM message: the stream ended after 27 of its 32"):
        reader.end()


@pytest.mark.parametrize(
    ("version", "data", "error"),
    [
        (3, header(17), "unknown message type 17"),
        (3, header(-1), "unknown message type -1"),
        (3, header(MessageType.FCOORDS, 3), "may not send FCOORDS"),
        (2, header(MessageType.RESUME), "may not send RESUME .* version 2"),
        (2, header(MessageType.WAIT), "may not send WAIT"),
        (3, header(MessageType.HANDSHAKE, 9), "unknown IMD version 9"),
        (3, header(MessageType.MDCOMM, 11), "MDCOMM for 11 atoms; the system has 10"),
        (3, header(MessageType.MDCOMM, -1), "MDCOMM for -1 atoms"),
        (3, mdcomm([10], [[0, 0, 0]]), "names atom 10"),
        (3, mdcomm([-3], [[0, 0, 0]]), "names atom -3"),
        (3, mdcomm([1], [[np.nan, 0, 0]]), "not finite"),
    ],
)
def test_reader_refuses_bad_messages_with_the_reason(version, data, error):
    with pytest.raises(ImdProtocolError, match=error):
        ClientReader(version=version, particle_count=10).feed(data)


def test_reader_refuses_an_oversized_mdcomm_before_its_body_arrives():
    reader = ClientReader(version=3, particle_count=10)
    with pytest.raises(ImdProtocolError, match="MDCOMM for 2000000000 atoms"):
        reader.feed(header(MessageType.MDCOMM, 2_000_000_000))
