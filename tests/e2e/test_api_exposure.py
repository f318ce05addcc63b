"""As a client would, against `hub api` processes (finding 9): what the API lets slip.

- /readyz says "unavailable" without naming database, role, host or port (the log has them);
- /docs serves Swagger UI from this origin under a Content-Security-Policy, never a CDN;
- a token sent in the query string is refused and its value never reaches the access log;
- a connection whose request headers trickle in is closed at HUB_API_HEADER_TIMEOUT_SECONDS;
- a token whose `exp` lies beyond HUB_JWT_MAX_LIFETIME_SECONDS is refused.
"""

from __future__ import annotations

import os
import socket
import time

import httpx
import jwt
import pytest

from tests.conftest import TEST_ERASURE_KEY, settings_env
from tests.support import db
from tests.support.procs import HubProcess, free_port
from toolkit.web.auth import issue_token

HEADER_TIMEOUT = 1.5


async def started(args: list[str], env: dict[str, str], name: str):
    port = free_port()
    process = HubProcess(["api", "--port", str(port), *args], env, name)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        async def alive():
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await db.wait_until(alive, timeout=60, what="api alive")
        except BaseException:
            process.stop()
            raise
    return process, port


@pytest.fixture
async def api(settings, unique):
    env = settings_env(settings) | {"HUB_API_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
                                    "HUB_JWT_MAX_LIFETIME_SECONDS": "7200"}
    process, port = await started([], env, f"e2e-exposure-api-{unique}")
    try:
        yield process, f"http://127.0.0.1:{port}", port
    finally:
        process.stop()


async def test_readyz_names_no_database_detail(stack, unique):
    role, database, port = f"role{unique}", f"db{unique}", free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_ENVIRONMENT": "test", "HUB_ERASURE_KEY": TEST_ERASURE_KEY,
            "HUB_DATABASE_URL": f"postgresql+asyncpg://{role}@127.0.0.1:{port}/{database}"}
    process, api_port = await started([], env, f"e2e-exposure-readyz-{unique}")
    try:
        answer = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=10)
    finally:
        process.stop()
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "database": "unavailable"}
    for secret in (role, database, str(port), "127.0.0.1"):
        assert secret not in answer.text
    assert str(port) in process.log_tail(200)  # the operator still learns why


async def test_docs_come_from_this_origin(api):
    _process, base, _port = api
    page = httpx.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('="/', "")  # no absolute URL: no CDN
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
                  "/docs/init.js"):
        answer = httpx.get(f"{base}{asset}", timeout=10)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
        assert asset.rsplit("/", 1)[-1] in page.text
    assert httpx.get(f"{base}/redoc", timeout=10).status_code == 404  # ReDoc used a CDN too
    assert httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]


async def test_a_token_in_the_query_never_reaches_the_log(api, settings):
    process, base, _port = api
    token = issue_token(settings.jwt_secret, "ops", ["platform_admin"])
    answer = httpx.get(f"{base}/api/v1/missions/difficulty",
                       params={"user_id": "someone", "access_token": token}, timeout=10)
    assert answer.status_code == 401

    def logged() -> str:
        return process.log_path.read_text(errors="replace")

    deadline = time.monotonic() + 10
    while "access_token=[redacted]" not in logged() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "GET /api/v1/missions/difficulty?user_id=someone&access_token=[redacted]" in logged()
    assert token not in logged() and token.split(".")[2] not in logged()


async def test_a_token_living_beyond_the_maximum_is_refused(api, settings):
    _process, base, _port = api
    now = int(time.time())
    for exp in (10**400, now + 7200 + 600):
        token = jwt.encode({"sub": "ops", "roles": ["platform_admin"], "exp": exp},
                           settings.jwt_secret, algorithm="HS256")
        answer = httpx.get(f"{base}/api/v1/profiler/admin/enterprise/analytics",
                           params={"enterprise_id": "e"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 401, exp
        assert "HUB_JWT_MAX_LIFETIME_SECONDS" in answer.json()["detail"]
    within = issue_token(settings.jwt_secret, "ops", ["platform_admin"], ttl_seconds=7000)
    answer = httpx.get(f"{base}/api/v1/profiler/admin/enterprise/analytics",
                       params={"enterprise_id": "e"},
                       headers={"Authorization": f"Bearer {within}"}, timeout=10)
    assert answer.status_code != 401


def seconds_until_closed(port: int, trickle: bytes, limit: float) -> float:
    """Open a connection, send `trickle` a byte every 0.2 s (then nothing); seconds until the
    server closes it, or `limit` if it stays open that long."""
    started_at = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as conn:
        conn.settimeout(0.2)
        sent = 0
        while time.monotonic() - started_at < limit:
            if sent < len(trickle):
                try:
                    conn.sendall(trickle[sent:sent + 1])
                except OSError:  # reset
                    return time.monotonic() - started_at
                sent += 1
            try:
                if conn.recv(1024) == b"":
                    return time.monotonic() - started_at
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - started_at
    return limit


@pytest.mark.parametrize("trickle", [
    b"", b"GET /healthz HTT", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100,
], ids=["silent", "partial request line", "headers trickled past the deadline"])
async def test_slow_request_headers_are_cut_off(api, trickle):
    _process, _base, port = api
    took = seconds_until_closed(port, trickle, limit=HEADER_TIMEOUT + 8)
    assert HEADER_TIMEOUT - 0.3 <= took <= HEADER_TIMEOUT + 2, took


async def test_a_kept_alive_connection_still_serves_prompt_requests(api):
    """The deadline runs from a request's first byte: idling between requests longer than it
    (within uvicorn's 5 s keep-alive) closes nothing."""
    _process, _base, port = api
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        for _ in range(2):
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while not received.endswith(b'{"status":"ok"}'):
                chunk = conn.recv(4096)
                assert chunk, f"closed after {received!r}"
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")
            time.sleep(HEADER_TIMEOUT + 0.5)
