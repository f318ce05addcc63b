"""One KRaft Kafka broker (broker and controller in one JVM) on loopback.

Started detached in its own session with a pid file, so it outlives the ``hub stack up``
that started it and can be stopped later by process group. Storage is formatted once;
restarts reuse ``.stack/kafka/data`` and the ports from the state file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hub.stack.envfile import kafka_bootstrap_for
from hub.stack.errors import StackError
from hub.stack.kafka_jars import ensure_kafka_jars, require_java
from hub.stack.layout import StackLayout
from hub.stack.ports import LOOPBACK, port_is_free
from hub.stack.probes import check_kafka
from hub.stack.procs import (
    find_process,
    log_tail,
    process_alive,
    read_pid,
    run,
    spawn_detached,
    stop_group,
    wait_for,
)
from hub.stack.state import StackState

READY_TIMEOUT = 120.0  # a JVM start on a loaded 2-core machine has taken over 60 s
STOP_TIMEOUT = 30.0
LOG_ROTATE_BYTES = 50 * 1024 * 1024


def render_server_properties(state: StackState, data_dir: Path) -> str:
    """Broker config; the short broker session lets a SIGKILLed broker re-register in ~3 s
    instead of the default 9 s of DUPLICATE_BROKER_REGISTRATION after a hard restart."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{state.controller_port}",
        "listeners": (
            f"PLAINTEXT://{LOOPBACK}:{state.kafka_port},CONTROLLER://{LOOPBACK}:{state.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{state.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def render_log4j2() -> str:
    return "\n".join(
        [
            "status = warn",
            "appender.out.type = Console",
            "appender.out.name = OUT",
            "appender.out.layout.type = PatternLayout",
            "appender.out.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.out.ref = OUT",
            "logger.statechange.name = state.change.logger",
            "logger.statechange.level = WARN",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "logger.configdump.name = org.apache.kafka.common.config.AbstractConfig",
            "logger.configdump.level = WARN",
            "",
        ]
    )


def existing_cluster_id(data_dir: Path) -> str | None:
    """The cluster id a formatted log dir was made with (it must not change)."""
    try:
        for line in (data_dir / "meta.properties").read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def previous_ports(properties: Path) -> tuple[int | None, int | None]:
    """(broker, controller) ports of an earlier run; the controller's is recorded in KRaft's log."""
    found: dict[str, int] = {}
    try:
        text = properties.read_text()
    except OSError:
        return None, None
    for line in text.splitlines():
        if line.startswith("listeners="):
            for listener in line.split("=", 1)[1].split(","):
                name, _, address = listener.partition("://")
                found[name] = int(address.rsplit(":", 1)[1])
    return found.get("PLAINTEXT"), found.get("CONTROLLER")


def _marker(layout: StackLayout) -> str:
    return str(layout.kafka_properties)


def running_pid(layout: StackLayout) -> int | None:
    """Pid of our broker, or None; a stale pid file is removed, a lost one rewritten."""
    pid = read_pid(layout.kafka_pid)
    if pid is not None and process_alive(pid, _marker(layout)):
        return pid
    layout.kafka_pid.unlink(missing_ok=True)
    pid = find_process(_marker(layout), "kafka.Kafka")
    if pid is not None:
        layout.kafka_pid.write_text(f"{pid}\n")
    return pid


def _java_argv(java: str, jar_dir: Path, layout: StackLayout, main: str) -> list[str]:
    return [
        java,
        "-Xmx1g",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.kafka_log4j}",
        f"-Dkafka.logs.dir={layout.kafka_dir}",
        "-cp",
        f"{jar_dir}/*",
        main,
    ]


def _format_storage(java: str, jar_dir: Path, layout: StackLayout, state: StackState) -> None:
    if existing_cluster_id(layout.kafka_data) is not None:
        return
    shutil.rmtree(layout.kafka_data, ignore_errors=True)
    argv = _java_argv(java, jar_dir, layout, "kafka.tools.StorageTool")
    argv += ["format", "--standalone", "-t", state.cluster_id, "-c", str(layout.kafka_properties)]
    try:
        run(argv, "kafka storage format", cwd=layout.kafka_dir, timeout=120)
    except StackError:
        shutil.rmtree(layout.kafka_data, ignore_errors=True)
        raise


def start(layout: StackLayout, state: StackState) -> tuple[int, int, bool]:
    """Start the broker without waiting; returns (pid, log offset, whether mvn ran)."""
    java = require_java()
    jar_dir, downloaded = ensure_kafka_jars(layout.jars_root)
    for port in (state.kafka_port, state.controller_port):
        if not port_is_free(port):
            raise StackError(
                f"kafka port {port} (from {layout.state_file}) is taken by another process; "
                "free it or run `hub stack down --purge` to pick new ports"
            )
    layout.kafka_dir.mkdir(parents=True, exist_ok=True)
    layout.kafka_properties.write_text(render_server_properties(state, layout.kafka_data))
    layout.kafka_log4j.write_text(render_log4j2())
    _format_storage(java, jar_dir, layout, state)
    if layout.kafka_log.exists() and layout.kafka_log.stat().st_size > LOG_ROTATE_BYTES:
        os.replace(layout.kafka_log, layout.kafka_log.with_suffix(".log.1"))
    with open(layout.kafka_log, "a") as log:
        log.write(f"\n===== hub stack: starting kafka on {LOOPBACK}:{state.kafka_port} =====\n")
    offset = layout.kafka_log.stat().st_size
    argv = _java_argv(java, jar_dir, layout, "kafka.Kafka") + [str(layout.kafka_properties)]
    pid = spawn_detached(argv, layout.kafka_log, cwd=layout.kafka_dir, env=os.environ)
    layout.kafka_pid.write_text(f"{pid}\n")
    return pid, offset, downloaded


def wait_ready(
    layout: StackLayout, state: StackState, pid: int, offset: int, timeout: float = READY_TIMEOUT
) -> None:
    """Block until the broker answers metadata; on death or timeout stop it and show its log."""
    bootstrap = kafka_bootstrap_for(state.kafka_port)
    problem: str | None = "not probed yet"

    def alive() -> bool:
        return process_alive(pid, _marker(layout))

    def settled() -> bool:
        nonlocal problem
        if not alive():
            return True
        problem = check_kafka(bootstrap, timeout=3.0)
        return problem is None

    wait_for(settled, timeout, interval=0.2)
    if alive() and problem is None:
        return
    reason = f"did not answer metadata within {timeout:.0f}s ({problem})" if alive() else "exited"
    stop(layout, hard=True)
    raise StackError(
        f"kafka {reason}; log {layout.kafka_log}:\n{log_tail(layout.kafka_log, start=offset)}"
    )


def stop(layout: StackLayout, hard: bool = False, timeout: float = STOP_TIMEOUT) -> int | None:
    """Stop our broker (SIGTERM, SIGKILL after timeout; SIGKILL at once when hard)."""
    pid = running_pid(layout)
    if pid is not None:
        stop_group(pid, timeout, hard=hard)
    layout.kafka_pid.unlink(missing_ok=True)
    return pid
