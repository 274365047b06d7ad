"""The server side: frame hub, shared state, commands, transports, discovery and wiring.

``CosteerServer`` (in :mod:`costeer.server.app`) puts them together around a simulation
runner; the pieces are usable on their own.
"""
