"""As a developer would: /docs in headless Chromium renders Swagger UI from this origin only,
under its Content-Security-Policy, with no request leaving for a CDN and no console error."""

from __future__ import annotations

import os

from tests.conftest import TEST_ERASURE_KEY
from tests.support.browser import chromium_context
from tests.support.db import wait_until
from tests.support.procs import HubProcess, free_port


async def test_swagger_ui_renders_under_its_policy(tmp_path, unique):
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_ENVIRONMENT"] = "test"  # /docs needs no database
    env["HUB_ERASURE_KEY"] = TEST_ERASURE_KEY
    port = free_port()
    api = HubProcess(["api", "--port", str(port)], env, f"e2e-docs-browser-{unique}")
    base = f"http://127.0.0.1:{port}"
    try:
        async def alive():
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(alive, timeout=60, what="api alive")
        async with chromium_context(tmp_path / "profile") as (context, errors):
            requested: list[str] = []
            context.on("request", lambda r: requested.append(r.url))
            page = await context.new_page()
            await page.goto(f"{base}/docs")
            # Swagger UI drew the API's title and an operation from /openapi.json.
            await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            await page.wait_for_selector(".opblock-tag", timeout=30_000)
            title = await page.inner_text(".swagger-ui .info .title")
        assert "Profiler Integration Hub read API" in title
        assert errors == []  # a CSP violation is a console error
        assert requested and all(url.startswith(base) or url.startswith("data:")
                                 for url in requested), requested
    finally:
        api.stop()
