"""The legacy Narupa / NanoVer gRPC transport (``costeer serve --grpc-port``): see ``server``."""
