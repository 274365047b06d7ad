"""The web client in a real browser: it connects, shows the atoms and frames/s, a mouse drag
on methane pulls it (the server's frames list it in forces.user.index), the view is drawn,
and a page from another origin cannot open the WebSocket."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from costeer.client import NanoverSession
from costeer.core import keys

from .conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.slow

FOREIGN_PAGE = "http://foreign.test/"


def _methane(frame: dict) -> tuple[int, set[int]]:
    """The methane's carbon (the carbon bonded to hydrogens: the nanotube's have none) and its atoms."""
    elements = np.asarray(frame[keys.PARTICLE_ELEMENTS])
    bonds = [(int(a), int(b)) for a, b in np.asarray(frame[keys.BOND_PAIRS]).reshape(-1, 2)]
    carbon = next(a if elements[a] == 6 else b for a, b in bonds if {int(elements[a]), int(elements[b])} == {1, 6})
    return carbon, {carbon} | {a if b == carbon else b for a, b in bonds if carbon in (a, b)}


def _variance(png: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64).var())


def test_the_page_views_and_steers_the_nanotube(costeer_server, chromium, built_page, tmp_path):
    server = costeer_server()
    server.printed(re.escape(f"web page: http://127.0.0.1:{server.port}/"))
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
            carbon, methane = _methane(frame)
            start = await page.evaluate("atom => window.costeer.atomOnScreen(atom)", carbon)
            await page.mouse.move(start["x"], start["y"])
            await page.mouse.down()
            for step in range(1, 11):
                await page.mouse.move(start["x"] + 15 * step, start["y"] + 8 * step)
            state = await observer.wait_for_state(lambda s: any(k.startswith("interaction.web-") for k in s))
            interaction = next(v for k, v in state.items() if k.startswith("interaction.web-"))
            assert interaction["interaction_type"] == "spring" and len(interaction["particles"]) == 1
            atom = interaction["particles"][0]
            assert atom in methane  # the carbon, or a hydrogen in front of it
            pulled = await observer.wait_for_frame(
                lambda f: atom in np.asarray(f.get(keys.USER_FORCES_INDEX, ())).tolist(), timeout=10
            )
            assert atom in np.asarray(pulled[keys.USER_FORCES_INDEX]).tolist()

            shot = await page.screenshot(path=str(tmp_path / "web-client.png"))
            assert _variance(shot) > 50, "the screenshot is blank"
            await page.mouse.up()
            await observer.wait_for_state(lambda s: not any(k.startswith(keys.INTERACTION_PREFIX) for k in s))
            await _shows_the_others(page, observer, atom)
            assert errors == []

            assert await _foreign_page_connects(page, port) is False
            with pytest.raises(InvalidStatus) as refused:  # what the browser was told
                async with connect(f"ws://127.0.0.1:{port}", origin=FOREIGN_PAGE.rstrip("/")):
                    pass
            assert refused.value.response.status_code == 403
            assert b"--allow-origin http://foreign.test" in refused.value.response.body
        finally:
            await browser.close()


async def _shows_the_others(page, observer: NanoverSession, atom: int) -> None:
    """Another user's pull and avatar and the co-pilot's suggestion reach the page; its avatar reaches them."""
    pull = {"position": [0.0, 0.0, 0.0], "particles": [atom], "interaction_type": "spring", "scale": 10.0}
    await observer.update_state({
        "interaction.tester": pull,
        "avatar.tester": {"playerid": "tester", "name": "tester", "components": [{"name": "headset", "position": [0.0, 0.0, 1.0], "rotation": [0.0, 0.0, 0.0, 1.0]}]},
        keys.STATE_COPILOT_SUGGESTION: {**pull, "owner.id": keys.COPILOT_OWNER, "label": "copilot"},
    })
    await page.wait_for_function(
        "() => { const s = document.querySelector('#status').dataset;"
        " return s.pulls === '1' && s.users === '1' && s.suggestion === 'true' }",
        timeout=10_000,
    )
    assert "1 pull, 1 other user, a co-pilot suggestion" in await page.locator("#status").text_content()
    # another client's malformed keys are not drawn, and do not stop the page drawing the rest
    await observer.update_state({"avatar.junk": {"components": 5}, "scene": ["not", "a", "pose"]})
    await page.wait_for_function(
        "() => { const s = document.querySelector('#status').dataset;"
        " return s.pulls === '1' && s.users === '2' && s.suggestion === 'true' }",
        timeout=10_000,
    )
    state = await observer.wait_for_state(lambda s: any(k.startswith("avatar.web-") for k in s))
    avatar = next(v for k, v in state.items() if k.startswith("avatar.web-"))
    assert avatar["name"] == "web" and len(avatar["components"][0]["position"]) == 3
    await observer.update_state({}, ["interaction.tester", "avatar.tester", keys.STATE_COPILOT_SUGGESTION, "avatar.junk", "scene"])
    await page.wait_for_function("() => document.querySelector('#status').dataset.pulls === '0'")


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
            restarts: list[dict] = []
            observer.add_frame_listener(lambda delta, merged: restarts.append(delta) if delta.get(keys.FRAME_INDEX) == 0 else None)
            await page.click("#step")
            await observer.wait_for_frame(lambda f: bool(restarts) and keys.PARTICLE_POSITIONS in f)  # the jump: a new sequence
            where = await observer.run_command("playback/seek")
            assert 10.0 <= where["time"] < 10.5
        finally:
            await browser.close()


def test_the_page_on_its_own_port_connects_to_the_websocket_port(costeer_server, chromium, built_page):
    server = costeer_server("--web-port", "0")
    web_port = int(server.printed(r"costeer serving web on 127\.0\.0\.1:(\d+)").group(1))
    assert web_port != server.port
    asyncio.run(_connects(f"http://127.0.0.1:{web_port}/", chromium))


async def _connects(url: str, chromium) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(url)
            await page.wait_for_function(
                "() => { const s = document.querySelector('#status').dataset; return s.connected === 'true' && s.atoms === '65' }",
                timeout=20_000,
            )
        finally:
            await browser.close()
