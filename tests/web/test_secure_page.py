"""The page over https with a token (``costeer serve --ssl CERT KEY --token T``), in headless Chromium.

The page is opened as ``https://host:port/?token=T``: its response sets the token cookie, so its
own files and its ``wss://`` WebSocket get in without the token in their URLs; a viewer's page
shows the frames too. Without a token the browser gets the 401 page.
"""

from __future__ import annotations

import asyncio

import pytest

from costeer.server.tls import make_self_signed

from .conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.slow

STATUS_CONNECTED = (
    "() => { const s = document.querySelector('#status').dataset; return s.connected === 'true' && s.atoms === '65' }"
)


def test_the_page_over_https_with_a_token(costeer_server, chromium, built_page, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_self_signed(cert, key, hosts=["127.0.0.1"])
    server = costeer_server("--ssl", str(cert), str(key), "--token", "teacher", "--viewer-token", "class")
    assert server.url.startswith("wss://")
    asyncio.run(_open_pages(f"https://127.0.0.1:{server.port}/", chromium))


async def _open_pages(base: str, chromium) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for token in ("teacher", "class"):  # the one who steers, and a viewer
                context = await browser.new_context(ignore_https_errors=True)  # the test's self-signed certificate
                page = await context.new_page()
                await page.goto(f"{base}?token={token}")
                await page.wait_for_function(STATUS_CONNECTED, timeout=20_000)
                await context.close()
            context = await browser.new_context(ignore_https_errors=True)
            refused = await (await context.new_page()).goto(base)
            assert refused is not None and refused.status == 401
            assert "token" in await refused.text()
            await context.close()
        finally:
            await browser.close()
