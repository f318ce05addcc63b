"""Whether the current event schemas may ship, judged against the released ones. Pure: no I/O.

Policy (README, "Schema compatibility"):

* A released `schema_version` never changes: any difference between its released JSON Schema
  and the one the current model produces is breaking for that version.
* A new version (current > newest released) must be BACKWARD compatible with the newest
  released one: consumers of the new version read old events (upcast by `UPCASTERS`), so every
  event valid under the old schema must stay valid under the new one, and no field readers
  knew may disappear. Breaking: field removed, type narrowed or changed, null no longer
  accepted, new required field without a default, optional field made required, enum value
  removed, const changed, a constraint tightened (maxLength/maxItems/maximum lowered,
  minLength/minItems/minimum raised, pattern/format/multipleOf added or changed, uniqueItems
  added), additionalProperties closed or constrained; any change to a keyword this module does
  not model is breaking too (it cannot tell). Not breaking: optional field added, enum value
  added, annotations (title, description, default, examples) changed, constraints loosened.
* Every version below the current one needs an upcaster to the next in `UPCASTERS`, or
  `decode` refuses its events.

Paths name the event's fields as JSON paths: `$.data.skill_scores` is a field, `[*]` an array
item, `.*` the value of any other key of an object, `.<key>` the keys themselves.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

# Keywords that describe instead of constrain: changing them never refuses an event.
ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
    "writeOnly", "$id", "$schema", "$defs", "definitions",
})
# Lowering one of these refuses values the old schema accepted.
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Raising one of these does.
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
# Adding or changing one of these does (removing one loosens).
EXACT = ("pattern", "format", "multipleOf", "contentEncoding", "contentMediaType")
HANDLED = frozenset({
    "type", "anyOf", "oneOf", "$ref", "const", "enum", "properties", "required",
    "additionalProperties", "items", "propertyNames", "uniqueItems",
    *UPPER_BOUNDS, *LOWER_BOUNDS, *EXACT,
}) | ANNOTATIONS


@dataclass(frozen=True)
class Change:
    """One difference between two schemas: where, what, and whether it breaks old events."""

    path: str
    what: str
    breaking: bool


@dataclass(frozen=True)
class Finding:
    """One reason the current schemas may not ship."""

    event_type: str
    version: int
    path: str
    what: str

    def line(self) -> str:
        return f"{self.event_type} v{self.version} {self.path}: {self.what}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # event_type -> how it stands, e.g. "v2 new, backward compatible with v1"
    standing: dict[str, str] = field(default_factory=dict)

    @property
    def compatible(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        parts = "; ".join(f"{name} {state}" for name, state in sorted(self.standing.items()))
        return f"schemas compatible, {len(self.standing)} event types: {parts}"


def compare(old: Schema, new: Schema) -> list[Change]:
    """Every difference from `old` to `new`, each marked breaking or not for BACKWARD reading:
    a reader with `new` must accept any event `old` accepted and keep every field it named.
    `$ref`s are resolved (`#/...` pointers into each document), so renamed `$defs` are no change."""
    return list(_Walk(old, new).nodes(old, new, "$"))


def check(
    released: Mapping[tuple[str, int], Schema],
    current: Mapping[str, tuple[int, Schema]],
    upcasters: Collection[tuple[str, int]],
) -> Report:
    """Judge the current schemas (`event_type -> (version, schema)`) against the released ones
    (`(event_type, version) -> schema`) and the upcaster steps (`(event_type, from_version)`)."""
    report = Report()
    released_versions: dict[str, list[int]] = {}
    for event_type, version in released:
        released_versions.setdefault(event_type, []).append(version)
    for event_type in sorted(set(released_versions) - set(current)):
        report.findings.append(Finding(
            event_type, max(released_versions[event_type]), "$",
            "event type removed: released, but no current model"))
    for event_type, (version, schema) in sorted(current.items()):
        versions = sorted(released_versions.get(event_type, []))
        newest = versions[-1] if versions else None
        if newest is None:
            report.standing[event_type] = f"v{version} not released yet"
        elif version < newest:
            report.findings.append(Finding(
                event_type, version, "$.schema_version",
                f"current model is v{version} but v{newest} is released"))
        elif version == newest:
            _check_frozen(report, event_type, version, released[event_type, version], schema)
        else:
            _check_new(report, event_type, version, newest, released[event_type, newest], schema)
        for older in range(1, version):
            if (event_type, older) not in upcasters:
                report.findings.append(Finding(
                    event_type, older, "$.schema_version",
                    f"no upcaster from v{older} to v{older + 1} in UPCASTERS"))
    return report


def _check_frozen(report: Report, event_type: str, version: int, old: Schema, new: Schema) -> None:
    if old == new:
        report.standing[event_type] = f"v{version} released and unchanged"
        return
    try:
        changes = compare(old, new)
    except UnresolvableRef as exc:
        report.findings.append(Finding(event_type, version, "$", f"cannot compare: {exc}"))
        return
    for change in changes:
        report.findings.append(Finding(
            event_type, version, change.path, f"released version changed: {change.what}"))
    if not changes:  # same meaning, different text (e.g. a renamed $defs entry)
        pointer = _first_difference(old, new, "#")
        report.findings.append(Finding(
            event_type, version, "$",
            f"released version changed: the document differs at {pointer}"))


def _check_new(
    report: Report, event_type: str, version: int, previous: int, old: Schema, new: Schema
) -> None:
    # The pinned `schema_version` const differs by design between two versions.
    new = {**new, "properties": {**new.get("properties", {})}}
    if "schema_version" in old.get("properties", {}):
        new["properties"]["schema_version"] = old["properties"]["schema_version"]
    try:
        breaking = [change for change in compare(old, new) if change.breaking]
    except UnresolvableRef as exc:
        report.findings.append(Finding(event_type, version, "$", f"cannot compare: {exc}"))
        return
    for change in breaking:
        report.findings.append(Finding(
            event_type, version, change.path, f"{change.what} (breaking against v{previous})"))
    if not breaking:
        report.standing[event_type] = f"v{version} new, backward compatible with v{previous}"


def _first_difference(old: Any, new: Any, pointer: str) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                return _first_difference(old.get(key), new.get(key), f"{pointer}/{key}")
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{pointer}/{index}")
    return pointer


_MISSING = object()


class _Walk:
    """Walks two schema documents side by side; `$ref`s resolve within their own document."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        # The (old, new) node pairs being walked above this one: meeting one again is a cycle
        # through recursive `$defs`, already being compared higher up.
        self.ancestors: list[str] = []

    def nodes(self, old: Any, new: Any, path: str) -> Iterator[Change]:
        if isinstance(old, bool) or isinstance(new, bool):  # `true`/`false` schemas
            if old != new:
                yield Change(path, f"schema {old!r} became {new!r}", breaking=new is False)
            return
        pair = json.dumps([old, new], sort_keys=True, default=str)
        if pair in self.ancestors:
            return
        self.ancestors.append(pair)
        try:
            yield from self.resolved(
                _resolve(self.old_root, old), _resolve(self.new_root, new), path)
        finally:
            self.ancestors.pop()

    def resolved(self, old: Schema, new: Schema, path: str) -> Iterator[Change]:
        yield from self.annotations(old, new, path)
        old_branches = _branches(self.old_root, old)
        new_branches = _branches(self.new_root, new)
        if len(old_branches) == 1 and len(new_branches) == 1:
            yield from self.single(old_branches[0], new_branches[0], path)
            return
        for old_branch in old_branches:
            match = _matching_branch(old_branch, new_branches)
            if match is None:
                yield Change(path, f"type narrowed: no longer accepts {_kind(old_branch)}", True)
            else:
                yield from self.annotations(old_branch, match, path)
                yield from self.single(old_branch, match, path)
        for new_branch in new_branches:
            if not any(_matching_branch(o, [new_branch]) for o in old_branches):
                yield Change(path, f"now also accepts {_kind(new_branch)}", breaking=False)

    def annotations(self, old: Schema, new: Schema, path: str) -> Iterator[Change]:
        for key in sorted((set(old) | set(new)) & ANNOTATIONS - {"$defs", "definitions"}):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                yield Change(path, f"{key} changed", breaking=False)

    def single(self, old: Schema, new: Schema, path: str) -> Iterator[Change]:
        """Two schemas accepting one kind of value each (no anyOf left)."""
        old_kind, new_kind = _kind(old), _kind(new)
        if old_kind != new_kind:
            if new_kind == "any" or (old_kind, new_kind) == ("integer", "number"):
                yield Change(path, f"type widened from {old_kind} to {new_kind}", breaking=False)
            elif (old_kind, new_kind) == ("number", "integer"):
                yield Change(path, "type narrowed from number to integer", breaking=True)
            elif old_kind == "any":
                yield Change(path, f"type narrowed from any value to {new_kind}", breaking=True)
            else:
                yield Change(path, f"type changed from {old_kind} to {new_kind}", breaking=True)
                return  # the rest of the comparison would only repeat it
        yield from _values(old, new, path)
        yield from _bounds(old, new, path)
        if "properties" in old or "properties" in new or old_kind == "object":
            yield from self.objects(old, new, path)
        if "items" in old or "items" in new:
            yield from self.nodes(old.get("items", {}), new.get("items", {}), f"{path}[*]")
        if "propertyNames" in old or "propertyNames" in new:
            yield from self.nodes(
                old.get("propertyNames", {}), new.get("propertyNames", {}), f"{path}.<key>")
        if not old.get("uniqueItems") and new.get("uniqueItems"):
            yield Change(path, "uniqueItems added", breaking=True)
        elif old.get("uniqueItems") and not new.get("uniqueItems"):
            yield Change(path, "uniqueItems removed", breaking=False)
        for key in sorted((set(old) | set(new)) - HANDLED):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                yield Change(path, f"{key} changed (not a keyword this check models)", True)

    def objects(self, old: Schema, new: Schema, path: str) -> Iterator[Change]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            child = f"{path}.{name}"
            if name not in new_props:
                yield Change(child, "field removed", breaking=True)
                continue
            if name in new_required and name not in old_required:
                yield Change(child, "optional field made required", breaking=True)
            elif name in old_required and name not in new_required:
                yield Change(child, "required field made optional", breaking=False)
            yield from self.nodes(old_props[name], new_props[name], child)
        for name in new_props:
            if name in old_props:
                continue
            child = f"{path}.{name}"
            has_default = isinstance(new_props[name], dict) and "default" in new_props[name]
            if name in new_required and not has_default:
                yield Change(child, "new required field without default", breaking=True)
            else:
                yield Change(child, "optional field added", breaking=False)
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            yield Change(path, "additionalProperties closed", breaking=True)
        elif old_extra is False and new_extra is not False:
            yield Change(path, "additionalProperties opened", breaking=False)
        elif old_extra is not False:
            yield from self.nodes(
                {} if old_extra is True else old_extra,
                {} if new_extra is True else new_extra,
                f"{path}.*",
            )


def _values(old: Schema, new: Schema, path: str) -> Iterator[Change]:
    old_values = _allowed_values(old)
    new_values = _allowed_values(new)
    if new_values is None:
        if old_values is not None:
            yield Change(path, "any value accepted now (enum/const removed)", breaking=False)
        return
    if old_values is None:
        yield Change(path, f"values restricted to {_show(new_values)}", breaking=True)
        return
    removed = [value for value in old_values if value not in new_values]
    added = [value for value in new_values if value not in old_values]
    if removed:
        what = "const changed" if "const" in new else "enum value removed"
        yield Change(path, f"{what}: {_show(removed)}", breaking=True)
    if added:
        yield Change(path, f"enum value added: {_show(added)}", breaking=False)


def _bounds(old: Schema, new: Schema, path: str) -> Iterator[Change]:
    for key in UPPER_BOUNDS:
        yield from _bound(old, new, path, key, tighter=lambda a, b: b < a, verb="lowered")
    for key in LOWER_BOUNDS:
        yield from _bound(old, new, path, key, tighter=lambda a, b: b > a, verb="raised")
    for key in EXACT:
        if key not in new:
            if key in old:
                yield Change(path, f"{key} removed", breaking=False)
        elif key not in old:
            yield Change(path, f"{key} added: {new[key]!r}", breaking=True)
        elif old[key] != new[key]:
            yield Change(path, f"{key} changed from {old[key]!r} to {new[key]!r}", breaking=True)


def _bound(
    old: Schema, new: Schema, path: str, key: str, tighter: Any, verb: str
) -> Iterator[Change]:
    if key not in new:
        if key in old:
            yield Change(path, f"{key} removed", breaking=False)
    elif key not in old:
        yield Change(path, f"{key} added: {new[key]}", breaking=True)
    elif old[key] != new[key]:
        breaking = bool(tighter(old[key], new[key]))
        change = verb if breaking else ("raised" if verb == "lowered" else "lowered")
        yield Change(path, f"{key} {change} from {old[key]} to {new[key]}", breaking=breaking)


def _allowed_values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _show(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)


def _resolve(root: Schema, node: Any) -> Any:
    """`node` with its `$ref` replaced by the target (siblings of `$ref` win), repeatedly."""
    hops = 0
    while isinstance(node, dict) and "$ref" in node and hops < 64:
        target = _pointer(root, node["$ref"])
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**target, **siblings} if isinstance(target, dict) else target
        hops += 1
    return node


class UnresolvableRef(ValueError):
    """A `$ref` that is not a pointer into its own document, or points nowhere."""


def _pointer(root: Schema, ref: str) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise UnresolvableRef(f"$ref {ref!r} is not a local pointer (#/...)")
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        try:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        except (KeyError, IndexError, TypeError):
            raise UnresolvableRef(f"$ref {ref!r} points nowhere") from None
    return node


def _branches(root: Schema, node: Schema) -> list[Schema]:
    """The alternatives a schema accepts, one kind of value each: `$ref`s resolved, anyOf/oneOf
    and type lists flattened (the wrapper's annotations are compared by the caller)."""
    node = _resolve(root, node)
    if not isinstance(node, dict):
        return [{}]
    for key in ("anyOf", "oneOf"):
        if key in node:
            wrapper = {k: v for k, v in node.items() if k not in {key} | ANNOTATIONS}
            flat: list[Schema] = []
            for branch in node[key]:
                branch = branch if isinstance(branch, dict) else {}
                flat.extend(_branches(root, {**wrapper, **branch}))
            return flat
    types = node.get("type")
    if isinstance(types, list):
        return [{**node, "type": one} for one in types]
    return [node]


def _kind(node: Schema) -> str:
    if isinstance(node.get("type"), str):
        return str(node["type"])
    values = _allowed_values(node)
    if values:
        kinds = {_json_kind(value) for value in values}
        if len(kinds) == 1:
            return kinds.pop()
    if "properties" in node or "additionalProperties" in node:
        return "object"
    if "items" in node:
        return "array"
    return "any"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _matching_branch(old: Schema, candidates: list[Schema]) -> Schema | None:
    """The new alternative that takes over the old one's values: same kind, else a wider one."""
    kind = _kind(old)
    for wanted in (kind, "number" if kind == "integer" else None, "any"):
        for candidate in candidates:
            if wanted is not None and _kind(candidate) == wanted:
                return candidate
    return None
