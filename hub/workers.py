"""Running consumer workers: one faust app per process, or a supervisor over all of them."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import time

import faust
from aiokafka.errors import KafkaConnectionError
from prometheus_client import start_http_server

from hub.bootstrap import worker_runtime
from hub.projections import all_projections
from toolkit import kafka
from toolkit.logs import configure as configure_logs
from toolkit.settings import Settings
from toolkit.streaming.faults import backoff_seconds
from toolkit.streaming.faust_app import create_app

log = logging.getLogger(__name__)

# `hub worker --all` restarts a worker that died after RESTART_DELAY_FIRST seconds, doubling
# the delay on each quick death up to RESTART_DELAY_MAX; a worker that had run for
# HEALTHY_RUN_SECONDS before dying starts again from the first delay (its death is news,
# not the same fault again).
RESTART_DELAY_FIRST = 1.0
RESTART_DELAY_MAX = 30.0
HEALTHY_RUN_SECONDS = 60.0
SUPERVISOR_POLL_SECONDS = 0.5


def run_worker(name: str, settings: Settings) -> None:
    """Run the named projection's worker in this process until SIGTERM/SIGINT. A broker out
    of reach at start is waited for (logged at each attempt), as a database is: workers may
    start before the broker does (compose, a reboot)."""
    configure_logs(settings.log_level)
    wait_for_kafka(settings)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.api_host)
    build_worker(name, settings).execute_from_commandline()


def wait_for_kafka(settings: Settings) -> None:
    """Return once the broker answers; until then log why and try again with backoff."""
    rng = random.Random()
    attempt = 0
    while True:
        try:
            asyncio.run(_reach(settings.kafka_bootstrap))
            return
        except KafkaConnectionError as exc:
            delay = backoff_seconds(attempt, settings.retry_initial_seconds,
                                    settings.retry_max_seconds, rng)
            log.warning("Kafka at %s is out of reach; the worker waits for it (attempt %d, "
                        "next in %.1fs): %s", settings.kafka_bootstrap, attempt + 1, delay, exc)
            attempt += 1
            time.sleep(delay)


async def _reach(bootstrap: str) -> None:
    client = kafka.admin(bootstrap)
    await client.start()  # bootstraps the cluster's metadata, or raises KafkaConnectionError
    await client.close()


def build_worker(name: str, settings: Settings) -> faust.Worker:
    """The faust worker of one projection, its logs in JSON at the configured level."""
    projection = all_projections(settings)[name]
    app = create_app(projection, settings, worker_runtime(projection, settings))
    app.conf.loghandlers = [configure_logs(settings.log_level)]
    # faust's own plain-text handler goes to /dev/null; the JSON handler above carries all.
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False, logfile=os.devnull)
    # faust's terminal spinner, at WARNING and above, turns the root logger to DEBUG so it can
    # spin on every record: every debug call of faust and aiokafka then builds a record
    # (~8% of a worker's CPU, measured with py-spy). No terminal here, no spinner.
    worker.spinner = None
    return worker


def next_restart_delay(previous: float | None, ran_for: float) -> float:
    """Seconds to wait before restarting a worker that died after running `ran_for` seconds;
    `previous` is the delay before its last restart (None: never restarted)."""
    if previous is None or ran_for >= HEALTHY_RUN_SECONDS:
        return RESTART_DELAY_FIRST
    return min(RESTART_DELAY_MAX, previous * 2)


def supervise_all(names: list[str], base_port: int = 0) -> int:
    """Run every worker as its own process (each its own consumer group, crash-isolated),
    restarting one that dies (`next_restart_delay`), until this process is told to stop.
    A worker waiting for its restart does not hold up watching the others."""
    stopping = False
    children: dict[str, subprocess.Popen[bytes]] = {}
    started: dict[str, float] = {}
    delays: dict[str, float] = {}
    restart_at: dict[str, float] = {}

    def spawn(name: str) -> None:
        env = dict(os.environ)
        if base_port:
            env["HUB_WORKER_METRICS_PORT"] = str(base_port + names.index(name))
        children[name] = subprocess.Popen([sys.executable, "-m", "hub.cli", "worker", name],
                                          env=env)
        started[name] = time.monotonic()

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for name in names:
        spawn(name)
    while not stopping:
        now = time.monotonic()
        for name, due in list(restart_at.items()):
            if now >= due:
                del restart_at[name]
                spawn(name)
        for name, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[name]
            delay = next_restart_delay(delays.get(name), now - started[name])
            delays[name] = delay
            restart_at[name] = now + delay
            log.error("worker %s exited with %s after %.0fs; restarting in %.1fs",
                      name, code, now - started[name], delay)
        time.sleep(SUPERVISOR_POLL_SECONDS)
    for child in children.values():
        child.terminate()
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0
