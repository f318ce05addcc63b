"""Process plumbing shared by the Kafka and PostgreSQL modules.

Pid files go stale (the process died, or the pid now belongs to something else), and a
dead child that nobody reaps still answers ``kill(pid, 0)``; so "alive" here means: exists,
is not a zombie, and its command line contains a marker that identifies our service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hub.stack.errors import StackError

_children: dict[int, subprocess.Popen[bytes]] = {}


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def process_alive(pid: int | None, marker: str) -> bool:
    """True when pid runs, is not a zombie, and its command line contains marker."""
    if not pid or pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return False
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return marker in _cmdline(pid)


def find_process(*markers: str) -> int | None:
    """A live process whose command line has every marker (an orphan that lost its pid file)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if all(m in _cmdline(pid) for m in markers) and process_alive(pid, markers[0]):
                return pid
    return None


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process is left in process group pgid."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
            return True
    return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll predicate until it holds or timeout passes; returns its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def spawn_detached(
    argv: Sequence[str], log_path: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start argv in its own session (so Ctrl-C of the caller does not reach it), output to log."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc.pid


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(pid: int, timeout: float, hard: bool = False) -> None:
    """SIGTERM (or SIGKILL when hard) the group led by pid, SIGKILL after timeout, wait for exit."""

    def gone() -> bool:
        return not group_alive(pid) and not _still_child(pid)

    if not hard:
        _signal_group(pid, signal.SIGTERM)
    if hard or not wait_for(gone, timeout):
        _signal_group(pid, signal.SIGKILL)
        if not wait_for(gone, 15):
            raise StackError(f"process group {pid} survived SIGKILL")
    wait_reaped(pid)


def wait_reaped(pid: int, timeout: float = 5.0) -> bool:
    """Best effort: give the parent (often init) time to reap the exited pid, so no zombie shows."""
    _still_child(pid)
    return wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout)


def _still_child(pid: int) -> bool:
    child = _children.get(pid)
    if child is None:
        return False
    if child.poll() is None:
        return True
    del _children[pid]
    return False


def log_tail(path: Path, lines: int = 40, start: int = 0) -> str:
    """The last lines of a log file, from byte offset start on."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def run(
    argv: Sequence[str],
    what: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; on failure raise StackError carrying its output."""
    try:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {argv[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: no answer within {timeout:.0f}s") from exc
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise StackError(f"{what} failed (exit {result.returncode}):\n{output[-4000:]}")
    return result
