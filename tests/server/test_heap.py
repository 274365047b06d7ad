"""``pin_mmap_threshold``: a large buffer is mapped on its own even after a larger one was freed."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

from costeer.server.heap import pin_mmap_threshold

_PROBE = """
import ctypes, ctypes.util, sys
from costeer.server.heap import pin_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "pinned":
    assert pin_mmap_threshold()
message = bytearray(1_200_000)   # a client's 1.2 MB value, read and freed
del message
before = mallinfo2().hblks
encoded = bytearray(300_000)     # a later state message of 300 kB
print(mallinfo2().hblks - before)
"""


def _has_mallinfo2() -> bool:
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
    except (OSError, AttributeError):
        return False
    return True


def _own_mappings_for_a_later_buffer(mode: str) -> int:
    """Mapped blocks a 300 kB buffer adds after a 1.2 MB one was freed, in a fresh process."""
    result = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not _has_mallinfo2(), reason="needs glibc's mallinfo2 (glibc 2.33+)")
def test_a_large_buffer_after_a_larger_one_is_mapped_on_its_own_and_so_given_back_when_freed():
    assert _own_mappings_for_a_later_buffer("glibc's default") == 0  # the threshold rose to 1.2 MB: the heap keeps it
    assert _own_mappings_for_a_later_buffer("pinned") == 1


def test_a_threshold_that_is_not_a_positive_size_is_refused():
    with pytest.raises(ValueError, match="positive number of bytes"):
        pin_mmap_threshold(0)
