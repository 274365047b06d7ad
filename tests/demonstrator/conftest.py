"""A ``costeer serve`` shared by a module's tests, started and stopped by the suite's own machinery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SUITE_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _suite(config: pytest.Config) -> ModuleType:
    """``tests/conftest.py`` as pytest loaded it (``--import-mode=importlib``: not importable by name)."""
    module = config.pluginmanager.get_plugin(str(SUITE_CONFTEST))
    if module is None:
        raise RuntimeError(f"pytest has not loaded {SUITE_CONFTEST}: run the tests from the repository root")
    return module


@pytest.fixture(scope="module")
def module_costeer_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Like ``costeer_server`` (``costeer serve ARGS --port 0``), stopped when the module's tests end."""
    suite = _suite(request.config)
    started = []

    def start(*args: str) -> Any:
        server = suite._start([*suite.costeer_command(), "serve", *args, "--port", "0"], suite._costeer_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
