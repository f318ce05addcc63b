"""The released JSON Schemas in `schemas/released/` and the two commands over them:
`hub schemas check` (the policy is in `schemas.compatibility`) and `hub schemas release`.

`released/` holds one frozen file per released event type and `schema_version`, named and
rendered as `schemas/jsonschema/` names them (`<event_type>.v<N>.json`). It is never edited by
hand: `hub schemas release` adds the current version of each event type not released yet, after
the check passed, and never rewrites a file that exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from profiler_hub_kit.models.registry import CURRENT, UPCASTERS

from schemas.compatibility import Report, Schema, check
from schemas.generate import filename, render, schema_for

RELEASED_DIR = Path(__file__).resolve().parent / "released"
_RELEASED_NAME = re.compile(r"^(?P<event_type>[a-z][a-z0-9_.]*)\.v(?P<version>[1-9][0-9]*)\.json$")


class ReleasedSchemasError(Exception):
    """`released/` cannot be read as released schemas; the message names the file and why."""


def load_released(directory: Path = RELEASED_DIR) -> dict[tuple[str, int], Schema]:
    if not directory.is_dir():
        raise ReleasedSchemasError(f"{directory} is not a directory")
    released: dict[tuple[str, int], Schema] = {}
    for path in sorted(directory.iterdir()):
        match = _RELEASED_NAME.match(path.name)
        if match is None:
            raise ReleasedSchemasError(
                f"{path}: not a released schema name (<event_type>.v<N>.json)")
        try:
            schema: Any = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReleasedSchemasError(f"{path}: cannot read: {exc.strerror}") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ReleasedSchemasError(f"{path}: not JSON: {exc}") from None
        if not isinstance(schema, dict):
            raise ReleasedSchemasError(f"{path}: not a JSON Schema object")
        released[match["event_type"], int(match["version"])] = schema
    return released


def current_schemas() -> dict[str, tuple[int, Schema]]:
    """event_type -> (its current schema_version, that version's whole-event JSON Schema)."""
    return {
        payload_model.event_type: (
            payload_model.schema_version,
            # Through the rendered text, so the comparison sees exactly what a released file holds.
            json.loads(render(schema_for(payload_model, event_model))),
        )
        for payload_model, event_model in CURRENT.values()
    }


def run_check(directory: Path = RELEASED_DIR) -> Report:
    return check(load_released(directory), current_schemas(), set(UPCASTERS))


def release(directory: Path = RELEASED_DIR) -> list[str]:
    """Freezes each current version not released yet into `directory`; returns the new file
    names. The caller runs `run_check` first: only a compatible version may be released."""
    released = load_released(directory)
    written: list[str] = []
    for payload_model, event_model in CURRENT.values():
        key = (payload_model.event_type, payload_model.schema_version)
        if key in released:
            continue
        name = filename(*key)
        (directory / name).write_text(render(schema_for(payload_model, event_model)), "utf-8")
        written.append(name)
    return sorted(written)
