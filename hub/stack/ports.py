"""Loopback port helpers.

Ports are picked below the kernel's ephemeral range: outgoing client connections take their
local port from that range, and one of them could otherwise sit on a port we must re-bind
when a service is restarted on the same port.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path

LOOPBACK = "127.0.0.1"
_LOWEST = 15000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_free(port: int) -> bool:
    """True when a server could listen on the port now (SO_REUSEADDR, like Kafka and PostgreSQL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(exclude: Iterable[int] = ()) -> int:
    """A loopback port nothing listens on, outside the ephemeral range when possible."""
    taken = set(exclude)
    high = _ephemeral_low() - 1
    if high > _LOWEST:
        for port in random.sample(range(_LOWEST, high), 200):
            if port not in taken and port_is_free(port):
                return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
