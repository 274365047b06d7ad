"""docker-compose.yml and the Dockerfile against the CLI and the README (no Docker engine needed)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from costeer.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
APP = Path("/app")
"""Where the Dockerfile puts the repository in the image."""


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def readme_section() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(r"^## Running with docker-compose\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, "README.md needs a '## Running with docker-compose' section"
    return match.group(1)


def serve_parser() -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["serve"]


def served_arguments(compose: dict) -> argparse.Namespace:
    """The costeer service's command, parsed by ``costeer serve``'s own parser."""
    command = compose["services"]["costeer"]["command"]
    assert command[:2] == ["costeer", "serve"], "the costeer service runs `costeer serve`"
    parser = serve_parser()
    options = [token for token in command[2:] if token.startswith("--")]
    known = parser._option_string_actions  # exact names: argparse would take "--copilot" as short for "--copilot-mode"
    unknown = [option for option in options if option not in known]
    assert not unknown, f"`costeer serve` has no option {', '.join(unknown)}"
    return parser.parse_args(command[2:])


def test_services_ports_and_volumes(compose):
    services = compose["services"]
    assert set(services) == {"mosquitto", "costeer"}
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto")
    assert services["costeer"]["build"] == "."
    assert "mosquitto" in services["costeer"]["depends_on"]
    assert services["costeer"]["ports"] == ["38801:38801", "38802:38802"]
    assert "ports" not in services["mosquitto"], "the broker allows anonymous clients: keep it inside the compose network"
    assert services["costeer"]["volumes"] == ["recordings:/recordings"]
    assert "recordings" in compose["volumes"]


def test_the_broker_config_is_mounted_and_listens_where_costeer_publishes(compose):
    mount = compose["services"]["mosquitto"]["volumes"][0]
    source, target = mount.split(":")[:2]
    assert target == "/mosquitto/config/mosquitto.conf"
    config = (REPO / source).read_text()
    assert re.search(r"^listener 1883\b", config, flags=re.M) and re.search(r"^allow_anonymous true$", config, flags=re.M)


def test_every_option_of_the_command_is_one_costeer_serve_accepts(compose):
    args = served_arguments(compose)
    assert args.address == "0.0.0.0" and args.port == 38801
    published = [int(port.split(":")[-1]) for port in compose["services"]["costeer"]["ports"]]
    assert published == [args.port, args.grpc_port] == [38801, 38802]  # WebSocket; legacy headsets' gRPC
    assert args.mqtt == "mosquitto:1883" and args.copilot_mode == "assist"
    checkpoint = Path(args.copilot).relative_to(APP)
    assert (REPO / checkpoint).is_file(), f"the image has no {args.copilot}: {checkpoint} is not in the repository"
    volume_target = compose["services"]["costeer"]["volumes"][0].split(":")[1]
    assert args.record == Path(volume_target), "each start records a new session into the recordings volume"


def test_the_image_installs_cpu_torch_first_then_costeer_with_the_co_pilots_events_and_grpc_extras():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.M)
    torch = dockerfile.index("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
    package = dockerfile.index('pip install -e ".[agent,events,grpc]"')  # --copilot: torch, --mqtt: aiomqtt, --grpc-port: grpcio
    assert dockerfile.index("COPY protos ./protos") < package  # the gRPC stubs are made from protos/ on first use
    assert torch < package
    assert "COPY costeer ./costeer" in dockerfile and "WORKDIR /app" in dockerfile


def test_the_readme_gives_the_services_ports_and_where_recordings_go(compose, readme_section):
    for service in compose["services"]:
        assert service in readme_section
    for port in compose["services"]["costeer"]["ports"]:
        assert port.split(":")[0] in readme_section
    assert "docker compose up" in readme_section and "/recordings" in readme_section
    assert "1883" in readme_section
