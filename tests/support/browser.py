"""Headless Chromium (Debian's package) driven by Playwright, for the dashboard's browser test.

Playwright's own browser download is never used: it launches /usr/bin/chromium. Without it
the test is skipped on a developer's machine and FAILS under CI=true (`make setup` installs
it when run as root).
"""

from __future__ import annotations

import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        message = "Debian's chromium is not installed (make setup installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@asynccontextmanager
async def chromium_context(user_data_dir: Path):
    """A browser context with a fresh profile; yields (context, console errors seen)."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=chromium_path(), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        context.on("weberror", lambda e: errors.append(f"page error: {e.error}"))
        context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        context.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                   if r.status >= 400 else None)
        try:
            yield context, errors
        finally:
            await context.close()
