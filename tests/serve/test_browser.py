"""The page in a real browser: ``glassnet serve`` runs on 127.0.0.1, headless Debian chromium
(driven by playwright; no browser is ever downloaded) opens it, uploads a PNG with the file
input, and the predicted label and probabilities are read off the page. Skips cleanly without
chromium or playwright (``.ci/run`` installs chromium with apt-get)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx2")
sync_api = pytest.importorskip("playwright.sync_api")

from tests.serve.conftest import free_socket  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def served(digits_model):
    """``glassnet serve MODEL`` in a child process; yields its URL, then stops it."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # uvicorn binds it again at once; a clash would fail the start-up check
    command = [
        sys.executable,
        "-m",
        "glassnet.cli",
        "serve",
        str(digits_model),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).json()["model_loaded"]:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.poll() is not None else ""
                pytest.fail(f"glassnet serve did not start: {output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_upload_a_photo_and_read_the_answer_off_the_page(served, digit_photos, tmp_path):
    photo = tmp_path / "digit.png"
    photo.write_bytes(digit_photos[2])
    expected = httpx.post(f"{served}/predict?top_k=5", files={"file": ("d.png", digit_photos[2])})
    expected = expected.json()
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=FLAGS, timeout=60_000
            )
        except Exception as err:  # a chromium the driver cannot talk to: nothing to test with
            pytest.skip(f"chromium could not be started by playwright: {err}")
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone screen
            page.goto(served, timeout=30_000)
            page.wait_for_selector("#model-line:has-text('digits_cnn')", timeout=30_000)
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#label-line:not([hidden])", timeout=30_000)
            label = page.inner_text("#label")
            rows = page.query_selector_all("#top-k li")
            shown = {r.get_attribute("data-class"): r.inner_text() for r in rows}
            page.wait_for_selector("#inside-body figure img", state="attached", timeout=30_000)
            panels = len(page.query_selector_all("#inside-body figure"))
            # keyboard: the file input is reachable with Tab
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement && document.activeElement.id")
        finally:
            browser.close()
    assert label == expected["label"]
    assert len(rows) == 5
    for item in expected["top_k"]:
        assert f"{100 * item['probability']:.1f}%" in shown[item["class"]]
    assert panels == 3  # saliency + the two convolutions' activation maps
    assert focused == "file"
