"""Start and stop the servers the bench compares: ``costeer serve`` and NanoVer's own.

Both run as subprocesses on 127.0.0.1 with a free port; NanoVer's through
``tests/nanover_side/nanover_server.py`` in its side venv (no discovery, optionally unpaced).

    with costeer(["--omm", "x.xml", "--free-run"]) as url: ...
    with nanover(["--omm", "x.xml", "--play-interval", "0"]) as url: ...
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

__all__ = ["REPO", "ServerUrl", "costeer", "nanover"]

REPO = Path(__file__).resolve().parents[1]
NANOVER_PYTHON = REPO / ".venv-nanover" / "bin" / "python"
NANOVER_SERVER = REPO / "tests" / "nanover_side" / "nanover_server.py"
START_TIMEOUT = 90.0


def _costeer_command() -> list[str]:
    script = Path(sys.executable).parent / "costeer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "costeer.cli.main"]


class ServerUrl(str):
    """A server's ws:// URL that also knows the server's process, to freeze it between windows."""

    def __new__(cls, url: str, process: subprocess.Popen) -> "ServerUrl":
        served = super().__new__(cls, url)
        served.process = process
        return served

    def freeze(self) -> None:
        """Stop the process (SIGSTOP): a server waiting for its next window takes no CPU at all
        (NanoVer's unpaced server, paused, still spins a whole core)."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen process run again (SIGCONT)."""
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def _serve(
    command: list[str], find_url: Callable[[str], str | None], *, env: dict[str, str] | None = None,
    log: list[str] | None = None,
) -> Iterator[ServerUrl]:
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=None if env is None else {**os.environ, **env},
    )
    lines: list[str] = []
    errors: list[str] = [] if log is None else log
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    threading.Thread(target=lambda: errors.extend(iter(process.stderr.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = None
        while url is None:
            url = next((found for line in list(lines) if (found := find_url(line))), None)
            if url is None and (process.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError(f"server did not start: {' '.join(command)}\n{''.join(errors[-30:])}")
            time.sleep(0.05)
        yield ServerUrl(url, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a frozen server must run to end
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_LOADED = re.compile(r"particles on the .+ platform")
"""``costeer serve``'s log line once a simulation has loaded."""


def _costeer_url(line: str) -> str | None:
    match = re.search(r"costeer serving (ws://\S+)", line)
    return match.group(1) if match else None


def _nanover_url(line: str) -> str | None:
    try:
        return json.loads(line).get("url")
    except ValueError:
        return None


@contextmanager
def costeer(args: list[str], *, log: list[str] | None = None) -> Iterator[ServerUrl]:
    """``costeer serve ARGS --port 0``; yields the ws:// URL once the simulation has loaded (its
    platform chosen: ``serve`` listens while the simulation thread loads, and a bench window
    started then would take the cores from the platform's timing); stderr lines go to ``log``."""
    lines: list[str] = [] if log is None else log
    with _serve([*_costeer_command(), "serve", *args, "--port", "0"], _costeer_url, log=lines) as url:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(_LOADED.search(line) for line in list(lines)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"costeer serve {' '.join(args)} did not load its simulation:\n{''.join(lines[-30:])}")
            time.sleep(0.05)
        yield url


def nanover(args: list[str], *, cpu_threads: int | None = None) -> AbstractContextManager[ServerUrl]:
    """NanoVer 0.1.3018's server (side venv); yields the ws:// URL."""
    if not NANOVER_PYTHON.exists():
        raise RuntimeError("NanoVer's side venv is missing: run `make setup-nanover`")
    env = None if cpu_threads is None else {"OPENMM_CPU_THREADS": str(cpu_threads)}
    return _serve([str(NANOVER_PYTHON), str(NANOVER_SERVER), *args], _nanover_url, env=env)
