"""Running consumer workers: one faust app per process, or a supervisor over all of them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import faust
from prometheus_client import start_http_server

from hub.projections import all_projections
from toolkit.logs import configure as configure_logs
from toolkit.settings import Settings
from toolkit.streaming.faust_app import create_app

log = logging.getLogger(__name__)


def run_worker(name: str, settings: Settings) -> None:
    """Run the named projection's worker in this process until SIGTERM/SIGINT."""
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.api_host)
    build_worker(name, settings).execute_from_commandline()


def build_worker(name: str, settings: Settings) -> faust.Worker:
    """The faust worker of one projection, its logs in JSON at the configured level."""
    app = create_app(all_projections(settings)[name], settings)
    app.conf.loghandlers = [configure_logs(settings.log_level)]
    # faust's own plain-text handler goes to /dev/null; the JSON handler above carries all.
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False, logfile=os.devnull)
    # faust's terminal spinner, at WARNING and above, turns the root logger to DEBUG so it can
    # spin on every record: every debug call of faust and aiokafka then builds a record
    # (~8% of a worker's CPU, measured with py-spy). No terminal here, no spinner.
    worker.spinner = None
    return worker


def supervise_all(names: list[str], base_port: int = 0) -> int:
    """Run every worker as its own process (each its own consumer group, crash-isolated),
    restarting one that dies, until this process is told to stop."""
    stopping = False
    children: dict[str, subprocess.Popen] = {}
    restarts: dict[str, float] = {}

    def spawn(name: str) -> subprocess.Popen:
        env = dict(os.environ)
        if base_port:
            env["HUB_WORKER_METRICS_PORT"] = str(base_port + names.index(name))
        return subprocess.Popen([sys.executable, "-m", "hub.cli", "worker", name], env=env)

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for name in names:
        children[name] = spawn(name)
    while not stopping:
        for name, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            delay = min(30.0, 2 * restarts.get(name, 0.5))
            restarts[name] = delay
            log.error("worker %s exited with %s; restarting in %.1fs", name, code, delay)
            time.sleep(delay)
            children[name] = spawn(name)
        time.sleep(0.5)
    for child in children.values():
        child.terminate()
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0
