"""How the hub learns where the stack is: ``.stack/hub.env`` and ``hub stack env``.

Real environment variables win over the file (pydantic-settings), which is also how an
operator points the hub at external services; when both variables are set and do not name
our own stack, the stack must leave local services alone.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from hub.stack.ports import LOOPBACK

KAFKA_VAR = "HUB_KAFKA_BOOTSTRAP"
DATABASE_VAR = "HUB_DATABASE_URL"


def kafka_bootstrap_for(port: int) -> str:
    return f"{LOOPBACK}:{port}"


def database_url_for(port: int) -> str:
    return f"postgresql+asyncpg://hub@{LOOPBACK}:{port}/hub"


def render_env_file(kafka_bootstrap: str, database_url: str) -> str:
    return f"{KAFKA_VAR}={kafka_bootstrap}\n{DATABASE_VAR}={database_url}\n"


def render_export(kafka_bootstrap: str, database_url: str) -> str:
    return (
        f"export {KAFKA_VAR}={shlex.quote(kafka_bootstrap)} "
        f"{DATABASE_VAR}={shlex.quote(database_url)}"
    )


def write_env_file(path: Path, kafka_bootstrap: str, database_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_env_file(kafka_bootstrap, database_url))
    os.replace(tmp, path)


def remove_env_file(path: Path) -> None:
    path.unlink(missing_ok=True)


def external_services(
    environ: Mapping[str, str] | None = None, local: tuple[str, str] | None = None
) -> tuple[str, str] | None:
    """(bootstrap, url) when the environment configures both services and they are not ours.

    ``local`` is what our own stack would export; values equal to it (e.g. after
    ``eval "$(hub stack env)"``) still count as the local stack.
    """
    env = os.environ if environ is None else environ
    bootstrap, url = env.get(KAFKA_VAR, "").strip(), env.get(DATABASE_VAR, "").strip()
    if not bootstrap or not url or (bootstrap, url) == local:
        return None
    return bootstrap, url
