"""The web client in a real browser: it connects, shows the atoms and frames/s, a mouse drag
on methane pulls it (the server's frames list it in forces.user.index), the view is drawn,
and a page from another origin cannot open the WebSocket."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from costeer.client import NanoverSession
from costeer.core import keys

from .conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.slow

FOREIGN_PAGE = "http://foreign.test/"


def _methane_carbon(frame: dict) -> int:
    """The carbon bonded to hydrogens (the nanotube's carbons have none)."""
    elements = np.asarray(frame[keys.PARTICLE_ELEMENTS])
    for a, b in np.asarray(frame[keys.BOND_PAIRS]).reshape(-1, 2):
        if {int(elements[a]), int(elements[b])} == {1, 6}:
            return int(a if elements[a] == 6 else b)
    raise AssertionError("no C-H bond in the nanotube task's frame")


def _variance(png: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64).var())


def test_the_page_views_and_steers_the_nanotube(costeer_server, chromium, built_page, tmp_path):
    server = costeer_server()
    assert f"web page: http://127.0.0.1:{server.port}/" in "".join(server.stdout)
    asyncio.run(_view_and_steer(server.port, chromium, tmp_path))


async def _view_and_steer(port: int, chromium, tmp_path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright, NanoverSession.connect(f"ws://127.0.0.1:{port}") as observer:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"http://127.0.0.1:{port}/")
            status = page.locator("#status")
            await page.wait_for_function(
                "() => { const s = document.querySelector('#status').dataset;"
                " return s.connected === 'true' && s.atoms === '65' && Number(s.fps) > 0 }",
                timeout=20_000,
            )
            assert await status.get_attribute("aria-live") == "polite"
            assert await status.get_attribute("data-error") == ""

            frame = await observer.wait_for_frame(lambda f: keys.BOND_PAIRS in f and keys.PARTICLE_ELEMENTS in f)
            atom = _methane_carbon(frame)
            start = await page.evaluate("atom => window.costeer.atomOnScreen(atom)", atom)
            await page.mouse.move(start["x"], start["y"])
            await page.mouse.down()
            for step in range(1, 11):
                await page.mouse.move(start["x"] + 15 * step, start["y"] + 8 * step)
            pulled = await observer.wait_for_frame(
                lambda f: atom in np.asarray(f.get(keys.USER_FORCES_INDEX, ())).tolist(), timeout=10
            )
            assert atom in np.asarray(pulled[keys.USER_FORCES_INDEX]).tolist()
            interaction = next(v for k, v in observer.state.items() if k.startswith(keys.INTERACTION_PREFIX))
            assert interaction["particles"] == [atom] and interaction["interaction_type"] == "spring"

            shot = await page.screenshot(path=str(tmp_path / "web-client.png"))
            assert _variance(shot) > 50, "the screenshot is blank"
            await page.mouse.up()
            await observer.wait_for_state(lambda s: not any(k.startswith(keys.INTERACTION_PREFIX) for k in s))
            assert errors == []

            assert await _foreign_page_connects(page, port) is False
        finally:
            await browser.close()


async def _foreign_page_connects(page, port: int) -> bool:
    """Whether a page from another origin can open the server's WebSocket from the browser."""
    await page.route(FOREIGN_PAGE, lambda route: route.fulfill(status=200, content_type="text/html", body="<title>elsewhere</title>"))
    await page.goto(FOREIGN_PAGE)
    return await page.evaluate(
        """port => new Promise(done => {
            const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
            socket.onopen = () => { socket.close(); done(true); };
            socket.onerror = () => done(false);
        })""",
        port,
    )


def test_the_page_seeks_through_a_recording_the_server_plays_back(costeer_server, chromium, built_page):
    recording = Path(__file__).parents[2] / "recordings" / "synthetic-nanotube-seed2.nanover.zip"
    server = costeer_server("--playback", str(recording))
    asyncio.run(_seek(server.port, chromium))


async def _seek(port: int, chromium) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright, NanoverSession.connect(f"ws://127.0.0.1:{port}") as observer:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_selector("#seek-section:not([hidden])", timeout=20_000)
            await page.wait_for_function("() => Number(document.querySelector('#seek').max) > 10")
            await observer.run_command("playback/pause")
            await page.eval_on_selector("#seek", "seek => { seek.value = '10'; seek.dispatchEvent(new Event('change')); }")
            await page.wait_for_function("() => document.querySelector('#seek-value').textContent.startsWith('10.0 /')")
            assert (await observer.run_command("playback/seek"))["time"] == 10.0  # paused: goes there at the next frame
            await page.click("#step")
            await page.wait_for_function("() => document.querySelector('#status').dataset.atoms === '65'")
            where = await observer.run_command("playback/seek")
            assert 10.0 <= where["time"] < 10.5
        finally:
            await browser.close()
