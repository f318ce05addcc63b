"""What /proc says about a process: peak RSS, CPU time, and the CPU of a whole service.

Peak RSS is VmHWM read while the process lives (a child's `ru_maxrss` would count its
parent's RSS until `exec`).
"""

from __future__ import annotations

import os


def status_mb(pid: int, field: str = "VmHWM") -> float | None:
    """A memory figure of a live process (VmHWM: its peak RSS), in MB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()  # fields from the 3rd (state) on
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a live process has used so far."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_cpu_s(pid: int) -> float | None:
    """CPU seconds of a service and all its processes: its own, its exited children's (reaped,
    so counted in its cutime/cstime) and its live children's. A PostgreSQL postmaster's
    backends come and go; this sum still sees their CPU."""
    fields = _stat(pid)
    if fields is None:
        return None
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (child := _stat(int(entry))) is not None and child[1] == str(pid):
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stack_pids() -> dict[str, int]:
    """Pids of the local stack's Kafka and PostgreSQL (none when the hub points elsewhere)."""
    from hub.stack.api import stack_status

    status = stack_status()
    if status.get("mode") != "local":
        return {}
    return {name: status[name]["pid"] for name in ("kafka", "postgres")
            if isinstance(status.get(name), dict) and status[name].get("pid")}
