"""Headless Debian chromium through selenium and the system chromedriver, for the explorer's browser
test, its screenshots and its load-time benchmark. Nothing here downloads a browser or a driver: the
driver is the system's (`apt-get install chromium chromium-driver`), passed explicitly, so selenium's
own driver manager never runs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = ("chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


def missing() -> str | None:
    """Why no browser can be driven here, or None when one can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the python package 'selenium' is not installed (pip install 'bright-eval[test]')"
    if not any(shutil.which(c) for c in CHROMIUM):
        return "no chromium on PATH (Debian: apt-get install -y chromium chromium-driver)"
    if not any(shutil.which(d) for d in DRIVER):
        return "no chromedriver on PATH (Debian: apt-get install -y chromium-driver)"
    return None


def start(width: int = 1366, height: int = 900):
    """A headless chromium with a fresh profile; the caller quits it. Console messages are kept for get_log('browser')."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = next(shutil.which(c) for c in CHROMIUM if shutil.which(c))
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='be-chromium-')}", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(next(shutil.which(d) for d in DRIVER if shutil.which(d))), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def wait_for(driver, css: str, timeout: float = 20.0):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def full_page_png(driver, path: Path, width: int = 1366, max_height: int = 2400) -> None:
    """A screenshot of the page as laid out at `width`, up to `max_height` pixels tall."""
    import base64

    height = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    clip = {"x": 0, "y": 0, "width": width, "height": min(max_height, int(height)), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
