"""The stack's public operations, shared by ``hub stack`` and pytest fixtures.

Every change runs under one cross-process lock and is idempotent: ``ensure_stack_up``
starts only what is not running, reusing ports from the state file. When the environment
points the hub at external services, nothing local is started or stopped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.stack import kafka, postgres
from hub.stack.envfile import (
    database_url_for,
    external_services,
    kafka_bootstrap_for,
    remove_env_file,
    write_env_file,
)
from hub.stack.errors import StackError
from hub.stack.layout import StackLayout
from hub.stack.lock import stack_lock
from hub.stack.pg_binaries import ensure_bindir, find_bindir, service_user
from hub.stack.probes import check_kafka, check_postgres
from hub.stack.state import StackState, allocate_state, load_state, save_state

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """Library callers get no chatter; the CLI passes its own printer."""


@dataclass(frozen=True)
class StackInfo:
    kafka_bootstrap: str
    database_url: str
    external: bool = False


def _layout(layout: StackLayout | None) -> StackLayout:
    return layout or StackLayout.for_project()


def _info(state: StackState) -> StackInfo:
    return StackInfo(kafka_bootstrap_for(state.kafka_port), database_url_for(state.postgres_port))


def external_config(layout: StackLayout | None = None) -> StackInfo | None:
    """The externally configured services, if HUB_KAFKA_BOOTSTRAP and HUB_DATABASE_URL say so."""
    state = load_state(_layout(layout).state_file)
    ours = (_info(state).kafka_bootstrap, _info(state).database_url) if state else None
    found = external_services(local=ours)
    return StackInfo(found[0], found[1], external=True) if found else None


def _refuse_external(layout: StackLayout, action: str) -> None:
    ext = external_config(layout)
    if ext is not None:
        raise StackError(
            f"cannot {action}: external services are configured "
            f"({ext.kafka_bootstrap}, {ext.database_url})"
        )


def _state(layout: StackLayout) -> StackState:
    """The saved state; when the file is lost, rebuilt from existing data before picking anew."""
    state = load_state(layout.state_file)
    if state is None:
        kafka_port, controller_port = kafka.previous_ports(layout.kafka_properties)
        state = allocate_state(
            kafka.existing_cluster_id(layout.kafka_data),
            kafka_port,
            controller_port,
            postgres.previous_port(layout.pg_data / "hub.conf"),
        )
        save_state(layout.state_file, state)
    return state


def _kafka_up(layout: StackLayout, state: StackState, say: Say) -> Callable[[], None]:
    """Start Kafka if needed; returns the wait for readiness, so PostgreSQL starts meanwhile."""
    where = kafka_bootstrap_for(state.kafka_port)
    running = kafka.running_pid(layout)
    if running is not None:
        known: int = running
        log_end = layout.kafka_log.stat().st_size if layout.kafka_log.exists() else 0

        def check_running() -> None:
            kafka.wait_ready(layout, state, known, log_end)
            say(f"kafka: already running on {where} (pid {known})")

        return check_running
    began = time.monotonic()
    pid, offset, downloaded = kafka.start(layout, state)
    if downloaded:
        say(f"kafka: fetched jars with mvn into {layout.jars_root}")

    def wait_started() -> None:
        kafka.wait_ready(layout, state, pid, offset)
        say(f"kafka: started on {where} (pid {pid}) in {time.monotonic() - began:.1f}s")

    return wait_started


def _postgres_up(layout: StackLayout, state: StackState, say: Say) -> None:
    where = f"127.0.0.1:{state.postgres_port}"
    pid = postgres.running_pid(layout)
    if pid is not None:
        problem = check_postgres(database_url_for(state.postgres_port))
        if problem:
            raise StackError(f"postgres runs (pid {pid}) but does not answer: {problem}")
        say(f"postgres: already running on {where} (pid {pid})")
        return
    began = time.monotonic()
    bindir, user = ensure_bindir(), service_user()
    if postgres.init(layout, bindir, user):
        say(f"postgres: initialized {layout.pg_data} with {bindir.parent.name} binaries")
    pid = postgres.start(layout, state, bindir, user)
    say(f"postgres: started on {where} (pid {pid}) in {time.monotonic() - began:.1f}s")


def ensure_stack_up(say: Say = _quiet, layout: StackLayout | None = None) -> StackInfo:
    """Make Kafka and PostgreSQL run (starting only what is down) and write ``.stack/hub.env``."""
    layout = _layout(layout)
    ext = external_config(layout)
    if ext is not None:
        say(f"external services configured: {ext.kafka_bootstrap}, {ext.database_url}")
        return ext
    with stack_lock(layout.lock_file):
        state = _state(layout)
        wait_kafka = _kafka_up(layout, state, say)
        _postgres_up(layout, state, say)
        wait_kafka()
        info = _info(state)
        write_env_file(layout.env_file, info.kafka_bootstrap, info.database_url)
    return info


def stack_down(purge: bool = False, say: Say = _quiet, layout: StackLayout | None = None) -> bool:
    """Stop both services and remove hub.env (purge: also data and ports); False when external."""
    layout = _layout(layout)
    ext = external_config(layout)
    if ext is not None:
        say("external services configured; nothing local to stop")
        return False
    with stack_lock(layout.lock_file):
        pid = kafka.stop(layout)
        say(f"kafka: stopped (pid {pid})" if pid else "kafka: was not running")
        pid = postgres.stop(layout, find_bindir(), service_user())
        say(f"postgres: stopped (pid {pid})" if pid else "postgres: was not running")
        remove_env_file(layout.env_file)
        if purge:
            for path in (layout.kafka_dir, layout.pg_dir):
                shutil.rmtree(path, ignore_errors=True)
            layout.state_file.unlink(missing_ok=True)
            say(f"purged {layout.kafka_dir}, {layout.pg_dir} and {layout.state_file}")
    return True


def stack_status(layout: StackLayout | None = None) -> dict[str, Any]:
    """What runs where: pids, ports, data dirs, and whether each service answers."""
    layout = _layout(layout)
    ext = external_config(layout)
    if ext is not None:
        kafka_problem = check_kafka(ext.kafka_bootstrap)
        pg_problem = check_postgres(ext.database_url)
        return {
            "mode": "external",
            "kafka": {
                "bootstrap": ext.kafka_bootstrap,
                "reachable": kafka_problem is None,
                "problem": kafka_problem,
            },
            "postgres": {
                "url": ext.database_url,
                "reachable": pg_problem is None,
                "problem": pg_problem,
            },
        }
    state = load_state(layout.state_file)
    kafka_pid, pg_pid = kafka.running_pid(layout), postgres.running_pid(layout)
    kafka_problem = pg_problem = "not configured (never brought up)"
    if state is not None:
        kafka_problem = check_kafka(kafka_bootstrap_for(state.kafka_port))
        pg_problem = check_postgres(database_url_for(state.postgres_port))
    return {
        "mode": "local",
        "state_file": str(layout.state_file),
        "env_file": str(layout.env_file) if layout.env_file.exists() else None,
        "kafka": {
            "running": kafka_pid is not None,
            "pid": kafka_pid,
            "port": state.kafka_port if state else None,
            "controller_port": state.controller_port if state else None,
            "bootstrap": kafka_bootstrap_for(state.kafka_port) if state else None,
            "data_dir": str(layout.kafka_data),
            "log": str(layout.kafka_log),
            "reachable": kafka_problem is None,
            "problem": kafka_problem,
        },
        "postgres": {
            "running": pg_pid is not None,
            "pid": pg_pid,
            "port": state.postgres_port if state else None,
            "url": database_url_for(state.postgres_port) if state else None,
            "data_dir": str(layout.pg_data),
            "log": str(layout.pg_log),
            "reachable": pg_problem is None,
            "problem": pg_problem,
        },
    }


def kafka_stop(hard: bool = False, layout: StackLayout | None = None) -> None:
    """Stop the local broker; hard=True is SIGKILL (a crash), else a clean shutdown."""
    layout = _layout(layout)
    _refuse_external(layout, "stop kafka")
    with stack_lock(layout.lock_file):
        kafka.stop(layout, hard=hard)


def kafka_start(layout: StackLayout | None = None) -> StackInfo:
    """Start the local broker on its recorded port (no-op when running); wait until it answers."""
    layout = _layout(layout)
    _refuse_external(layout, "start kafka")
    with stack_lock(layout.lock_file):
        state = _state(layout)
        _kafka_up(layout, state, _quiet)()
        return _info(state)


def kafka_restart(hard: bool = False, layout: StackLayout | None = None) -> StackInfo:
    """Stop (SIGKILL when hard) and start the broker again, same port and data."""
    layout = _layout(layout)
    with stack_lock(layout.lock_file):
        kafka_stop(hard=hard, layout=layout)
        return kafka_start(layout=layout)


def postgres_stop(mode: str = "fast", layout: StackLayout | None = None) -> None:
    """Stop local PostgreSQL; mode is pg_ctl's: smart, fast or immediate (a crash)."""
    layout = _layout(layout)
    _refuse_external(layout, "stop postgres")
    with stack_lock(layout.lock_file):
        postgres.stop(layout, find_bindir(), service_user(), mode=mode)


def postgres_start(layout: StackLayout | None = None) -> StackInfo:
    """Start local PostgreSQL on its recorded port (no-op when running)."""
    layout = _layout(layout)
    _refuse_external(layout, "start postgres")
    with stack_lock(layout.lock_file):
        state = _state(layout)
        _postgres_up(layout, state, _quiet)
        return _info(state)


def postgres_restart(mode: str = "fast", layout: StackLayout | None = None) -> StackInfo:
    """Stop (pg_ctl -m mode) and start PostgreSQL again, same port and data."""
    layout = _layout(layout)
    with stack_lock(layout.lock_file):
        postgres_stop(mode=mode, layout=layout)
        return postgres_start(layout=layout)


@dataclass(frozen=True)
class Standby:
    """A streaming hot standby of the stack's PostgreSQL (see `standby`)."""

    port: int
    data_dir: Path

    def database_url(self, primary_url: str) -> str:
        """`primary_url` (any database of the primary) pointed at this standby."""
        from sqlalchemy.engine import make_url

        return make_url(primary_url).set(port=self.port).render_as_string(hide_password=False)


@contextmanager
def standby(primary_url: str, layout: StackLayout | None = None) -> Iterator[Standby]:
    """A streaming replica of the PostgreSQL at `primary_url` (pg_basebackup -R, its own free
    port, its data under `.stack/pg-standby-<port>`), stopped and deleted on exit."""
    from sqlalchemy.engine import make_url

    from hub.stack.ports import free_port

    layout = layout or StackLayout.for_project()
    bindir, user = ensure_bindir(), service_user()
    port = free_port()
    data_dir = layout.root / f"pg-standby-{port}" / "data"
    primary_port = make_url(primary_url).port or 5432
    try:
        postgres.start_standby(primary_port, data_dir, port, bindir, user)
        yield Standby(port, data_dir)
    finally:
        postgres.stop_standby(data_dir, bindir, user)
        shutil.rmtree(data_dir.parent, ignore_errors=True)
