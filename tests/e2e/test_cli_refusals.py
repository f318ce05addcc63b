"""Every `hub` command refuses bad arguments, bad settings and unreachable services the same
way: one line on stderr naming what is wrong, exit code 2, never a traceback. Each case runs
the command as a subprocess, as an operator would."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from producers.outbox import enqueue, install
from tests.conftest import TEST_ERASURE_KEY, settings_env
from tests.support.catalog import producer_database
from tests.support.events import completed
from tests.support.procs import HubProcess, run_hub
from toolkit.db import engine_for_url
from toolkit.settings import Settings

CLOSED_PORT = "127.0.0.1:1"  # nothing listens there: a service out of reach


def assert_refused(result: subprocess.CompletedProcess, says: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert says in lines[0], lines[0]
    assert result.stdout == "", result.stdout


@pytest.fixture(scope="module")
def plain_env(stack) -> dict[str, str]:
    """The shared services, no topics or migrations of its own: enough for every refusal that
    comes before any work."""
    return settings_env(Settings.model_validate({
        "environment": "test", "erasure_key": TEST_ERASURE_KEY,
        "kafka_bootstrap": stack.kafka_bootstrap, "database_url": stack.database_url}))


# (arguments, environment overrides, what the line says)
BEFORE_ANY_WORK = [
    (["replay", "missions", "--to", "yesterday"], {}, "--to 'yesterday' is not earliest"),
    (["replay", "nope", "--to", "earliest"], {}, "unknown consumer 'nope'"),
    (["replay", "missions"], {}, "Missing option '--to'"),
    (["rebuild", "nope"], {}, "unknown consumer 'nope'"),
    (["rebuild"], {}, "name one consumer, or --all"),
    (["rebuild", "missions", "--passes", "0"], {}, "--passes"),
    (["dlq", "list", "nope"], {}, "unknown consumer 'nope'"),
    (["dlq", "redrive", "missions", "1:x"], {}, "not a dead-letter reference: '1:x'"),
    (["dlq", "redrive", "missions"], {}, "give PARTITION:OFFSET references or --all"),
    (["dlq", "show", "missions", "seven"], {}, "not a dead-letter reference: 'seven'"),
    (["worker", "nope"], {}, "unknown consumer 'nope'"),
    (["worker"], {}, "give one consumer name"),
    (["api", "--port", "99999"], {}, "Invalid value for '--port'"),
    (["audit", "prune", "--older-than-days", "0"], {}, "--older-than-days must be at least 1"),
    (["publish-sample", "--count", "-1"], {}, "Invalid value for '--count'"),
    (["catalog", "load", "/no/such/catalog.json"], {}, "cannot read /no/such/catalog.json"),
    (["status", "--bogus"], {}, "No such option: --bogus"),
    (["status"], {"HUB_AUDIT_RETENTION_DAYS": "soon"}, "refused to start: HUB_AUDIT_RETENTION"),
    (["status"], {"HUB_DATABASE_URL": f"postgresql+asyncpg://hub@{CLOSED_PORT}/hub"},
     f"cannot reach the database {CLOSED_PORT}/hub"),
    (["dlq", "list", "missions"], {"HUB_KAFKA_BOOTSTRAP": CLOSED_PORT},
     f"cannot reach Kafka at {CLOSED_PORT}"),
    (["migrate"], {"HUB_DATABASE_URL": f"postgresql+asyncpg://hub@{CLOSED_PORT}/hub"},
     f"cannot reach the database {CLOSED_PORT}/hub"),
]


@pytest.mark.parametrize(("args", "env_update", "says"), BEFORE_ANY_WORK,
                         ids=[" ".join(case[0]) + (" (env)" if case[1] else "")
                              for case in BEFORE_ANY_WORK])
def test_a_refusal_is_one_line_and_exit_code_2(plain_env, args, env_update, says):
    assert_refused(run_hub(args, {**plain_env, **env_update}, timeout=120), says)


@pytest.mark.parametrize(("args", "says"), [
    (["replay", "missions", "--to", "99:0"], "no partition 99 in "),
    (["dlq", "redrive", "missions", "0:999999"], "no such dead letters: 0:999999"),
    (["dlq", "show", "missions", "0:999999"], "no dead letter 0:999999 for missions"),
])
def test_a_refusal_after_looking_is_one_line_too(settings, args, says):
    assert_refused(run_hub(args, settings_env(settings), timeout=120), says)


async def test_relay_once_refuses_rows_for_a_topic_the_broker_lacks(stack, settings, unique):
    async with producer_database(stack.database_url) as url:
        await install(url)
        engine = engine_for_url(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                inserting = enqueue(conn, completed(f"{unique}-0", minute=0),
                                    f"t{unique}.no-such-topic")
                assert inserting is not None  # an async connection: awaited
                await inserting
        finally:
            await engine.dispose()
        result = await asyncio.to_thread(
            run_hub, ["relay", "--once", "--database-url", url],
            settings_env(settings), 120)
    assert_refused(result, f"t{unique}.no-such-topic, which the broker at")


def test_a_worker_waits_for_a_broker_out_of_reach_and_says_so(plain_env, unique):
    """The choice for `hub worker`: wait for Kafka (workers may start before it), logging
    each attempt, rather than exit."""
    worker = HubProcess(["worker", "missions"], {**plain_env, "HUB_KAFKA_BOOTSTRAP": CLOSED_PORT,
                                                 "HUB_RETRY_MAX_SECONDS": "1"},
                        f"worker-waits-{unique}")
    try:
        deadline = time.monotonic() + 60
        while "the worker waits for it" not in worker.log_path.read_text(errors="replace"):
            assert worker.alive(), worker.log_tail()
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
        time.sleep(2)  # several attempts, still waiting
        assert worker.alive(), worker.log_tail()
        assert "Traceback" not in worker.log_path.read_text(errors="replace")
    finally:
        worker.stop()
