"""MqttLink against a real mosquitto: delivery, a broker absent at start or restarted, one that hangs."""

from __future__ import annotations

import json
import time

import pytest

from costeer.events.mqtt import MqttLink, parse_broker
from tests.waiting import wait_until


def _message(n: int) -> bytes:
    return json.dumps({"kind": "metrics", "n": n}).encode()


def test_messages_reach_the_broker_in_order(mosquitto, mqtt_log):
    log = mqtt_log(mosquitto.port)
    link = MqttLink("127.0.0.1", mosquitto.port)
    link.start()
    try:
        for n in range(200):
            link.send("costeer/test/metrics", _message(n))
        log.wait_for(lambda m: m.payload["n"] == 199)
    finally:
        link.close()
    assert [m.payload["n"] for m in log.messages] == list(range(200))
    assert link.sent == 200 and link.dropped == 0 and link.connections == 1


def test_a_broker_absent_at_start_gets_the_queue_once_it_comes(stopped_mosquitto):
    link = MqttLink("127.0.0.1", stopped_mosquitto.port, capacity=50, min_backoff=0.05, max_backoff=0.2)
    link.start()
    try:
        for n in range(80):  # nobody to take them: the oldest 30 go
            link.send("costeer/test/metrics", _message(n))
        assert link.dropped == 30 and link.queued == 50 and not link.connected
        stopped_mosquitto.start()
        wait_until(lambda: link.sent == 50, timeout=20.0)
        assert link.connected and link.dropped == 30
    finally:
        link.close()


def test_a_restarted_broker_gets_the_messages_sent_after_it_is_back(mosquitto, mqtt_log):
    link = MqttLink("127.0.0.1", mosquitto.port, min_backoff=0.05, max_backoff=0.2)
    link.start()
    try:
        log = mqtt_log(mosquitto.port)
        link.send("costeer/test/metrics", _message(0))
        log.wait_for(lambda m: m.payload["n"] == 0)
        mosquitto.stop()
        for n in range(1, 6):  # some of these may be written to the dying connection; the later ones wait
            link.send("costeer/test/metrics", _message(n))
            time.sleep(0.05)
        mosquitto.start()
        wait_until(lambda: link.connections >= 2 and log.subscriptions >= 2, timeout=20.0)
        for n in range(100, 110):
            link.send("costeer/test/metrics", _message(n))
        log.wait_for(lambda m: m.payload["n"] == 109)
    finally:
        link.close()
    assert link.connected is False


def test_a_broker_that_never_answers_costs_the_sender_nothing_but_the_dropped(black_hole):
    link = MqttLink("127.0.0.1", black_hole.port, capacity=100, connect_timeout=30)
    link.start()
    try:
        started = time.perf_counter()
        for n in range(20_000):
            link.send("costeer/test/metrics", _message(n))
        per_send = (time.perf_counter() - started) / 20_000
        assert link.dropped == 19_900 and link.queued == 100 and link.sent == 0
        assert per_send < 1e-3  # microseconds in practice: never a wait for the broker
    finally:
        started = time.monotonic()
        link.close(flush_timeout=0.5)
        assert time.monotonic() - started < 10  # even mid-connect


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:1883", ("127.0.0.1", 1883)), ("broker", ("broker", 1883)), ("[::1]:1884", ("::1", 1884))],
)
def test_broker_addresses(text, expected):
    assert parse_broker(text) == expected


@pytest.mark.parametrize("text", ["host:port", "host:0", ":1883", "host:70000"])
def test_bad_broker_addresses_say_what_is_expected(text):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_broker(text)
