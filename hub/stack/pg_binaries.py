"""Finding (or installing) PostgreSQL's server binaries and the OS user that runs them.

Debian keeps them in ``/usr/lib/postgresql/<major>/bin`` (not on PATH). initdb and postgres
refuse to run as root, so as root every server command goes through ``runuser -u postgres``;
as a normal user they run directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from hub.stack.errors import StackError
from hub.stack.procs import run

SERVICE_USER = "postgres"
PACKAGE = "postgresql"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")


def _major(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.name.split("."))
    except ValueError:
        return (-1,)


def find_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<ver>/bin`` holding initdb, else initdb's dir on PATH."""
    candidates = sorted(
        (d for d in _DEBIAN_ROOT.glob("*/bin") if (d / "initdb").is_file()),
        key=lambda d: _major(d.parent),
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def is_root() -> bool:
    return os.geteuid() == 0


def ensure_bindir() -> Path:
    """The server bin dir; installs the Debian package when missing and we are root."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if not is_root() or shutil.which("apt-get") is None:
        raise StackError(
            f"PostgreSQL server binaries not found; install the `{PACKAGE}` package "
            f"(Debian/Ubuntu: sudo apt-get install -y {PACKAGE})"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], "apt-get update", env=env, timeout=600)
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE],
        f"apt-get install {PACKAGE}",
        env=env,
        timeout=900,
    )
    bindir = find_bindir()
    if bindir is None:
        raise StackError(f"installed `{PACKAGE}` but found no initdb under {_DEBIAN_ROOT}")
    return bindir


def service_user() -> pwd.struct_passwd | None:
    """The account servers run as when we are root (created if absent); None when not root."""
    if not is_root():
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        run(
            [*"useradd --system --user-group --no-create-home".split(), SERVICE_USER],
            f"creating OS user {SERVICE_USER}",
        )
        return pwd.getpwnam(SERVICE_USER)


def as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    return argv if user is None else ["runuser", "-u", user.pw_name, "--", *argv]


def server_env() -> dict[str, str]:
    """Our environment without PG* variables, which would override the explicit arguments."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, user.pw_uid, user.pw_gid)


def make_traversable(path: Path, user: pwd.struct_passwd | None) -> list[Path]:
    """chmod o+x on every ancestor of path the user could not enter; returns what changed."""
    if user is None:
        return []
    changed = []
    for parent in reversed(path.resolve().parents):
        st = parent.stat()
        if st.st_uid == user.pw_uid or st.st_mode & 0o001:
            continue
        if st.st_gid in os.getgrouplist(user.pw_name, user.pw_gid) and st.st_mode & 0o010:
            continue
        os.chmod(parent, st.st_mode | 0o001)
        changed.append(parent)
    return changed
