"""costeer: human-AI co-steering of molecular simulations.

A NanoVer-compatible interactive molecular dynamics server on OpenMM that records every
session, learns policies from demonstrations and runs a co-pilot beside the people in VR.
The data path: ``engine`` (OpenMM thread, frames) -> ``server`` (shared state, hub,
transports) -> ``recording``; ``tasks`` describe what people do.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
