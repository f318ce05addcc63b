"""Writes the JSON Schema of every event type the hub knows into `schemas/jsonschema/`.

Run `python -m schemas.generate` after changing an event model; `tests/unit/test_schemas.py`
fails while the checked-in files differ from what the models produce. One file per event type
and schema version, named `<event_type>.v<schema_version>.json`, describing the whole event
(envelope plus `data`) with `event_type` and `schema_version` pinned to their constants.
Output is deterministic: sorted keys, two-space indent, a trailing newline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.base import EventData
from schemas.registry import CURRENT

SCHEMA_DIR = Path(__file__).resolve().parent / "jsonschema"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:profiler-integration-hub:jsonschema:"


def filename(event_type: str, schema_version: int) -> str:
    return f"{event_type}.v{schema_version}.json"


def schema_for(payload_model: type[EventData], event_model: type[BaseModel]) -> dict[str, Any]:
    """The whole-event JSON Schema of one event type at one version."""
    event_type = payload_model.event_type
    version = payload_model.schema_version
    schema = event_model.model_json_schema()
    properties = schema["properties"]
    properties["event_type"] = {
        "const": event_type,
        "title": "Event Type",
        "type": "string",
    }
    properties["schema_version"] = {
        "const": version,
        "title": "Schema Version",
        "type": "integer",
    }
    name = filename(event_type, version)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = ID_PREFIX + name.removesuffix(".json")
    schema["title"] = f"{event_type} v{version}"
    schema["description"] = (
        f"A whole `{event_type}` event, schema_version {version}: the envelope with its "
        f"payload under `data`; the Kafka key is `data.{payload_model.key_field}`. Generated "
        "from schemas.registry.CURRENT by `python -m schemas.generate`; do not edit by hand."
    )
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """Filename -> file text of every schema file that belongs in `schemas/jsonschema/`."""
    files: dict[str, str] = {}
    for payload_model, event_model in CURRENT.values():
        name = filename(payload_model.event_type, payload_model.schema_version)
        files[name] = render(schema_for(payload_model, event_model))
    return dict(sorted(files.items()))


def write_all(directory: Path = SCHEMA_DIR) -> list[str]:
    """Writes every file of `render_all()` and removes stale `*.json`; returns what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render_all()
    changed: list[str] = []
    for name, text in wanted.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    for path in sorted(directory.glob("*.json")):
        if path.name not in wanted:
            path.unlink()
            changed.append(path.name)
    return changed


def main() -> int:
    changed = write_all()
    for name in changed:
        print(f"updated {SCHEMA_DIR.name}/{name}")
    if not changed:
        print(f"{SCHEMA_DIR.name}/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
