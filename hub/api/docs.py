"""`/docs`: Swagger UI over `/openapi.json`, served by the API itself.

FastAPI's default page loads Swagger UI from a CDN without integrity checks (and ReDoc likewise):
whoever controls the CDN runs script next to the operator's bearer token. `make setup` vendors
`swagger-ui-dist` from the npm registry (`web/package-lock.json`) into `static/vendor/swagger-ui/`,
as it does Chart.js, and the page runs under a policy that allows this origin only. The page's
start-up script is a file too, so no inline script needs allowing.
"""

from __future__ import annotations

import html

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from hub.api.dashboard import PAGE_HEADERS, STATIC, PolicedStaticFiles

SWAGGER_UI = STATIC / "vendor" / "swagger-ui"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def mount_docs(app: FastAPI) -> None:
    """Serve Swagger UI locally; the app must be built with `docs_url=None, redoc_url=None`."""
    missing = [name for name in SWAGGER_FILES if not (SWAGGER_UI / name).is_file()]
    if missing:
        # Serving the page without its script would show a blank page; say what to run.
        @app.get("/docs", include_in_schema=False)
        async def docs_missing() -> Response:
            return Response(f"Swagger UI is not vendored ({', '.join(missing)} missing under "
                            f"{SWAGGER_UI}): run `make setup`.\n", 503,
                            media_type="text/plain")
        return

    app.mount("/docs/assets", PolicedStaticFiles(directory=SWAGGER_UI), name="docs-assets")
    page = PAGE.format(title=html.escape(app.title))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT, media_type="text/javascript", headers=PAGE_HEADERS)
