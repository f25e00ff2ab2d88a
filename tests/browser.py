"""Headless Chromium through selenium for the tests that need a real browser (the unsubscribe page, the report's
charts, the console), or a skip when it is not installed: a failure in CI, where .ci/services.sh installs it."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import IN_CI


@contextmanager
def chromium(*arguments: str, prefs: dict[str, Any] | None = None) -> Iterator[Any]:
    """A driver with these extra command-line `arguments` and preferences, quit on the way out."""
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        if IN_CI:
            pytest.fail("chromium and chromedriver are needed (bash .ci/services.sh installs them)")
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", *arguments):
        options.add_argument(argument)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    # Chromium leaves its single-instance socket folder in TMPDIR: give it one of its own, removed after it quits.
    with tempfile.TemporaryDirectory(prefix="consentry-chromium-") as temporary:
        service = Service(shutil.which("chromedriver"), env={**os.environ, "TMPDIR": temporary})
        driver = webdriver.Chrome(service=service, options=options)
        try:
            yield driver
        finally:
            driver.quit()
