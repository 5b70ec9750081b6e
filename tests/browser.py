"""Open a local HTML file (or a page of a server on this machine) in Debian's headless Chromium.

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
SWITCHES = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def need_chromium() -> None:
    """Skip (or fail under FLEET_REQUIRE_TOOLS=1) when Chromium or its driver is missing."""
    need(
        _executable(CHROMIUM) and _executable(CHROMEDRIVER),
        f"Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}) (Debian: apt-get install chromium chromium-driver)",
    )


@contextmanager
def open_in_chromium(page: Path | str, *arguments: str) -> Iterator[WebDriver]:
    """A headless Chromium with ``page`` loaded (a file, or a URL); quit on the way out.

    ``arguments``: more Chromium switches, e.g. ``--host-resolver-rules=…`` to cut the network.
    """
    need_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*SWITCHES, *arguments):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        driver.get(page if isinstance(page, str) else page.resolve().as_uri())
        yield driver
    finally:
        driver.quit()
