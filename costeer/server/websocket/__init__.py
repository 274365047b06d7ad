"""NanoVer's WebSocket + msgpack transport: a sans-I/O codec and a thin asyncio server."""
