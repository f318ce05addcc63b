"""The enterprise dashboard page: static HTML and JS that read the API with the user's token.

The page holds no data of its own: it calls the analytics endpoints with the bearer token the
user signs in with, so it can show nothing the API would refuse. Chart.js is vendored into
`static/vendor/` by `make setup` (from the npm registry, `web/package-lock.json`), never
fetched from a CDN; the Content-Security-Policy allows this origin only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
CHART_JS = STATIC / "vendor" / "chart.umd.min.js"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PolicedStaticFiles(StaticFiles):
    """The page's assets, each under the same policy (the HTML is reachable here too)."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
            response.headers[name] = PAGE_HEADERS[name]
        return response


def mount_dashboard(app: FastAPI) -> None:
    app.mount("/dashboard/static", PolicedStaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/dashboard", tags=["dashboard"], include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html", media_type="text/html",
                            headers=PAGE_HEADERS)
