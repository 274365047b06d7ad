"""Command-line entry points (``costeer serve``, ``export``, ``record``, ``recording``, ``demo``)."""
