"""Keep a long-running server's memory flat: large buffers go back to the system when freed.

A server reads client messages of up to ``MAX_MESSAGE_BYTES`` (2 MiB) and encodes states of
up to ~0.5 MiB. glibc's malloc serves blocks over ``M_MMAP_THRESHOLD`` (128 KiB at start)
with their own ``mmap``, returned to the system by ``free``; but it raises that threshold to
the size of each such block freed (up to 32 MiB), so after one 1.2 MB message every later
buffer up to 1.2 MB is cut from the heap arenas instead. Those arenas (one per thread that
allocates: the event loop, the simulation, the recorder, the command pool) keep much of what
is freed in them, more after each new peak of large buffers: over a 10-minute soak
(``bench/soak.py --probe``, after its first minute) they held 20-25 MB of which 6-11 MB free,
for 13.5-15 MB in use. With the threshold pinned: 17-19 MB, of which 3-6 MB free.

``pin_mmap_threshold`` sets the threshold once (which also stops glibc moving it), so every
buffer over it is mapped and unmapped on its own and leaves nothing behind. The cost is a
``mmap``/``munmap`` pair per large buffer (tens of microseconds); buffers of the frames of
systems under ~10,000 atoms stay under the threshold. Elsewhere than glibc it does nothing.

    pin_mmap_threshold()   # at the start of `costeer serve`, before any large buffer
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["pin_mmap_threshold", "MMAP_THRESHOLD_BYTES", "M_MMAP_THRESHOLD"]

MMAP_THRESHOLD_BYTES = 128 * 1024
"""Blocks at least this large get their own mapping (glibc's own starting value)."""
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number for the threshold (``malloc.h``)."""

_log = logging.getLogger(__name__)


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve blocks of ``threshold`` bytes and more with their own mapping from now on, and keep
    glibc from raising the threshold; whether it was set (``False`` without glibc's ``mallopt``)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be a positive number of bytes, got {threshold}")
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        _log.debug("no mallopt here (not glibc): the malloc threshold is left as it is")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1
