"""The stack's persistent choices (ports, Kafka cluster id) in ``.stack/state.json``.

Ports are chosen once and kept so that restarts, ``down``/``up`` cycles and every client's
configuration keep pointing at the same addresses.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from hub.stack.errors import StackError
from hub.stack.ports import free_port


@dataclass(frozen=True)
class StackState:
    kafka_port: int
    controller_port: int
    postgres_port: int
    cluster_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StackState:
        data = json.loads(text)
        return cls(
            kafka_port=int(data["kafka_port"]),
            controller_port=int(data["controller_port"]),
            postgres_port=int(data["postgres_port"]),
            cluster_id=str(data["cluster_id"]),
        )


def new_cluster_id() -> str:
    """A Kafka cluster id: unpadded base64url of 16 random bytes, as kafka-storage makes them."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def allocate_state(
    cluster_id: str | None = None,
    kafka_port: int | None = None,
    controller_port: int | None = None,
    postgres_port: int | None = None,
) -> StackState:
    """New choices; known values (recovered from existing data) are kept, the rest picked fresh."""
    kafka = kafka_port or free_port()
    controller = controller_port or free_port(exclude={kafka})
    postgres = postgres_port or free_port(exclude={kafka, controller})
    return StackState(kafka, controller, postgres, cluster_id or new_cluster_id())


def load_state(path: Path) -> StackState | None:
    try:
        return StackState.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(f"{path} is unreadable ({exc}); delete it to pick new ports") from exc


def save_state(path: Path, state: StackState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)
