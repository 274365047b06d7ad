"""LoopThread: listens on its own loop, says which option to change when the port is taken, stops once."""

from __future__ import annotations

import asyncio
import socket

import pytest

from costeer.server.loop_thread import LoopThread


async def _ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def test_a_taken_port_names_the_address_and_the_option_and_stops_the_loop() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        loop_thread = LoopThread("test-listener")
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port} .*choose another --test-port"):
            loop_thread.listen(lambda: asyncio.start_server(_ignore, "127.0.0.1", port),
                               where=f"on 127.0.0.1:{port}", option="--test-port")
        assert loop_thread.loop is None


def test_it_serves_then_shuts_down_and_a_second_stop_does_nothing() -> None:
    loop_thread = LoopThread("test-listener")
    server = loop_thread.listen(lambda: asyncio.start_server(_ignore, "127.0.0.1", 0), where="here", option="--port")
    port = server.sockets[0].getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    shut: list[bool] = []

    async def shutdown() -> None:
        server.close()
        shut.append(True)

    loop_thread.stop(shutdown, what="the test connections", timeout=5)
    loop_thread.stop(shutdown, what="the test connections", timeout=5)
    assert shut == [True] and loop_thread.loop is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
