"""The ``refineseg serve`` page end to end: headless Chromium (Debian's, driven by Playwright) uploads images.

Playwright's own browser downloads are never used (machines running this may have no way to
fetch them); Debian's ``chromium`` package is, installed with apt-get when we are root and it is
missing. Without a browser the test is skipped, or fails when ``REFINESEG_REQUIRE_BROWSER=1``
(for CI, where a silently skipped browser test would hide a broken page).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

import refineseg

from .test_serve import HEIGHT, WIDTH, live_server, sample_image, tiny_model

pytestmark = pytest.mark.slow  # a browser against a live server

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT_S = 1800


def unavailable(reason: str) -> None:
    """Skip, or fail where the environment says the browser test must run."""
    if os.environ.get("REFINESEG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and REFINESEG_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def apt_install_chromium() -> str:
    """Install Debian's chromium; returns what went wrong ('' on success) for the skip message."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"])
    started = time.monotonic()
    for command in steps:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=APT_TIMEOUT_S, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command)} failed: {exc}"
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            return f"{' '.join(command)} exited with {done.returncode}: {tail}"
    print(f"installed chromium with apt-get in {time.monotonic() - started:.0f} s")
    return ""


def find_chromium() -> Path | None:
    if CHROMIUM.is_file():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a Chromium that Playwright can drive, installing Debian's if we may."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        unavailable(f"the playwright package is not importable ({exc})")
    path = find_chromium()
    problem = ""
    if path is None:
        is_root = getattr(os, "geteuid", lambda: -1)() == 0
        if is_root and shutil.which("apt-get"):
            problem = apt_install_chromium()
        else:
            problem = "not root, or no apt-get, so it cannot be installed here"
        path = find_chromium()
    if path is None:
        unavailable(f"{CHROMIUM} is missing: {problem or 'apt-get did not install it'}")
    return str(path)


def test_page_segments_an_upload_and_shows_rejections(chromium, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    segmenter = refineseg.Segmenter(tiny_model())
    image = sample_image()
    image_path = tmp_path / "street.png"
    image.save(image_path)
    expected = segmenter.class_shares(segmenter(image))  # largest first
    notes = tmp_path / "notes.png"
    notes.write_text("shopping list: milk, bread\n")
    screenshot = tmp_path / "page.png"

    problems: list[str] = []
    with live_server(segmenter, quiet=True) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
            )
            page.goto(server.url)
            expect(page.locator("#model")).to_contain_text("lw_refinenet_mobilenet_v2 · 3 classes")

            page.set_input_files("#file", str(image_path))
            page.wait_for_function(
                """() => {
                        const img = document.querySelector('#overlay');
                        return !!img.getAttribute('src') && img.complete && img.naturalWidth > 0;
                    }"""
            )
            size = page.eval_on_selector("#overlay", "img => [img.naturalWidth, img.naturalHeight]")
            assert size == [WIDTH, HEIGHT]
            expect(page.locator("#status")).to_have_attribute("data-state", "done")
            expect(page.locator("#error")).to_be_hidden()

            rows = page.locator("#legend li")
            expect(rows).to_have_count(len(expected))
            assert rows.evaluate_all("rows => rows.map(r => r.dataset.class)") == list(expected)
            shares = [float(t.strip().rstrip("%")) for t in page.locator("#legend li .share").all_text_contents()]
            assert sum(shares) == pytest.approx(100.0, abs=0.05 * len(shares) + 1e-9)
            assert shares == pytest.approx([100.0 * s for s in expected.values()], abs=0.051)
            colors = page.locator("#legend li .swatch").evaluate_all(
                "spans => spans.map(s => getComputedStyle(s).backgroundColor)"
            )
            palette = dict(zip(segmenter.class_names, segmenter.palette, strict=True))
            assert colors == [f"rgb({', '.join(map(str, palette[name]))})" for name in expected]
            page.screenshot(path=str(screenshot), full_page=True)

            page.set_input_files("#file", str(notes))
            error = page.locator("#error")
            expect(error).to_be_visible()
            expect(error).to_contain_text("notes.png")
            expect(error).to_contain_text("not a readable image")
            expect(page.locator("#status")).to_have_attribute("data-state", "error")
            expect(rows).to_have_count(0)
        finally:
            browser.close()

    assert not problems, problems
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    with Image.open(screenshot) as shot:
        assert shot.width >= 1100 and shot.height > 0
