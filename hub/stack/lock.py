"""A cross-process lock around stack changes.

Several engineers, test sessions and CLI calls share one stack; without the lock two
concurrent ``up`` calls would both start a broker. The lock is re-entrant inside a process
because flock locks held through different descriptors conflict even in one process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_guard = threading.RLock()
_held: dict[Path, tuple[int, int]] = {}


@contextmanager
def stack_lock(path: Path) -> Iterator[None]:
    with _guard:
        fd, depth = _held.get(path, (-1, 0))
        if depth == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[path]
            if depth == 1:
                del _held[path]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            else:
                _held[path] = (fd, depth - 1)
