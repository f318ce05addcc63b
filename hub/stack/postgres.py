"""One PostgreSQL cluster in ``.stack/pg/data``, listening on loopback only.

Its settings live in ``hub.conf`` inside the data dir (included from postgresql.conf and
rewritten on every start from the state file), so a plain ``pg_ctl start`` would also bring
it back on the same port. Authentication is ``trust``: nothing but loopback can connect.
"""

from __future__ import annotations

import pwd
import shutil
from pathlib import Path

from hub.stack.errors import StackError
from hub.stack.layout import StackLayout
from hub.stack.pg_binaries import as_user, chown_tree, make_traversable, server_env
from hub.stack.ports import LOOPBACK, port_is_free
from hub.stack.procs import (
    group_alive,
    log_tail,
    process_alive,
    read_pid,
    run,
    stop_group,
    wait_for,
    wait_reaped,
)
from hub.stack.state import StackState

ROLE = "hub"
DATABASE = "hub"
MAX_CONNECTIONS = 200
_INCLUDE = "include_if_exists = 'hub.conf'"
_SOCKET_PATH_MAX = 107


def render_postgres_conf(port: int, socket_dir: Path | None) -> str:
    sockets = str(socket_dir) if socket_dir is not None else ""
    return "".join(
        f"{key} = {value}\n"
        for key, value in [
            ("listen_addresses", f"'{LOOPBACK}'"),
            ("port", str(port)),
            ("unix_socket_directories", f"'{sockets}'"),
            ("max_connections", str(MAX_CONNECTIONS)),
        ]
    )


def previous_port(hub_conf: Path) -> int | None:
    """The port an earlier run used, from the data dir's hub.conf."""
    try:
        text = hub_conf.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "port":
            return int(value.strip())
    return None


def _socket_dir(layout: StackLayout) -> Path | None:
    """The socket dir, or None when its socket path would exceed the kernel's limit."""
    path = layout.pg_socket_dir
    return path if len(str(path / ".s.PGSQL.65535")) <= _SOCKET_PATH_MAX else None


def running_pid(layout: StackLayout) -> int | None:
    """The postmaster's pid, or None when postmaster.pid is absent or stale."""
    pid = read_pid(layout.pg_data / "postmaster.pid")
    return pid if process_alive(pid, str(layout.pg_data)) else None


def _clear_crash_leftovers(layout: StackLayout) -> None:
    """After a crash, postgres refuses to start while its lock files name a pid that still
    exists; an unreaped zombie postmaster does, so lock files of a dead postmaster are removed
    once its children (which exit on postmaster death) are gone."""
    pid_file = layout.pg_data / "postmaster.pid"
    pid = read_pid(pid_file)
    if pid is None or process_alive(pid, str(layout.pg_data)):
        return
    if not wait_for(lambda: not group_alive(pid), 10):
        stop_group(pid, 5, hard=True)
    pid_file.unlink(missing_ok=True)
    for lock in layout.pg_socket_dir.glob(".s.PGSQL.*.lock"):
        if read_pid(lock) == pid:
            lock.unlink(missing_ok=True)


def initialized(layout: StackLayout) -> bool:
    return (layout.pg_data / "PG_VERSION").is_file()


def init(layout: StackLayout, bindir: Path, user: pwd.struct_passwd | None) -> bool:
    """initdb once (superuser ``hub``, trust auth, UTF8, C locale); True when it ran."""
    if initialized(layout):
        return False
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(layout.pg_data, ignore_errors=True)
    chown_tree(layout.pg_dir, user)
    make_traversable(layout.pg_dir, user)
    flags = "-A trust --encoding UTF8 --no-locale --no-instructions".split()
    argv = [str(bindir / "initdb"), "-D", str(layout.pg_data), "-U", ROLE, *flags]
    try:
        run(as_user(argv, user), "initdb", cwd=layout.pg_dir, env=server_env(), timeout=300)
    except StackError:
        shutil.rmtree(layout.pg_data, ignore_errors=True)
        raise
    conf = layout.pg_data / "postgresql.conf"
    conf.write_text(conf.read_text() + f"\n{_INCLUDE}\n")
    return True


def start(
    layout: StackLayout, state: StackState, bindir: Path, user: pwd.struct_passwd | None
) -> int:
    """Start the cluster (pg_ctl -w), create database ``hub``; returns the postmaster pid."""
    if not port_is_free(state.postgres_port):
        raise StackError(
            f"postgres port {state.postgres_port} (from {layout.state_file}) is taken by another "
            "process; free it or run `hub stack down --purge` to pick new ports"
        )
    _clear_crash_leftovers(layout)
    socket_dir = _socket_dir(layout)
    if socket_dir is not None:
        socket_dir.mkdir(parents=True, exist_ok=True)
    (layout.pg_data / "hub.conf").write_text(render_postgres_conf(state.postgres_port, socket_dir))
    layout.pg_log.touch()
    chown_tree(layout.pg_dir, user)
    make_traversable(layout.pg_dir, user)
    offset = layout.pg_log.stat().st_size
    argv = [str(bindir / "pg_ctl"), "-D", str(layout.pg_data), "-l", str(layout.pg_log)]
    argv += ["-w", "-t", "60", "start"]
    try:
        run(as_user(argv, user), "pg_ctl start", cwd=layout.pg_dir, env=server_env(), timeout=90)
    except StackError as exc:
        tail = log_tail(layout.pg_log, start=offset)
        raise StackError(f"{exc}\nlog {layout.pg_log}:\n{tail}") from exc
    pid = running_pid(layout)
    if pid is None:
        raise StackError(f"pg_ctl reported success but no postmaster runs; see {layout.pg_log}")
    ensure_database(bindir, state.postgres_port)
    return pid


def _psql(bindir: Path, port: int, sql: str) -> str:
    argv = [str(bindir / "psql"), *"-X -q -v ON_ERROR_STOP=1 -d postgres".split()]
    argv += ["-h", LOOPBACK, "-p", str(port), "-U", ROLE, "-tAc", sql]
    return run(argv, f"psql: {sql}", env=server_env(), timeout=60).stdout.strip()


def ensure_database(bindir: Path, port: int) -> None:
    if _psql(bindir, port, f"select 1 from pg_database where datname = '{DATABASE}'") != "1":
        _psql(bindir, port, f'create database "{DATABASE}" owner "{ROLE}"')


def stop(
    layout: StackLayout, bindir: Path | None, user: pwd.struct_passwd | None, mode: str = "fast"
) -> int | None:
    """pg_ctl stop -m mode; kills the postmaster's group if pg_ctl cannot. Returns the old pid."""
    pid = running_pid(layout)
    if pid is None:
        return None
    if bindir is not None:
        argv = [str(bindir / "pg_ctl"), "-D", str(layout.pg_data), "-m", mode, "-w", "-t", "60"]
        argv.append("stop")
        run(
            as_user(argv, user),
            "pg_ctl stop",
            cwd=layout.pg_dir,
            env=server_env(),
            timeout=90,
            check=False,
        )
    if wait_for(lambda: not group_alive(pid), 10):
        wait_reaped(pid)
    else:
        stop_group(pid, 10, hard=True)
    return pid


# --- a streaming standby of a running primary (read replicas; tests/integration) -------------


def start_standby(primary_port: int, data_dir: Path, port: int, bindir: Path,
                  user: pwd.struct_passwd | None) -> int:
    """Copy the primary on `primary_port` with `pg_basebackup -R` (a standby.signal and the
    primary's conninfo; WAL streamed during the copy) into `data_dir`, give the copy its own
    port, and start it as a hot standby; returns its postmaster pid. The primary needs
    nothing special: the stack's trust authentication allows replication on loopback and
    PostgreSQL's defaults (wal_level replica, max_wal_senders 10) allow a sender."""
    if not port_is_free(port):
        raise StackError(f"standby port {port} is taken by another process")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    chown_tree(data_dir.parent, user)
    make_traversable(data_dir.parent, user)
    argv = [str(bindir / "pg_basebackup"), "-h", LOOPBACK, "-p", str(primary_port), "-U", ROLE,
            "-D", str(data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
    run(as_user(argv, user), "pg_basebackup", cwd=data_dir.parent, env=server_env(),
        timeout=600)
    # The copy holds the primary's hub.conf (its port and socket dir): this one's own instead.
    (data_dir / "hub.conf").write_text(render_postgres_conf(port, None))
    log = data_dir.parent / f"{data_dir.name}.log"
    log.touch()
    chown_tree(data_dir.parent, user)
    argv = [str(bindir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-w", "-t", "60",
            "start"]
    try:
        run(as_user(argv, user), "pg_ctl start (standby)", cwd=data_dir.parent,
            env=server_env(), timeout=90)
    except StackError as exc:
        raise StackError(f"{exc}\nlog {log}:\n{log_tail(log)}") from exc
    pid = read_pid(data_dir / "postmaster.pid")
    if pid is None or not process_alive(pid, str(data_dir)):
        raise StackError(f"pg_ctl reported success but no standby runs; see {log}")
    return pid


def stop_standby(data_dir: Path, bindir: Path, user: pwd.struct_passwd | None) -> None:
    """Stop the standby in `data_dir` (fast) and delete it."""
    pid = read_pid(data_dir / "postmaster.pid")
    if pid is not None and process_alive(pid, str(data_dir)):
        argv = [str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "-t", "60",
                "stop"]
        run(as_user(argv, user), "pg_ctl stop (standby)", cwd=data_dir.parent,
            env=server_env(), timeout=90, check=False)
        if not wait_for(lambda: not group_alive(pid), 10):
            stop_group(pid, 10, hard=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    (data_dir.parent / f"{data_dir.name}.log").unlink(missing_ok=True)
