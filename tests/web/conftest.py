"""A headless Chromium (Debian's ``chromium``, ``make setup-browser``) driven by Playwright for Python."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Software rendering (WebGL on SwiftShader), no network beyond what the test serves."""


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium; the test fails saying how to install it when it is missing."""
    pytest.importorskip("playwright", reason="pip install -e '.[test]' (Playwright for Python)")
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        if found is None:
            pytest.fail("no Chromium: run make setup-browser (apt-get install chromium)")
        return Path(found)
    return CHROMIUM


@pytest.fixture(scope="session")
def built_page() -> Path:
    """The built web client; the test fails saying to build it when it is missing."""
    from costeer.server.web import STATIC_DIR

    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("the web client is not built: run make setup-web")
    return STATIC_DIR
