"""What a shared-state value may be: encodable for clients, and free of NaN and infinity.

``KeyOwnership`` checks every client's value with these; ``multiuser`` checks the values its
commands compute. ``encoded`` is the value as a state message carries it (its length is what
the state's size limits count).
"""

from __future__ import annotations

import math
import re
from typing import Any

from costeer.core import keys
from costeer.core.message import encode_message

__all__ = ["holds_non_finite", "may_hold_non_finite", "without_uncapped_force", "encoded", "encoded_size"]


def holds_non_finite(value: Any) -> bool:
    """Whether a decoded message value holds NaN or infinity anywhere (map keys included).

    Walks the structure with a stack, not recursion; a long list of numbers is checked in one
    ``sum`` (finite unless an item is not, or the sum overflows), so a 40,000-atom selection costs little.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                return True
        elif kind is list or kind is tuple:
            if len(item) > 16:
                try:
                    total = sum(item)
                    if type(total) is int or math.isfinite(total):
                        continue
                except (TypeError, OverflowError):
                    pass  # not all numbers, or huge: look at each item
            pending.extend(item)
        elif kind is dict:
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, float) and not math.isfinite(item):
            return True
    return False


_MAYBE_NON_FINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]", re.DOTALL)
"""A msgpack float64 whose exponent bits are all set (NaN or infinity), or bytes that look
like one inside other data. The encoder writes every float as float64, so a value whose
encoding lacks this holds no NaN or infinity: checked at C speed before walking the value."""


def without_uncapped_force(key: str, value: Any) -> Any:
    """``value`` less an interaction's ``max_force`` of +infinity: NanoVer's VR client sends that
    to mean "no cap of its own" (the human recordings hold it), and the server's ``--max-force``
    caps such a pull anyway."""
    if type(value) is dict and value.get("max_force") == math.inf and key.startswith(keys.INTERACTION_PREFIX):
        return {name: item for name, item in value.items() if name != "max_force"}
    return value


def encoded(key: str, value: Any) -> bytes | None:
    """``{key: value}`` as in a state message, or ``None`` if it cannot be sent."""
    try:
        return encode_message({key: value})
    except (TypeError, ValueError, OverflowError):
        return None


def encoded_size(key: str, value: Any) -> int | None:
    """Bytes ``{key: value}`` takes in a state message, or ``None`` if it cannot be sent."""
    message = encoded(key, value)
    return None if message is None else len(message)


def may_hold_non_finite(message: bytes) -> bool:
    """Whether an ``encoded`` value may hold NaN or infinity (if not, it surely does not)."""
    return _MAYBE_NON_FINITE.search(message) is not None
