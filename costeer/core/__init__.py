"""Plain data shared by every layer: frame and state keys, frame packing, interactions.

Nothing in ``costeer.core`` imports from the rest of ``costeer``.
"""
