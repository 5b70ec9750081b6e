"""Open a local HTML file in Debian's headless Chromium through selenium.

The browser and its driver are named explicitly so selenium-manager never tries to download one:
the machines this runs on have no general network access.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.sim_helpers import need

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_LOAD_TIMEOUT_S = 30


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def need_chromium() -> None:
    """Skip (or fail under FLEET_REQUIRE_TOOLS=1) when Chromium or its driver is missing."""
    need(
        _executable(CHROMIUM) and _executable(CHROMEDRIVER),
        f"Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}) (Debian: apt-get install chromium chromium-driver)",
    )


@contextmanager
def open_in_chromium(path: Path) -> Iterator[WebDriver]:
    """A headless Chromium with ``path`` loaded from its file:// URL; quit on the way out."""
    need_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        driver.get(path.resolve().as_uri())
        yield driver
    finally:
        driver.quit()
