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


def test_a_connection_handler_that_began_during_shutdown_is_cancelled_and_cleans_up_on_the_live_loop() -> None:
    """A connection accepted as the server closes has its handler scheduled after ``shutdown``
    took stock of the connections; it must still end (its ``finally`` on a running loop), not be
    left pending when the loop closes (it then raised "Event loop is closed" when collected)."""
    loop_thread = LoopThread("test-listener")
    loop_thread.listen(lambda: asyncio.start_server(_ignore, "127.0.0.1", 0), where="here", option="--port")
    ended: list[str] = []

    async def handler() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            loop = asyncio.get_running_loop()
            ended.append("closed loop" if loop.is_closed() else "live loop")

    async def shutdown() -> None:
        asyncio.get_running_loop().create_task(handler())  # as start_server does for a late connection

    loop_thread.stop(shutdown, what="the test connections", timeout=5)
    assert ended == ["live loop"]
