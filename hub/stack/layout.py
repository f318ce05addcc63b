"""Where the local stack keeps its files, derived from the project root.

Everything lives under ``<repo>/.stack`` (git-ignored) so the stack is per checkout and
``rm -rf .stack`` is a full reset; the env file path must match ``toolkit.settings.STACK_ENV_FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackLayout:
    root: Path

    @classmethod
    def for_project(cls, project_root: Path | None = None) -> StackLayout:
        if project_root is None:
            from toolkit.settings import PROJECT_ROOT

            project_root = PROJECT_ROOT
        return cls(Path(project_root).resolve() / ".stack")

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def env_file(self) -> Path:
        return self.root / "hub.env"

    @property
    def lock_file(self) -> Path:
        return self.root / "stack.lock"

    @property
    def jars_root(self) -> Path:
        return self.root / "kafka-jars"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka_dir / "log4j2.properties"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "kafka.log"

    @property
    def kafka_pid(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def pg_dir(self) -> Path:
        return self.root / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_dir / "run"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"
