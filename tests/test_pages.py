"""The built book as a reader sees it: every page of ``_build/html`` opened in headless
Chromium at the book's width, 1280 px, with a screenshot of each.

Runs after ``make book`` (``make pages``); skipped where there is no built book or no Chromium
(CI builds no book). The browser is driven over the DevTools protocol on a loopback port."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
TILE = 4_000
"""Screenshots are taken in tiles of this height (px), well under Chromium's limit."""
WIDTH = 1280
"""The reader's window, CSS pixels."""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGES = sorted(
    p.relative_to(HTML).as_posix()
    for p in HTML.rglob("*.html")
    if not {"_static", "_sources", "_sphinx_design_static"} & set(p.relative_to(HTML).parts)
    and p.name not in {"genindex.html", "search.html"}
) if HTML.is_dir() else []  # fmt: skip

OVERFLOW = """
(() => {
  const wide = (el) => el.scrollWidth > el.clientWidth + 1;
  const shown = (el) => el.offsetParent !== null && el.clientWidth > 0;
  const where = (el) => {
    const cell = el.closest(".cell");
    const cells = [...document.querySelectorAll(".cell")];
    return cell ? `cell ${cells.indexOf(cell)}` : el.tagName.toLowerCase();
  };
  const code = [...document.querySelectorAll(".cell_input pre, div.highlight pre")]
    .filter((el) => shown(el) && wide(el) && !el.closest(".cell_output"));
  const output = [...document.querySelectorAll(".cell_output pre, .output pre")]
    .filter((el) => shown(el) && wide(el));
  return JSON.stringify({
    page: document.documentElement.scrollWidth > window.innerWidth + 1,
    code: code.map((el) => `${where(el)}: ${el.textContent.split("\\n")
      .reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 70)}`),
    output: output.map((el) => `${where(el)}: ${el.textContent.split("\\n")
      .reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 100)}`),
    tracebacks: document.querySelectorAll(".traceback, .output.error").length,
    images: [...document.images].filter((i) => !i.complete || i.naturalWidth === 0)
      .map((i) => i.src.split("/").pop()),
  });
})()
"""
"""A page's faults: a sideways scroll of the page itself, code (cells' inputs, code blocks in
the prose) and outputs whose text is wider than their box (a scroll bar), tracebacks, and
images that did not load."""


EVERY_IMAGE = """
Promise.all([...document.images].map((img) => {
  img.loading = "eager";
  return img.decode().catch(() => null);
})).then(() => document.fonts.ready)
  .then(() => (window.MathJax?.startup ? MathJax.startup.promise : null))
  .then(() => 1)
"""


class Browser:
    """One headless Chromium, one tab, driven over the DevTools protocol (aiohttp)."""

    async def __aenter__(self) -> Browser:
        import aiohttp

        self.profile = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.profile.name}",
             "--allow-file-access-from-files", "about:blank"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        url = None
        for line in self.process.stderr:
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                url = match.group(1)
                break
        if url is None:
            raise RuntimeError("Chromium did not open its DevTools port")
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(url, max_msg_size=0)
        self.ids = 0
        target = await self.call("Target.createTarget", url="about:blank")
        attached = await self.call("Target.attachToTarget", targetId=target["targetId"],
                                   flatten=True)  # fmt: skip
        self.session = attached["sessionId"]
        await self.call("Page.enable", session=True)
        await self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                        height=900, deviceScaleFactor=1, mobile=False)  # fmt: skip
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        await self.http.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.profile.cleanup()

    async def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile are dropped,
        except ``Page.loadEventFired``, which is remembered."""
        self.ids += 1
        message = {"id": self.ids, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = json.loads((await self.ws.receive()).data)
            if reply.get("method") == "Page.loadEventFired":
                self.loaded = True
            if reply.get("id") == self.ids:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def open(self, url: str) -> None:
        """Navigate and wait for the load event, then for fonts, every image (the theme's are
        lazy: loaded only when scrolled to, and the layout moves as they arrive) and MathJax."""
        self.loaded = False
        await self.call("Page.navigate", session=True, url=url)
        for _ in range(600):
            if self.loaded:
                break
            await self.call("Runtime.evaluate", session=True, expression="1")
            await asyncio.sleep(0.05)
        await self.call("Runtime.evaluate", session=True, awaitPromise=True,
                        expression=EVERY_IMAGE)  # fmt: skip

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", session=True, expression=expression,
                                 returnByValue=True)  # fmt: skip
        return result["result"]["value"]

    async def screenshot(self, path: Path, tile: int = TILE) -> list[Path]:
        """The whole page as PNG tiles ``tile`` px tall (``NAME.png``, ``NAME-2.png``, ...),
        each a capture of a viewport that tall scrolled down the page: Chromium garbles a
        single capture taller than about 16,384 px (shifted sideways past that height)."""
        height = int(await self.evaluate("document.documentElement.scrollHeight"))
        await self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                        height=min(tile, height), deviceScaleFactor=1, mobile=False)  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, top in enumerate(range(0, max(height, 1), tile), start=1):
            await self.evaluate(f"window.scrollTo(0, {top}); 1")
            await self.call("Runtime.evaluate", session=True, awaitPromise=True,
                            expression="new Promise(r => requestAnimationFrame(r))")  # fmt: skip
            shot = await self.call("Page.captureScreenshot", session=True, format="png")
            paths.append(path if number == 1 else path.with_stem(f"{path.stem}-{number}"))
            paths[-1].write_bytes(base64.b64decode(shot["data"]))
        await self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                        height=900, deviceScaleFactor=1, mobile=False)  # fmt: skip
        return paths


async def inspect(pages: list[str]) -> dict[str, dict]:
    """Each page's faults (``OVERFLOW``), with its screenshot written under ``SCREENSHOTS``."""
    faults = {}
    async with Browser() as browser:
        for page in pages:
            await browser.open((HTML / page).as_uri())
            faults[page] = json.loads(await browser.evaluate(OVERFLOW))
            await browser.screenshot(SCREENSHOTS / page.replace("/", "_").replace(".html", ".png"))
    return faults


@pytest.fixture(scope="module")
def faults() -> dict[str, dict]:
    if not PAGES:
        pytest.skip("no built book: run make book first")
    if CHROMIUM is None:
        pytest.skip("no Chromium here")
    return asyncio.run(inspect(PAGES))


@pytest.mark.pages
@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_at_1280_px_without_sideways_scrolling(faults, page):
    found = faults[page]
    assert not found["page"], "the page scrolls sideways"
    assert not found["code"], "code wider than its cell:\n" + "\n".join(found["code"])
    assert not found["output"], "output wider than its cell:\n" + "\n".join(found["output"])
    assert not found["tracebacks"], f"{found['tracebacks']} tracebacks"
    assert not found["images"], f"images that did not load: {found['images']}"
