"""Encoding NanoVer messages (msgpack maps of ``frame``, ``state``, ``command``) to bytes.

One encoder for the wire and for recordings, so both carry the same bytes::

    data = encode_message({"state": {"updates": {"scene": [...]}, "removals": []}})
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import msgpack
import numpy as np

__all__ = ["encode_message"]


def encode_message(message: Mapping[str, Any]) -> bytes:
    """msgpack a message; numpy values become lists/numbers as NanoVer does.

    Raises ``TypeError`` for values msgpack cannot carry.
    """
    return msgpack.packb(message, use_bin_type=True, default=_fallback)


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
