"""Events over MQTT: what happens in a running server (clients, interactions, the co-pilot, the
task, the recording, metrics) published as JSON on ``costeer/<server name>/<kind>``.

Only the CLI imports this package (``costeer serve --mqtt HOST:PORT``); it imports the server,
never the other way round. The payloads are documented by ``schema.json`` (``SCHEMA_PATH``).

    events = ServerEvents(server, broker=parse_broker("127.0.0.1:1883"), task=task)
    events.start(); server.start(); ...; server.close(); events.close()
"""

from .mqtt import MqttLink, parse_broker
from .publisher import EVENT_KINDS, SCHEMA_PATH, ServerEvents
from .state_events import StateEvents
from .task_events import TaskWatch
from .throttle import Throttle

__all__ = ["EVENT_KINDS", "MqttLink", "SCHEMA_PATH", "ServerEvents", "StateEvents", "TaskWatch", "Throttle", "parse_broker"]
