"""FastAPI's own request spans follow the hub's tracing: none while exporting is off (they
would never record and cost ~25% of a read's CPU), one per request while it is on."""

from __future__ import annotations

import httpx
import pytest

from hub.api.app import create_app
from tests.support.tracing import recorded_spans
from toolkit import tracing
from toolkit.settings import Settings


async def request_spans(exporting: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(tracing, "_exporting", exporting)
    app = create_app(Settings())
    with recorded_spans() as exporter:  # a global provider set, recording while inside
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://hub") as http:
            assert (await http.get("/healthz")).status_code == 200
        return [span.name for span in exporter.get_finished_spans()]


async def test_no_request_span_while_exporting_is_off(monkeypatch):
    assert await request_spans(False, monkeypatch) == []


async def test_a_request_span_while_exporting_is_on(monkeypatch):
    assert any("/healthz" in name for name in await request_spans(True, monkeypatch))
