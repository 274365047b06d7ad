"""A connection's command replies: queued from any thread, bounded, in order."""

from __future__ import annotations

import asyncio
import threading

import msgpack

from costeer.server.replies import CommandReplies


def test_replies_from_another_thread_arrive_in_order_and_wake_the_sender():
    async def scenario() -> list[dict]:
        wake = asyncio.Event()
        replies = CommandReplies(wake, on_overflow=lambda waiting: None)
        sender = threading.Thread(target=lambda: [replies.put({"request": {"id": n}}) for n in range(3)])
        sender.start()
        sender.join()
        await asyncio.wait_for(wake.wait(), 1.0)
        await asyncio.sleep(0)  # the three callbacks ran
        return [msgpack.unpackb(data)["command"] for data in iter(replies.take, None)]

    assert asyncio.run(scenario()) == [{"request": {"id": n}} for n in range(3)]


def test_a_peer_that_reads_nothing_cannot_grow_the_queue_past_its_limit():
    overflows: list[int] = []

    async def scenario() -> int:
        replies = CommandReplies(asyncio.Event(), on_overflow=overflows.append, limit=4)
        for n in range(6):
            replies.put({"response": n})
        await asyncio.sleep(0)
        return sum(1 for _ in iter(replies.take, None))

    assert asyncio.run(scenario()) == 4
    assert overflows == [4, 4]


def test_a_reply_after_the_loop_closed_is_dropped_quietly():
    async def make() -> CommandReplies:
        return CommandReplies(asyncio.Event(), on_overflow=lambda waiting: None)

    replies = asyncio.run(make())
    replies.put({"response": "late"})  # the connection has gone: nothing to send it on
