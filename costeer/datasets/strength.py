"""Which force law made a recording's user forces: the factor that turns its ``scale`` into a strength.

costeer (and NanoVer since 2025) pulls the grabbed atoms' centre with ``scale * f(d)``; older
NanoVer servers, which recorded the human sessions, multiplied a mass-weighted pull by the
grabbed mass as well (``scale * mass * f(d)``). The recorded ``forces.user.sparse`` says
which: its magnitude over ``scale * |f(d)|`` is 1 or the grabbed mass. The strength of an
action (:data:`costeer.tasks.encoding.ACTION_NAMES`) is ``scale`` times that factor, so the
same pull means the same number whichever server recorded it.

    ratio = measure_force_ratio(demo, selection, masses)           # median, e.g. 11.94 or 1.0
    factor = snap_strength_factor(ratio, grabbed_mass=12.011)           # snapped: 12.011 or 1.0
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from costeer.core.interaction import Interaction
from costeer.datasets.demonstrations import Demonstration
from costeer.tasks.encoding import acting_interaction, grabbed_centres
from costeer.tasks.task import AtomSelection

__all__ = ["MIN_STEPS", "measure_force_ratio", "snap_strength_factor"]

MIN_STEPS = 5
"""Fewest usable steps (one pull, a recorded force, not at its cap) to measure a ratio from."""
TOLERANCE = 1.25
"""A measured ratio further than this factor from both laws is reported in a warning."""
_CAPPED = 0.99
"""A force at or above this share of its cap may have been cut short: not used."""


def measure_force_ratio(demo: Demonstration, selection: AtomSelection, masses: np.ndarray) -> float | None:
    """Median of ``|recorded force on the grabbed atoms| / (scale * |f(d)|)`` over usable steps.

    Usable: exactly one live interaction, which pulls the grabbed atoms with a positive
    scale, a recorded non-zero force below its cap. ``None`` with fewer than :data:`MIN_STEPS`.
    """
    ratios = []
    for frame in demo.frames:
        interaction = acting_interaction(frame.interactions, selection.grabbed)
        if interaction is None or len(frame.interactions) != 1 or not interaction.scale > 0:
            continue
        on_grabbed = np.isin(frame.user_force_index, selection.grabbed)
        force = float(np.linalg.norm(frame.user_force[on_grabbed].sum(axis=0, dtype=np.float64)))
        centre = grabbed_centres(frame.positions, selection.grabbed, masses)
        unit = _unit_force(interaction, float(np.linalg.norm(interaction.position - centre)))
        if force > 0 and unit > 0 and force < _CAPPED * interaction.max_force:
            ratios.append(force / (interaction.scale * unit))
    return float(np.median(ratios)) if len(ratios) >= MIN_STEPS else None


def snap_strength_factor(ratio: float, *, grabbed_mass: float, source: str = "") -> float:
    """The force law ``ratio`` shows: 1 (no mass multiplier) or ``grabbed_mass``, whichever is nearer.

    Nearer on a log scale; a ratio far from both (a capped server, another potential) is
    snapped all the same, with a warning that names ``source``.
    """
    laws = (1.0, float(grabbed_mass))
    chosen = min(laws, key=lambda law: abs(math.log(ratio / law)))
    if abs(math.log(ratio / chosen)) > math.log(TOLERANCE):
        warnings.warn(
            f"{source}: recorded user forces are {ratio:.3g} x scale x f(d), neither 1 (costeer) nor the grabbed "
            f"mass {grabbed_mass:.4g} (older NanoVer); taking {chosen:g}: check the actions' strength",
            stacklevel=2,
        )
    return chosen


def _unit_force(interaction: Interaction, distance: float) -> float:
    """``|f(d)|`` of the interaction's potential at ``distance`` nm (see :mod:`costeer.engine.imd`)."""
    if interaction.interaction_type == "spring":
        return 2.0 * distance
    if interaction.interaction_type == "gaussian":
        return distance * math.exp(-distance * distance / 2.0)
    return 1.0 if distance > 0 else 0.0
