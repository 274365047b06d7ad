"""As a new user would: open the page and drag methane through the nanotube with the mouse.

The mouse is moved by the nanotube task's synthetic person (``ThreadingHand``, careful, as
``costeer demo`` drives it, trying again when an attempt fails), watching the frames as a
person watches the screen; the view is first turned side-on to the tube, and the task's own
detector judges the threading."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
import pytest

from costeer.client import NanoverSession
from costeer.core import keys
from costeer.demonstrator import Persona, ThreadingHand, human_scale
from costeer.tasks import Chemistry, get_task

from .conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.slow

LONGEST_S = 90.0
"""The longest the person keeps trying (``costeer demo`` allows one attempt 40 s with its exact 3D hand)."""
MOVES_PER_S = 10.0


def test_a_mouse_drag_threads_methane_through_the_tube(costeer_server, chromium, built_page):
    server = costeer_server("--seed", "3")
    outcome, picked = asyncio.run(_thread(server.port, chromium, seed=3))
    assert outcome.success, f"methane was not threaded (the person pulled atom {picked}): {outcome}"


async def _thread(port: int, chromium, *, seed: int):
    from playwright.async_api import async_playwright

    task = get_task("nanotube")
    async with async_playwright() as playwright, NanoverSession.connect(f"ws://127.0.0.1:{port}") as observer:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 700})
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_function("() => document.querySelector('#status').dataset.atoms === '65'", timeout=20_000)
            frame = await observer.wait_for_frame(lambda f: keys.BOND_PAIRS in f and keys.PARTICLE_ELEMENTS in f)
            positions = _positions(frame)
            chemistry = Chemistry.from_frame(frame)
            selection = task.select(chemistry)
            scale = round(human_scale(chemistry, selection))
            await page.eval_on_selector("#scale", f"s => {{ s.value = '{scale}'; s.dispatchEvent(new Event('input')); }}")
            await _side_on(page, task.frames(positions[None], selection)[0], positions[selection.grabbed[0]])

            carbon = int(selection.grabbed[0])
            picked = await _grab(page, observer, carbon)
            rng = np.random.default_rng(seed)
            episode = [_positions(observer.frame)]
            observer.add_frame_listener(lambda delta, merged: episode.append(_positions(merged)) if keys.PARTICLE_POSITIONS in delta else None)
            start = time.monotonic()
            hand, hand_start, checked = None, start, start
            while (now := time.monotonic()) - start < LONGEST_S:
                if hand is None or hand.finished:  # gave up, or let go: the person tries again
                    person = dataclasses.replace(Persona.sample(rng), sloppiness=0.0)
                    hand, hand_start = ThreadingHand(task, selection, _positions(observer.frame), rng=rng, persona=person), now
                target = hand(now - hand_start, _positions(observer.frame))
                where = await page.evaluate("point => window.costeer.toScreen(point)", np.asarray(target).tolist())
                await page.mouse.move(where["x"], where["y"])
                if now - checked > 1.0:
                    checked = now
                    if task.evaluate(np.array(episode), selection).success:
                        break
                await asyncio.sleep(1.0 / MOVES_PER_S)
            await page.mouse.up()
            return task.evaluate(np.array(episode), selection), picked
        finally:
            await browser.close()


def _positions(frame: dict) -> np.ndarray:
    return np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64).reshape(-1, 3)


async def _side_on(page, tube, methane: np.ndarray) -> None:
    """Turn the camera so that the plane the mouse drags in holds the tube's axis and methane."""
    offset = tube.to_task(methane[None])[0]
    across = np.array([offset[0], offset[1], 0.0])
    normal = np.cross([0.0, 0.0, 1.0], across) if np.linalg.norm(across) > 1e-3 else np.array([1.0, 0.0, 0.0])
    normal = tube.vectors_to_lab((normal / np.linalg.norm(normal))[None])[0]
    centre = tube.origin
    await page.evaluate("([position, target]) => window.costeer.lookAt(position, target)", [(centre + 6.0 * normal).tolist(), centre.tolist()])


async def _grab(page, observer: NanoverSession, carbon: int, tries: int = 20) -> int:
    """Press on methane's carbon (again, while a hydrogen in front of it is picked instead, or the
    press found no atom: on a busy machine methane may move between finding it and pressing)."""
    picked = -1
    for _ in range(tries):
        where = await page.evaluate("atom => window.costeer.atomOnScreen(atom)", carbon)
        await page.mouse.move(where["x"], where["y"])
        await page.mouse.down()
        try:
            state = await observer.wait_for_state(lambda s: any(k.startswith("interaction.web-") for k in s), timeout=5.0)
        except TimeoutError:
            await page.mouse.up()
            continue
        picked = next(v for k, v in state.items() if k.startswith("interaction.web-"))["particles"][0]
        if picked == carbon:
            return picked
        await page.mouse.up()
        await observer.wait_for_state(lambda s: not any(k.startswith("interaction.web-") for k in s))
        await asyncio.sleep(0.2)
    return picked
