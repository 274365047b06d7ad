"""``MqttLink``: hands messages to an MQTT broker from a thread of its own, never blocking the sender.

``send`` only appends to a bounded queue: when the queue is full the oldest message is
dropped (and counted), so a broker that is absent, restarting or not reading costs the
sender nothing but those messages. The link's thread runs an asyncio loop with an aiomqtt
client: it connects, publishes what is queued (QoS 0, up to ``BATCH`` at once, each within
``publish_timeout``), and after any failure reconnects with exponential backoff
(``min_backoff`` doubling to ``max_backoff``). A message whose publishing failed goes back
to the head of the queue, so a broker restart loses only what overflowed the queue (and
what was written to the dying connection).

    link = MqttLink("127.0.0.1", 1883, capacity=1000)
    link.start()
    link.send("costeer/lab/metrics", b'{"kind": "metrics", ...}')
    link.close()   # delivers what is queued if it can within ``flush_timeout``
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from typing import Any

__all__ = ["MqttLink", "DEFAULT_CAPACITY", "parse_broker"]

DEFAULT_CAPACITY = 1000
"""Messages held while the broker is away: a few seconds of a busy session's events."""
BATCH = 10
"""Messages published at once (QoS 0 needs no acknowledgement, only the socket write); aiomqtt
warns of more than 10 pending calls."""

_log = logging.getLogger(__name__)


def parse_broker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[IPv6]:PORT``; bare ``HOST`` means port 1883) as (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):  # no port, or a bare IPv6 address
        host, port_text = text, "1883"
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not host or not 0 < port < 65536:
        raise ValueError(f"--mqtt expects HOST:PORT of an MQTT broker (e.g. 127.0.0.1:1883), got {text!r}")
    return host, port


class MqttLink:
    """A non-blocking, reconnecting MQTT publisher with a bounded drop-oldest queue.

        link = MqttLink("127.0.0.1", 1883); link.start(); link.send(topic, payload); link.close()
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        capacity: int = DEFAULT_CAPACITY,
        connect_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        min_backoff: float = 0.2,
        max_backoff: float = 5.0,
        client_id: str | None = None,
    ) -> None:
        try:
            import aiomqtt  # noqa: F401  (used in the link's thread; checked here to fail at start-up)
        except ImportError:
            raise ImportError("events over MQTT need aiomqtt: pip install 'costeer[events]' (or aiomqtt)") from None
        if capacity < 1:
            raise ValueError(f"the MQTT queue needs room for at least 1 message, got capacity {capacity}")
        self.host = host
        self.port = port
        self.capacity = capacity
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._client_id = client_id
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, bytes]] = deque()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._main: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._stopping = False
        self.dropped = 0
        """Messages dropped because the queue was full (oldest first)."""
        self.sent = 0
        """Messages handed to the broker."""
        self.connected = False
        """Whether the link is connected to the broker now."""
        self.connections = 0
        """Successful connections so far (1 + reconnections)."""

    @property
    def queued(self) -> int:
        """Messages waiting to be published."""
        return len(self._queue)

    def start(self) -> None:
        """Start the link's thread; connecting happens there (a missing broker is retried)."""
        if self._thread is not None:
            raise RuntimeError("this MQTT link was already started")
        self._thread = threading.Thread(target=self._run, name="costeer-mqtt", daemon=True)
        self._thread.start()
        self._ready.wait()

    def send(self, topic: str, payload: bytes) -> None:
        """Queue one message; never blocks. When the queue is full the oldest message is dropped."""
        with self._lock:
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
            was_empty = not self._queue
            self._queue.append((topic, payload))
        if was_empty:  # otherwise the link's thread is taking messages already, or waiting for the broker
            self._poke()

    def close(self, *, flush_timeout: float = 2.0) -> None:
        """Publish what is queued (for at most ``flush_timeout`` s if connected), then stop; idempotent."""
        thread = self._thread
        if thread is None or self._stopping:
            return
        self._stopping = True
        self._poke()
        thread.join(flush_timeout)
        loop, main = self._loop, self._main
        if thread.is_alive() and loop is not None and main is not None:
            try:
                loop.call_soon_threadsafe(main.cancel)
            except RuntimeError:  # the loop has just closed
                pass
            thread.join(5.0)

    # ---- the link's thread ------------------------------------------------------------------

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop is closed: the link has stopped
            pass

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except asyncio.CancelledError:
            pass
        except Exception:
            _log.exception("the MQTT link to %s:%d failed; events are no longer published", self.host, self.port)
        finally:
            self.connected = False
            self._ready.set()

    async def _serve(self) -> None:
        import aiomqtt

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._main = asyncio.current_task()
        self._ready.set()
        backoff = self._min_backoff
        failures = 0
        while not self._stopping:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, identifier=self._client_id, timeout=self._connect_timeout
                ) as client:
                    self.connected, backoff, failures = True, self._min_backoff, 0
                    self.connections += 1
                    _log.info("MQTT: connected to %s:%d", self.host, self.port)
                    await self._pump(client)
                    return
            except (aiomqtt.MqttError, OSError) as error:
                failures += 1
                log = _log.warning if failures == 1 else _log.debug  # one line per outage, not per retry
                log("MQTT: no broker at %s:%d (%s); retrying with backoff up to %gs", self.host, self.port, error, self._max_backoff)
            finally:
                self.connected = False
            if self._stopping:
                return
            await self._sleep(backoff)
            backoff = min(2 * backoff, self._max_backoff)

    async def _pump(self, client: Any) -> None:
        """Publish queued messages (up to ``BATCH`` at once) until stopping with nothing left;
        raises when the broker fails, with the unpublished messages back at the head of the queue."""
        assert self._wake is not None
        while True:
            self._wake.clear()
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            if not batch:
                if self._stopping:
                    return
                await self._wake.wait()
                continue
            try:
                outcomes = await asyncio.gather(
                    *(client.publish(topic, payload, qos=0, timeout=self._publish_timeout) for topic, payload in batch),
                    return_exceptions=True,
                )
            except BaseException:  # cancelled (closing): nothing is known to have gone
                self._requeue(batch)
                raise
            failed = [message for message, outcome in zip(batch, outcomes) if isinstance(outcome, BaseException)]
            self.sent += len(batch) - len(failed)
            if failed:
                self._requeue(failed)
                raise next(outcome for outcome in outcomes if isinstance(outcome, BaseException))

    def _requeue(self, messages: list[tuple[str, bytes]]) -> None:
        """Put messages back at the head of the queue, in order, as far as there is room."""
        with self._lock:
            room = self.capacity - len(self._queue)
            kept = messages[-room:] if room > 0 else []
            self.dropped += len(messages) - len(kept)
            self._queue.extendleft(reversed(kept))

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when ``close`` is called."""
        assert self._wake is not None
        self._wake.clear()
        if self._stopping:
            return
        try:
            await asyncio.wait_for(self._wait_for_stop(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _wait_for_stop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
