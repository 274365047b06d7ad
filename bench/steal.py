"""CPU time the host took from this virtual machine while a window ran: the kernel's ``steal`` count.

On a shared VM the hypervisor runs other guests on our cores now and then; a window it took
0.1 of a core from measures the host, not the server. Each bench window can carry this figure
so that a noisy pair can be told from a real cost.

    before = steal_seconds(); ...; cores = (steal_seconds() - before) / wall_seconds
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["steal_seconds"]

_STAT = Path("/proc/stat")
_STEAL_FIELD = 8
"""Position of ``steal`` on /proc/stat's ``cpu`` line (after the label: user nice system idle iowait irq softirq steal)."""


def steal_seconds(stat: Path = _STAT) -> float | None:
    """CPU seconds stolen from all of this machine's cores since boot; ``None`` where the kernel does not say (not Linux)."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if len(fields) <= _STEAL_FIELD or fields[0] != "cpu":
        return None
    return int(fields[_STEAL_FIELD]) / os.sysconf("SC_CLK_TCK")
