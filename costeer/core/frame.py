"""Frames: NanoVer frame dictionaries, their merge rule, and their wire packing.

A frame is a ``dict`` of frame keys (see :mod:`costeer.core.keys`) to values. In memory,
arrays are numpy arrays; on the wire and in recordings they are little-endian bytes
(``pack_frame``). Frames after the first are deltas; ``merge_frames`` combines them the way
NanoVer does: ``frame.index`` 0 starts a new sequence and discards what came before.

    full = merge_frames(previous, delta)
    wire = pack_frame(full)            # numpy -> bytes, ready for msgpack
    again = unpack_frame(wire)         # bytes (or lists, in old recordings) -> numpy
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import keys

__all__ = ["FrameDict", "ARRAY_FORMATS", "merge_frames", "pack_frame", "unpack_frame", "pack_value"]

FrameDict = dict[str, Any]

ARRAY_FORMATS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    keys.PARTICLE_POSITIONS: (np.dtype("<f4"), (-1, 3)),
    keys.PARTICLE_VELOCITIES: (np.dtype("<f4"), (-1, 3)),
    keys.PARTICLE_FORCES: (np.dtype("<f4"), (-1, 3)),
    keys.PARTICLE_FORCES_SYSTEM: (np.dtype("<f4"), (-1, 3)),
    keys.BOX_VECTORS: (np.dtype("<f4"), (-1, 3)),
    keys.USER_FORCES_SPARSE: (np.dtype("<f4"), (-1, 3)),
    keys.PARTICLE_ELEMENTS: (np.dtype("u1"), (-1,)),
    keys.BOND_ORDERS: (np.dtype("u1"), (-1,)),
    keys.PARTICLE_COLORS: (np.dtype("u1"), (-1, 4)),
    keys.PARTICLE_RESIDUES: (np.dtype("<u4"), (-1,)),
    keys.RESIDUE_CHAINS: (np.dtype("<u4"), (-1,)),
    keys.USER_FORCES_INDEX: (np.dtype("<u4"), (-1,)),
    keys.BOND_PAIRS: (np.dtype("<u4"), (-1, 2)),
}
"""Frame keys sent as raw little-endian bytes: key -> (dtype, shape when unpacked)."""

_INTEGER_KEYS = {keys.FRAME_INDEX, keys.PARTICLE_COUNT, keys.RESIDUE_COUNT, keys.CHAIN_COUNT}


def merge_frames(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> FrameDict:
    """Combine two frames, ``later`` winning; ``frame.index`` 0 in ``later`` drops ``earlier``.

    A reset (``frame.index`` 0) in either frame stays visible in the result, so a client
    that skips frames still learns that the topology changed.
    """
    earlier_reset = earlier.get(keys.FRAME_INDEX) == 0
    later_reset = later.get(keys.FRAME_INDEX) == 0
    merged: FrameDict = {} if later_reset else dict(earlier)
    merged.update(later)
    if earlier_reset or later_reset:
        merged[keys.FRAME_INDEX] = 0
    return merged


def pack_value(key: str, value: Any) -> Any:
    """Convert one frame value to what NanoVer puts on the wire for ``key``."""
    fmt = ARRAY_FORMATS.get(key)
    if fmt is not None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        return np.ascontiguousarray(value, dtype=fmt[0]).tobytes()
    if key in _INTEGER_KEYS:
        return int(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def pack_frame(frame: Mapping[str, Any]) -> FrameDict:
    """Convert a frame's numpy arrays to little-endian bytes, ready for msgpack."""
    return {key: pack_value(key, value) for key, value in frame.items()}


def unpack_frame(packed: Mapping[str, Any]) -> FrameDict:
    """Convert a packed frame back to numpy arrays.

    Accepts arrays as bytes (NanoVer today) or as lists of numbers (older recordings).
    Raises ``ValueError`` naming the key when a value cannot be read as its array type.
    """
    frame: FrameDict = {}
    for key, value in packed.items():
        fmt = ARRAY_FORMATS.get(key)
        if fmt is None:
            frame[key] = value
            continue
        dtype, shape = fmt
        try:
            if isinstance(value, (bytes, bytearray, memoryview)):
                array = np.frombuffer(value, dtype=dtype)
            else:
                array = np.asarray(value, dtype=dtype).reshape(-1)
            frame[key] = array.reshape(shape)
        except (TypeError, ValueError) as error:
            raise ValueError(f"frame key {key!r} is not a valid {dtype} array: {error}") from error
    return frame
