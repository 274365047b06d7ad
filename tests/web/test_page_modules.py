"""The page's own modules under Node's test runner (web/test: frame merging, the WebSocket URL, replies)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).parents[2] / "web"


def test_the_page_modules_pass_their_node_tests():
    node = shutil.which("node")
    if node is None:
        pytest.fail("no node: install Node.js (make setup-web needs it too)")
    if not (WEB / "node_modules").is_dir():
        pytest.fail("the web client's packages are not installed: run make setup-web")
    done = subprocess.run([node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
