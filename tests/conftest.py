"""Fixtures shared by the whole suite: the real data, NanoVer's side venv, free ports, servers.

Server fixtures start each server in its own process on 127.0.0.1 with a free port and stop it
when the test ends; NanoVer's official client runs in the side venv (``tests/nanover_side``).

    def test_x(costeer_server, side_client):
        server = costeer_server("--omm", str(xml))
        seen = side_client("pull", server.url)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
NANOVER_PYTHON = REPO / ".venv-nanover" / "bin" / "python"
NANOVER_SIDE = REPO / "tests" / "nanover_side"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: NanoVer's nanotube system and real VR recordings."""
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"the reference data is missing: expected {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def nanotube_xml(shared_data: Path) -> Path:
    return shared_data / "systems" / "nanotube.xml"


@pytest.fixture(scope="session")
def nanover_python() -> Path:
    """Python 3.13 with ``nanover-server`` 0.1.3018: run NanoVer's side as a subprocess."""
    if not NANOVER_PYTHON.exists():
        raise RuntimeError("NanoVer's side venv is missing: run `make setup-nanover` (part of `make test`)")
    return NANOVER_PYTHON


@pytest.fixture(scope="session")
def nanover_side() -> Path:
    """Folder of scripts that run inside NanoVer's side venv."""
    return NANOVER_SIDE


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def costeer_python() -> str:
    """The interpreter running the suite (has costeer installed): for server subprocesses."""
    return sys.executable


SERVING_LINE = re.compile(r"costeer serving (wss?://\S+:(\d+))")
START_TIMEOUT = 90.0


@dataclass
class ServerProcess:
    """A server subprocess: its URL once it serves, and everything it printed."""

    process: subprocess.Popen
    url: str = ""
    port: int = 0
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return "".join(self.stdout[-40:]) + "".join(self.stderr[-60:])

    def printed(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """The first match of ``pattern`` in what the server printed, waiting up to ``timeout`` s
        (lines after the serving line may still be on their way when the fixture returns)."""
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, "".join(self.stdout))) is None:
            assert time.monotonic() < deadline, f"the server printed nothing like {pattern!r}:\n{self.output()}"
            time.sleep(0.05)
        return found

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def _pump(stream, sink: list[str], seen: threading.Event | None = None) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
        if seen is not None:
            seen.set()
    stream.close()


def _start(command: list[str], find_url: Callable[[str], tuple[str, int] | None]) -> ServerProcess:
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = ServerProcess(process)
    line_seen = threading.Event()
    threading.Thread(target=_pump, args=(process.stdout, server.stdout, line_seen), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, server.stderr), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in list(server.stdout):
            found = find_url(line)
            if found:
                server.url, server.port = found
                return server
        if process.poll() is not None:
            time.sleep(0.2)  # let the pumps collect the last words
            raise RuntimeError(
                f"server exited with {process.returncode} before serving: {' '.join(command)}\n"
                f"{server.output()}"
            )
        line_seen.wait(0.1)
        line_seen.clear()
    server.stop(sig=signal.SIGKILL)
    raise RuntimeError(f"server did not start within {START_TIMEOUT} s: {' '.join(command)}\n{server.output()}")


def costeer_command() -> list[str]:
    """``costeer`` from the running interpreter's environment."""
    script = Path(sys.executable).parent / "costeer"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "costeer.cli.main"]


def _costeer_url(line: str) -> tuple[str, int] | None:
    match = SERVING_LINE.search(line)
    return (match.group(1), int(match.group(2))) if match else None


def _nanover_url(line: str) -> tuple[str, int] | None:
    try:
        announced = json.loads(line)
    except ValueError:
        return None
    return (announced["url"], int(announced["port"])) if "url" in announced else None


@pytest.fixture(scope="session")
def costeer_cli() -> list[str]:
    """The command that runs ``costeer`` (append a subcommand and its arguments)."""
    return costeer_command()


def _started_servers(request: pytest.FixtureRequest) -> list[ServerProcess]:
    """The servers this test started (every server fixture adds to the same list)."""
    if not hasattr(request.node, "started_servers"):
        request.node.started_servers = []
    return request.node.started_servers


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test shows what the servers it started printed (a crash, a recovery, a pause)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for number, server in enumerate(getattr(item, "started_servers", ()), start=1):
            report.sections.append((f"server {number} ({server.process.args[0]}) printed", server.output()))


@pytest.fixture
def costeer_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``costeer serve ARGS --port 0`` (on 127.0.0.1); stopped after the test.

    ``command`` runs another ``costeer`` (e.g. another interpreter's ``-m costeer.cli.main``).
    """
    started = _started_servers(request)

    def start(*args: str, command: list[str] | None = None) -> ServerProcess:
        server = _start([*(command or costeer_command()), "serve", *args, "--port", "0"], _costeer_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def nanover_server(
    request: pytest.FixtureRequest, nanover_python: Path, nanover_side: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start NanoVer 0.1.3018's own server (side venv, loopback, no discovery)."""
    started = _started_servers(request)

    def start(*args: str) -> ServerProcess:
        command = [str(nanover_python), str(nanover_side / "nanover_server.py"), *args]
        server = _start(command, _nanover_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def side_client(nanover_python: Path, nanover_side: Path) -> Callable[..., dict[str, Any]]:
    """Run one ``nanover_client.py`` scenario with NanoVer's official client; its JSON."""

    def run(scenario: str, url: str, *args: str, timeout: float = 60.0) -> dict[str, Any]:
        command = [str(nanover_python), str(nanover_side / "nanover_client.py"), scenario, "--url", url, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(
                f"NanoVer client scenario {scenario!r} failed against {url} "
                f"(exit {done.returncode}):\n{done.stderr[-4000:]}"
            )
        return json.loads(done.stdout)

    return run


@pytest.fixture(scope="session")
def villin_pdb() -> Path:
    """OpenMM's bundled test.pdb (villin headpiece in water)."""
    import openmm.app

    return Path(openmm.app.__file__).parent / "data" / "test.pdb"


# Property-based (Hypothesis) tests: quick by default; HYPOTHESIS_PROFILE=ci-long for a deep run.
# No example database: nothing is written into the checkout.
settings.register_profile(
    "quick", max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci-long", max_examples=2000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(scope="session")
def session(shared_data: Path) -> Path:
    """A real human VR session of the nanotube task."""
    return shared_data / "recordings" / "nanotube-methane-02.nanover.zip"


@pytest.fixture(scope="session")
def session_dataset(session: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That session as an episode dataset."""
    from costeer.datasets.build import build_dataset

    return build_dataset([session], task="nanotube", output=tmp_path_factory.mktemp("session") / "dataset", progress=False)


@pytest.fixture(scope="session")
def checkpoint(session_dataset: Path) -> Path:
    """A small mlp trained on that dataset for one epoch (seconds): a real checkpoint, not a good policy."""
    from costeer.agent.training import TrainOptions, train_policy

    output = session_dataset.parent / "mlp.pt"
    options = TrainOptions(epochs=1, threads=1, progress=False, validation_fraction=0.0)
    train_policy(session_dataset, "mlp", output, options=options, config={"hidden": 16})
    return output
