"""Encoding NanoVer messages (msgpack maps of ``frame``, ``state``, ``command``) to bytes.

One encoder for the wire and for recordings, so both carry the same bytes::

    data = encode_message({"state": {"updates": {"scene": [...]}, "removals": []}})
    data = shared_frame.encoding(FRAME_MESSAGE_ENCODING, encode_frame_message)   # once per frame
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import msgpack
import numpy as np

__all__ = ["encode_message", "encode_frame_message", "FRAME_MESSAGE_ENCODING"]

FRAME_MESSAGE_ENCODING = "nanover-msgpack"
"""The name a frame's ``encode_frame_message`` bytes are cached under (``SharedFrame.encoding``),
by the WebSocket transport and the recorder alike."""


def encode_message(message: Mapping[str, Any]) -> bytes:
    """msgpack a message; numpy values become lists/numbers as NanoVer does.

    Raises ``TypeError`` for values msgpack cannot carry.
    """
    return msgpack.packb(message, use_bin_type=True, default=_fallback)


def encode_frame_message(frame: Mapping[str, Any]) -> bytes:
    """The message ``{"frame": frame}`` for a packed frame (``pack_frame``: arrays already bytes,
    so no fallback is needed, and none is paid for on the hot path). Raises ``TypeError`` for
    values msgpack cannot carry."""
    return msgpack.packb({"frame": frame}, use_bin_type=True)


def _fallback(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot send a {type(value).__name__} in a message: msgpack carries numbers, strings, bytes, lists and maps")
