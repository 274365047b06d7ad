"""Our .proto files, as generated, against the tables of ../shared/protocols/grpc-legacy.md.

The tables and service lines are parsed from the markdown at test time, so these tests follow
the facts file: every message, field name, number and type, and every service and method
(request, response, streaming), in both namespaces, with nothing extra.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

from google.protobuf.descriptor import FieldDescriptor  # noqa: E402

from costeer.server.grpc.generate import GENERATED_DIR, NAMESPACES, generate, protocol  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
FACTS = REPO / ".." / "shared" / "protocols" / "grpc-legacy.md"

_SCALARS = {
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BOOL: "bool",
}


def _sections() -> dict[str, str]:
    """Package suffix ("", "trajectory", ...) -> that section's text."""
    text = FACTS.read_text()
    sections = {}
    for match in re.finditer(r"^## .*?package `<ns>\.protocol(?:\.(\w+))?`.*?$(.*?)(?=^## |\Z)", text, re.M | re.S):
        sections[match.group(1) or ""] = match.group(2)
    return sections


def _documented_fields(namespace: str) -> dict[str, dict[str, tuple[str, int | None, str | None]]]:
    """Full message name -> field name -> (type as written, number, oneof)."""
    messages: dict[str, dict[str, tuple[str, int | None, str | None]]] = {}
    for suffix, body in _sections().items():
        package = f"{namespace}.protocol" + (f".{suffix}" if suffix else "")
        message = None
        for line in body.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not line.startswith("|") or len(cells) != 4 or cells[0] == "message" or set(cells[0]) <= {"-"} and cells[0]:
                continue
            if cells[0]:
                message = f"{package}.{cells[0]}"
                messages.setdefault(message, {})
            field, kind, number = cells[1], cells[2], cells[3]
            if field == "(empty)":
                continue
            oneof = None
            if field.startswith("oneof "):
                oneof, field = (part.strip() for part in field[len("oneof "):].split(":"))
            elif message and any(value[2] for value in messages[message].values()) and field:
                oneof = next(value[2] for value in messages[message].values() if value[2])
            kind = re.sub(r"\s*\(.*\)$", "", kind).replace("<ns>", namespace)
            assert message is not None
            messages[message][field] = (_qualified(kind, package), int(number), oneof)
    return messages


def _qualified(kind: str, package: str) -> str:
    """A documented type with message names made full (``FrameData`` -> ``<pkg>.FrameData``)."""
    def qualify(name: str) -> str:
        if name in _SCALARS.values() or "." in name:
            return name
        return f"{package}.{name}"

    if kind.startswith("map<"):
        key, value = (part.strip() for part in kind[4:-1].split(","))
        return f"map<{key}, {qualify(value)}>"
    if kind.startswith("repeated "):
        return "repeated " + qualify(kind[len("repeated "):])
    return qualify(kind)


def _documented_services(namespace: str) -> dict[str, dict[str, tuple[str, str, bool]]]:
    """Full service name -> method -> (full request type, full response type, server streaming)."""
    services: dict[str, dict[str, tuple[str, str, bool]]] = {}
    signature = r"`(\w+)\((\w+)\)\s+returns\s+\((stream\s+)?(\w+)\)`"
    for suffix, body in _sections().items():
        package = f"{namespace}.protocol" + (f".{suffix}" if suffix else "")
        service = re.search(r"service `(\w+)`", body)
        if service is None:
            continue
        methods = services.setdefault(f"{package}.{service.group(1)}", {})
        for chunk in re.split(r"\n- |\n\n", body[service.end():]):
            if "Narupa only" in chunk and namespace != "narupa":
                continue
            for name, request, stream, response in re.findall(signature, chunk):
                methods[name] = (f"{package}.{request}", f"{package}.{response}", bool(stream))
    return services


def _field_type(field: FieldDescriptor) -> str:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        return f"map<{_field_type(key)}, {_field_type(value)}>"
    base = message.full_name if message is not None else _SCALARS[field.type]
    repeated = field.is_repeated
    return f"repeated {base}" if repeated else base


def _our_messages(namespace: str) -> dict[str, dict[str, tuple[str, int, str | None]]]:
    modules = protocol(namespace)
    messages = {}
    for module in (modules.array, modules.trajectory, modules.state, modules.command):
        for message in module.DESCRIPTOR.message_types_by_name.values():
            messages[message.full_name] = {
                field.name: (
                    _field_type(field),
                    field.number,
                    field.containing_oneof.name if field.containing_oneof is not None else None,
                )
                for field in message.fields
            }
    return messages


def _our_services(namespace: str) -> dict[str, dict[str, tuple[str, str, bool]]]:
    modules = protocol(namespace)
    services = {}
    for module in (modules.trajectory, modules.state, modules.command):
        for service in module.DESCRIPTOR.services_by_name.values():
            services[service.full_name] = {
                method.name: (method.input_type.full_name, method.output_type.full_name, method.server_streaming)
                for method in service.methods
            }
            assert not any(method.client_streaming for method in service.methods)
    return services


def test_the_facts_file_parses_into_every_table_and_service() -> None:
    messages = _documented_fields("nanover")
    assert len(messages) == 17
    assert messages["nanover.protocol.ValueArray"]["index_values"] == ("nanover.protocol.IndexArray", 2, "values")
    assert messages["nanover.protocol.trajectory.FrameData"]["arrays"] == (
        "map<string, nanover.protocol.ValueArray>", 2, None
    )
    services = _documented_services("narupa")
    assert set(services["narupa.protocol.trajectory.TrajectoryService"]) == {
        "SubscribeFrames", "SubscribeLatestFrames", "GetFrames", "GetFrame"
    }
    assert services["narupa.protocol.state.State"]["SubscribeStateUpdates"] == (
        "narupa.protocol.state.SubscribeStateUpdatesRequest", "narupa.protocol.state.StateUpdate", True
    )
    assert len(_documented_services("nanover")["nanover.protocol.trajectory.TrajectoryService"]) == 2


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_messages_match_the_facts_file(namespace: str) -> None:
    assert _our_messages(namespace) == _documented_fields(namespace)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_services_match_the_facts_file(namespace: str) -> None:
    assert _our_services(namespace) == _documented_services(namespace)


def test_a_changed_proto_is_regenerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamp follows the .proto files: stale stubs are replaced on the next use."""
    protocol("nanover")
    (GENERATED_DIR / "STAMP").write_text("stale")
    (GENERATED_DIR / "nanover" / "protocol" / "marker").write_text("from the stale stubs")
    protocol("nanover")
    assert not (GENERATED_DIR / "nanover" / "protocol" / "marker").exists()
    assert (GENERATED_DIR / "STAMP").read_text() != "stale"
    assert generate() == GENERATED_DIR


def test_processes_starting_together_share_one_generation() -> None:
    """A test and the server it starts may both find the stubs missing: neither sees half of them."""
    shutil.rmtree(GENERATED_DIR)
    code = "from costeer.server.grpc.generate import protocol; protocol('narupa'); protocol('nanover')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    processes = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for process in processes:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    assert protocol("nanover").trajectory.DESCRIPTOR.package == "nanover.protocol.trajectory"
