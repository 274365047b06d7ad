"""Command registry and the per-client command protocol (NanoVer's message shapes)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import msgpack
import pytest

from costeer.server.commands import (
    MAX_CLIENT_COMMANDS,
    MAX_COMMANDS_PER_CLIENT,
    MAX_PENDING_FORWARDS,
    MAX_REGISTRATION_BYTES,
    CommandChannel,
    CommandError,
    CommandRegistry,
)
from tests.waiting import wait_until


def test_list_has_nanovers_shape():
    registry = CommandRegistry()
    registry.register("playback/load", lambda index=0: None, arguments={"index": 0}, label="Load")
    listing = registry.run("commands/list").result()
    assert listing["list"] == {"commands/list": {}, "playback/load": {"index": 0}}
    assert listing["commands"] == [
        {"name": "commands/list", "arguments": {}},
        {"name": "playback/load", "label": "Load", "arguments": {"index": 0}},
    ]


def test_arguments_merge_over_defaults():
    registry = CommandRegistry()
    registry.register("add", lambda a, b: a + b, arguments={"a": 1, "b": 2})
    assert registry.run("add", {"b": 10}).result() == 11


def test_unknown_command_names_it_and_lists_known_ones():
    registry = CommandRegistry()
    registry.register("playback/play", lambda: None)
    with pytest.raises(CommandError, match=r"unknown command 'nope'; known commands: commands/list, playback/play"):
        registry.run("nope").result()


def test_bad_arguments_say_what_the_command_takes():
    registry = CommandRegistry()
    registry.register("playback/load", lambda index: index)
    with pytest.raises(CommandError, match=r"'playback/load' got unsuitable arguments .*it takes: index"):
        registry.run("playback/load", {"wrong": 1}).result()


def test_failing_handler_becomes_an_error_message():
    registry = CommandRegistry()
    registry.register("boom", lambda: 1 / 0)
    with pytest.raises(CommandError, match="command 'boom' failed: ZeroDivisionError"):
        registry.run("boom").result()


def test_channel_replies_with_response_or_exception():
    registry = CommandRegistry()
    registry.register("echo", lambda value=None: {"value": value})
    sent = []
    channel = CommandChannel(registry, send=sent.append, client="c1")
    request = {"name": "echo", "arguments": {"value": 3}, "id": 7}
    channel.handle({"request": request})
    channel.handle({"request": {"name": "missing", "arguments": {}, "id": 8}})
    assert sent[0] == {"request": request, "response": {"value": 3}}
    assert sent[1]["request"]["id"] == 8 and "unknown command 'missing'" in sent[1]["exception"]


def test_channel_runs_requests_in_order_on_an_executor():
    registry = CommandRegistry()
    order = []
    registry.register("note", lambda n: order.append(n))
    sent = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        channel = CommandChannel(registry, send=sent.append, client="c1", executor=executor)
        for n in range(20):
            channel.handle({"request": {"name": "note", "arguments": {"n": n}, "id": n}})
    assert order == list(range(20)) and len(sent) == 20


def test_unsendable_response_becomes_an_exception():
    registry = CommandRegistry()
    registry.register("odd", lambda: object())
    sent = []

    def send(message):
        if "response" in message and isinstance(message["response"], object) and not isinstance(message["response"], dict):
            raise TypeError("cannot send an object in a message")
        sent.append(message)

    CommandChannel(registry, send=send, client="c1").handle({"request": {"name": "odd", "id": 1}})
    assert sent == [{"request": {"name": "odd", "id": 1}, "exception": "cannot send an object in a message"}]


def test_client_registered_command_is_forwarded_and_answered():
    registry = CommandRegistry()
    provider_sent, caller_sent = [], []
    provider = CommandChannel(registry, send=provider_sent.append, client="provider")
    caller = CommandChannel(registry, send=caller_sent.append, client="caller")
    provider.handle({"register": {"name": "custom/hello", "arguments": {"who": "x"}, "label": None, "icon": None}})
    assert registry.run("commands/list").result()["list"]["custom/hello"] == {"who": "x"}

    caller.handle({"request": {"name": "custom/hello", "arguments": {"who": "you"}, "id": 1}})
    forwarded = provider_sent[0]["request"]
    assert forwarded["name"] == "custom/hello" and forwarded["arguments"] == {"who": "you"}
    assert caller_sent == []
    provider.handle({"request": forwarded, "response": {"greeting": "hi you"}})
    assert caller_sent == [{"request": {"name": "custom/hello", "arguments": {"who": "you"}, "id": 1},
                            "response": {"greeting": "hi you"}}]


def test_provider_exception_and_disconnect_reach_the_caller():
    registry = CommandRegistry()
    provider_sent, caller_sent = [], []
    provider = CommandChannel(registry, send=provider_sent.append, client="provider")
    caller = CommandChannel(registry, send=caller_sent.append, client="caller")
    provider.handle({"register": {"name": "custom/x"}})
    caller.handle({"request": {"name": "custom/x", "arguments": {}, "id": 1}})
    provider.handle({"request": provider_sent[0]["request"], "exception": "nope"})
    assert caller_sent[0]["exception"] == "nope"

    caller.handle({"request": {"name": "custom/x", "arguments": {}, "id": 2}})
    provider.close()
    assert "disconnected" in caller_sent[1]["exception"]
    assert "custom/x" not in registry.names


def test_client_cannot_take_over_a_server_command():
    registry = CommandRegistry()
    registry.register("playback/play", lambda: "server")
    CommandChannel(registry, send=lambda m: None, client="c").handle({"register": {"name": "playback/play"}})
    assert registry.run("playback/play").result() == "server"


def test_reply_to_unknown_request_is_ignored():
    registry = CommandRegistry()
    channel = CommandChannel(registry, send=lambda m: None, client="c")
    channel.handle({"request": {"id": 99}, "response": 1})


def test_handler_may_return_a_future():
    registry = CommandRegistry()
    future: Future = Future()
    registry.register("later", lambda: future)
    result = registry.run("later")
    future.set_result(5)
    assert result.result() == 5


def test_a_request_to_a_client_that_never_answers_fails_after_the_timeout():
    registry = CommandRegistry()
    provider_sent, caller_sent = [], []
    provider = CommandChannel(registry, send=provider_sent.append, client="provider", forward_timeout=0.2)
    caller = CommandChannel(registry, send=caller_sent.append, client="caller")
    provider.handle({"register": {"name": "custom/silent"}})
    caller.handle({"request": {"name": "custom/silent", "arguments": {}, "id": 1}})
    wait_until(lambda: caller_sent, timeout=5)
    assert caller_sent == [{"request": {"name": "custom/silent", "arguments": {}, "id": 1},
                            "exception": "the client providing 'custom/silent' did not answer within 0.2 s"}]
    provider.handle({"request": provider_sent[0]["request"], "response": "too late"})  # ignored
    assert len(caller_sent) == 1


def test_a_client_that_leaves_requests_unanswered_gets_no_more_until_it_answers():
    registry = CommandRegistry()
    caller_sent = []
    provider = CommandChannel(registry, send=lambda message: None, client="provider")
    caller = CommandChannel(registry, send=caller_sent.append, client="caller")
    provider.handle({"register": {"name": "custom/slow"}})
    for number in range(MAX_PENDING_FORWARDS + 1):
        caller.handle({"request": {"name": "custom/slow", "arguments": {}, "id": number}})
    assert caller_sent == [{"request": {"name": "custom/slow", "arguments": {}, "id": MAX_PENDING_FORWARDS},
                            "exception": f"the client providing 'custom/slow' has {MAX_PENDING_FORWARDS} requests "
                                         "unanswered: try again later"}]
    provider.close()
    assert len(caller_sent) == MAX_PENDING_FORWARDS + 1, "the rest fail when it leaves"


def test_what_clients_provide_is_bounded_so_the_command_list_fits_one_message(caplog):
    registry = CommandRegistry()
    channels = [CommandChannel(registry, send=lambda message: None, client=f"c{number}") for number in range(10)]
    for number in range(MAX_COMMANDS_PER_CLIENT + 1):
        channels[0].handle({"register": {"name": f"c0/{number}"}})
    assert f"c0/{MAX_COMMANDS_PER_CLIENT}" not in registry.names
    assert f"provides {MAX_COMMANDS_PER_CLIENT} commands already" in caplog.text
    channels[0].handle({"register": {"name": "c0/0", "label": "again"}})  # replacing its own is fine
    assert registry.get("c0/0").label == "again"
    channels[1].handle({"register": {"name": "c1/huge", "arguments": {"pad": "x" * MAX_REGISTRATION_BYTES}}})
    assert "c1/huge" not in registry.names and "give shorter default arguments" in caplog.text
    for size in range(5):  # refusals that differ only in their figures are logged once per client
        channels[1].handle({"register": {"name": f"c1/huge{size}", "arguments": {"pad": "x" * (MAX_REGISTRATION_BYTES + size)}}})
    assert caplog.text.count("c1 tried to register") == 1
    for name, channel in zip([f"c{number}" for number in range(1, 10)], channels[1:]):
        for number in range(MAX_COMMANDS_PER_CLIENT):
            channel.handle({"register": {"name": f"{name}/{number}", "arguments": {"pad": "x" * 1900}}})
    client_commands = [name for name in registry.names if registry.get(name).owner is not None]
    assert len(client_commands) == MAX_CLIENT_COMMANDS
    assert len(msgpack.packb(registry.run("commands/list").result())) < 1024 * 1024
