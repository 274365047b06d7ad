"""The legacy Narupa / NanoVer gRPC transport (``costeer serve --grpc-port``): see ``server``.

Importing this package needs nothing beyond costeer; ``server`` needs the grpc extra.
"""

__all__ = ["DEFAULT_PORT"]

DEFAULT_PORT = 38802
"""The legacy apps' own default, 38801, is the WebSocket's now; discovery tells them this one."""
