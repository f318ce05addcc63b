"""As an operator would: `hub api` and `hub worker` with a weak JWT secret outside local stop at
once with one line saying why and exit code 2, never a traceback and never the secret."""

from __future__ import annotations

import os

import pytest

from tests.support.procs import run_hub
from toolkit.settings import PLACEHOLDER_SECRET

COMMANDS = [["api", "--port", "1"], ["worker", "missions"], ["worker", "--all"]]


def environment(hub_environment: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    # Nothing reachable: a command that got past its settings would hang or fail differently.
    env.update(HUB_ENVIRONMENT=hub_environment, HUB_JWT_SECRET=secret,
               HUB_KAFKA_BOOTSTRAP="127.0.0.1:1", HUB_DATABASE_URL="postgresql+asyncpg://x@127.0.0.1:1/x")
    return env


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize(("hub_environment", "secret", "why"), [
    ("production", "a", "HUB_JWT_SECRET is 1 bytes"),
    ("production", "", "HUB_JWT_SECRET is 0 bytes"),
    ("production", f" {PLACEHOLDER_SECRET}", "HUB_JWT_SECRET is left at its placeholder"),
    ("test", "short-secret-xyz" + " " * 20, "HUB_JWT_SECRET is 16 bytes"),
])
def test_a_weak_secret_stops_the_command_with_one_line(args, hub_environment, secret, why):
    done = run_hub(args, environment(hub_environment, secret), timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hub: refused to start: " + why), lines
    assert "Traceback" not in done.stderr
    if len(secret.strip()) > 3:  # "a" occurs in any sentence
        assert secret.strip() not in done.stderr
