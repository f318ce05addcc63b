"""Reproducible hostile traffic: bad messages of every kind, mixed into valid traffic (pure).

`generate_hostile(sample, count, seed)` derives `count` messages from a valid sample's events
(so keys, partitions and shapes look like real traffic) and tags each with its `category` and
what the hub must do with it: `expected_reason` is the `dlq.reason` every consumer reading its
topic gives, or None for a message that only *looks* hostile (injection strings within the
contract's rules) and must be applied verbatim. `mix` interleaves them with the sample's
messages, keeping each side's own order. The same arguments always give the same bytes.

Categories (expected reason):
- random_bytes, truncated_json, not_an_object, deep_nesting (`malformed`)
- wrong_types, out_of_range, huge_skill_map (10k skills), nul_in_text (`invalid`)
- oversized: 2 MiB, and one byte over the 1 MiB limit (`oversized`)
- unknown_type (`unknown_event_type`), unknown_version (`unknown_schema_version`)
- key_mismatch (`key_mismatch`)
- far_future: `occurred_at` (`occurred_in_future`) or a timestamp in `data`
  (`timestamp_in_future`) in the year 9999 or a week ahead of `now`
- injection: SQL, HTML, template, shell and odd Unicode strings in text fields and ids, all
  within the contract (None: applied, stored verbatim, executed nowhere)
- session_reuse: another learner's completion or invalidation naming a sample learner's
  `session_id` (None: applied; `session_id` is unique per session by CONTRACT, but one learner
  must never reach another's projections, so each learner's projections are exactly what they
  would be without the other's events, whichever arrives first)
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from producers.sample import ASSIGNMENT, COMPLETED, ERASED, INVALIDATED, SampleTraffic, TopicKind

MIB = 1_048_576
CATEGORY_HEADER = "hostile.category"

# Relative frequency of the cheap categories; the bulky ones get fixed counts (below), so that
# 10k hostile messages stay a few tens of MiB per dead-letter topic.
WEIGHTS: dict[str, int] = {
    "random_bytes": 12,
    "truncated_json": 12,
    "not_an_object": 4,
    "wrong_types": 14,
    "out_of_range": 14,
    "unknown_type": 8,
    "unknown_version": 8,
    "key_mismatch": 8,
    "far_future": 10,
    "nul_in_text": 4,
    "injection": 6,
    "session_reuse": 6,
}
FIXED: dict[str, int] = {"oversized": 6, "huge_skill_map": 10, "deep_nesting": 20}
MENTORSHIP_SHARE = 0.1  # of the cheap categories that exist on the mentorship topic too
MENTORSHIP_CATEGORIES = (
    "random_bytes", "truncated_json", "wrong_types", "unknown_version", "key_mismatch",
    "far_future",
)  # fmt: skip

INJECTIONS = (
    "'; DROP TABLE missions.difficulty; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM portfolio.items WHERE ('1'='1",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} #{7*7}",
    "$(rm -rf /) `id` | cat /etc/passwd",
    "../../../../etc/passwd",
    "%s%s%s%n %x",
    "\u202eevil\u202c \u200b\ufeff zero-width",
    "Ω≈ç√∫˜µ≤≥÷ 𝕳𝖊𝖑𝖑𝖔 🔥💥",
    "line\nbreak\r\ttab \\ back\\slash \"quote\"",
)


@dataclass(frozen=True, slots=True)
class HostileMessage:
    category: str
    topic_kind: TopicKind
    key: bytes | None
    value: bytes | None
    expected_reason: str | None  # None: valid, must be applied
    note: str  # what was done to it, for failure messages

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [(CATEGORY_HEADER, self.category.encode())]


@dataclass(frozen=True, slots=True)
class MixedMessage:
    """One record of mixed traffic in publish order: exactly one of `valid`/`hostile` is set."""

    topic_kind: TopicKind
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    hostile: HostileMessage | None

    @property
    def is_valid(self) -> bool:
        return self.hostile is None or self.hostile.expected_reason is None


def generate_hostile(
    sample: SampleTraffic, count: int, seed: int, now: datetime | None = None
) -> list[HostileMessage]:
    """`count` hostile messages (at least the fixed bulky ones), derived from `sample`.

    `now` (default: the current time) only places the "a week ahead" far-future timestamps.
    """
    if not sample.messages:
        raise ValueError("the sample has no messages to derive hostile ones from")
    maker = _Maker(sample, random.Random(seed), now or datetime.now(UTC))
    plan = [c for c, n in FIXED.items() for _ in range(n)]
    cheap = list(WEIGHTS)
    plan += maker.rng.choices(cheap, [WEIGHTS[c] for c in cheap], k=max(0, count - len(plan)))
    maker.rng.shuffle(plan)
    return [maker.make(category) for category in plan]


def mix(sample: SampleTraffic, hostile: list[HostileMessage], seed: int) -> list[MixedMessage]:
    """Hostile messages spread at random among the sample's, each side in its own order."""
    rng = random.Random(seed)
    slots = [True] * len(hostile) + [False] * len(sample.messages)
    rng.shuffle(slots)
    bad, good = iter(hostile), iter(sample.messages)
    mixed = []
    for is_hostile in slots:
        if is_hostile:
            h = next(bad)
            mixed.append(MixedMessage(h.topic_kind, h.key, h.value, h.headers, h))
        else:
            m = next(good)
            mixed.append(MixedMessage(m.topic_kind, m.key.encode(), m.value, [], None))
    return mixed


def counts(hostile: list[HostileMessage]) -> dict[tuple[str, str | None], int]:
    """(category, expected reason) -> messages."""
    return dict(Counter((h.category, h.expected_reason) for h in hostile))


# ----- internals ---------------------------------------------------------------------------


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


class _Maker:
    def __init__(self, sample: SampleTraffic, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        for message in sample.messages:
            if not message.duplicate:
                self.by_type.setdefault(message.event_type, []).append(json.loads(message.value))
        self.hostile_users = 0
        self.users = sorted({d["data"]["user_id"] for docs in self.by_type.values()
                             for d in docs if "user_id" in d["data"]})

    # ----- shared helpers ------------------------------------------------------------------

    def template(self, event_type: str = COMPLETED) -> dict[str, Any]:
        """A fresh copy of a sample event of that type, with a new event_id."""
        pool = self.by_type.get(event_type) or self.by_type[COMPLETED]
        document = copy.deepcopy(self.rng.choice(pool))
        document["event_id"] = self.uuid()
        return document

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def topic_kind(self, category: str) -> TopicKind:
        mentorship = category in MENTORSHIP_CATEGORIES and self.rng.random() < MENTORSHIP_SHARE
        return "mentorship" if mentorship and ASSIGNMENT in self.by_type else "profiler"

    @staticmethod
    def key_of(document: dict[str, Any]) -> bytes:
        data = document["data"]
        return str(data.get("mentee_id", data.get("user_id"))).encode()

    def make(self, category: str) -> HostileMessage:
        kind = self.topic_kind(category)
        maker: Callable[[TopicKind], tuple[bytes | None, bytes | None, str | None, str]]
        maker = getattr(self, f"_{category}")
        key, value, reason, note = maker(kind)
        return HostileMessage(category, kind, key, value, reason, note)

    def base(self, kind: TopicKind) -> dict[str, Any]:
        if kind == "mentorship":
            return self.template(ASSIGNMENT)
        return self.template(self.rng.choice((COMPLETED, COMPLETED, COMPLETED, INVALIDATED,
                                               ERASED)))

    # ----- categories: each returns (key, value, expected reason, note) -------------------

    def _random_bytes(self, kind: TopicKind):
        key = self.key_of(self.base(kind))
        variant = self.rng.randrange(4)
        if variant == 0:  # binary; a first byte >= 0x80 is never the start of a JSON text
            body = bytes([self.rng.randrange(0x80, 0x100)]) + self.rng.randbytes(
                self.rng.randrange(0, 512))
            return key, body, "malformed", "random binary"
        if variant == 1:
            text = "".join(self.rng.choice("<>?!@#%^&*()abcXYZ =;:,.") for _ in range(64))
            return key, ("<" + text).encode(), "malformed", "random text"
        if variant == 2:
            return key, b"", "malformed", "empty value"
        return key, None, "malformed", "no value (tombstone)"

    def _truncated_json(self, kind: TopicKind):
        document = self.base(kind)
        raw = _dumps(document)
        cut = self.rng.randrange(1, len(raw) - 1)
        return self.key_of(document), raw[:cut], "malformed", f"cut at {cut}/{len(raw)}"

    def _not_an_object(self, kind: TopicKind):
        document = self.base(kind)
        value = self.rng.choice([[document], "event", 42, None, True, [], 1.5e300])
        return self.key_of(document), _dumps(value), "malformed", f"JSON {type(value).__name__}"

    def _deep_nesting(self, kind: TopicKind):
        document = self.base(kind)
        depth = self.rng.randrange(50_000, 150_000)  # under 1 MiB even as {"a": …}
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        body = (opener * depth + "1" + closer * depth).encode()
        return self.key_of(document), body, "malformed", f"nested {depth} deep"

    def _wrong_types(self, kind: TopicKind):
        document = self.base(kind)
        key = self.key_of(document)
        data = document["data"]
        choices: list[tuple[Callable[[], None], str]] = [
            (lambda: document.__setitem__("event_id", 12345), "event_id: number"),
            (lambda: document.__setitem__("occurred_at", 1767600000), "occurred_at: number"),
            (lambda: document.__setitem__("schema_version", "1"), "schema_version: string"),
            (lambda: document.__setitem__("event_type", ["profiler.session.completed"]),
             "event_type: list"),
            (lambda: document.__setitem__("data", [data]), "data: list"),
            (lambda: document.__setitem__("producer", {"name": "x"}), "producer: object"),
        ]
        if "overall_score" in data:
            choices += [
                (lambda: data.__setitem__("overall_score", str(data["overall_score"])),
                 "overall_score: string"),
                (lambda: data.__setitem__("skill_scores", list(data["skill_scores"].items())),
                 "skill_scores: list"),
                (lambda: data.__setitem__("session_id", 7), "session_id: number"),
                (lambda: data.__setitem__("marketplace_opt_in", "yes"),
                 "marketplace_opt_in: string"),
                (lambda: data["value_answers"].__setitem__("core_values", "integrity"),
                 "core_values: string"),
                (lambda: data["anti_cheat"].__setitem__("flags", "tab_switch"), "flags: string"),
                (lambda: data["anti_cheat"].__setitem__("duration_seconds", 12.5),
                 "duration_seconds: float"),
            ]
        if "active" in data:
            choices.append((lambda: data.__setitem__("active", "true"), "active: string"))
        if "user_id" in data:
            choices.append((lambda: data.__setitem__("user_id", None), "user_id: null"))
        change, note = self.rng.choice(choices)
        change()
        return key, _dumps(document), "invalid", note

    def _out_of_range(self, kind: TopicKind):
        document = self.base(kind)
        key = self.key_of(document)
        data = document["data"]
        choices: list[tuple[Callable[[], None], str]] = [
            (lambda: document.__setitem__("schema_version", self.rng.choice([0, -1])),
             "schema_version < 1"),
            (lambda: document.__setitem__("producer", ""), "producer: empty"),
        ]
        if "overall_score" in data:
            skill = next(iter(data["skill_scores"]))
            choices += [
                (lambda: data.__setitem__("overall_score", self.rng.choice(
                    [100.0001, -0.5, 1e308, -1e308, 1000])), "overall_score out of 0-100"),
                (lambda: data["skill_scores"].__setitem__(skill, 101), "skill score 101"),
                (lambda: data["skill_scores"].__setitem__("x" * 65, 50), "skill name 65 chars"),
                (lambda: data.__setitem__("skill_scores", {}), "no skills"),
                (lambda: data["anti_cheat"].__setitem__("suspicion_score", 1.5),
                 "suspicion_score 1.5"),
                (lambda: data["anti_cheat"].__setitem__("duration_seconds", -1),
                 "duration_seconds -1"),
                (lambda: data["value_answers"].__setitem__(
                    "core_values", [f"v{i}" for i in range(11)]), "11 core values"),
                (lambda: data["value_answers"].__setitem__("motivation", "m" * 2001),
                 "motivation 2001 chars"),
                (lambda: data.__setitem__("track", "t" * 65), "track 65 chars"),
                (lambda: data.__setitem__("cohort_id", ""), "cohort_id empty"),
                (lambda: data.__setitem__("recommended_level", "grandmaster"), "unknown level"),
            ]
        if "user_id" in data:
            choices.append((lambda: data.__setitem__("user_id", "u" * 65), "user_id 65 chars"))
        if "reason" in data:
            choices.append((lambda: data.__setitem__("reason", "r" * 501), "reason 501 chars"))
        change, note = self.rng.choice(choices)
        change()
        if note == "user_id 65 chars":
            key = data["user_id"].encode()
        return key, _dumps(document), "invalid", note

    def _huge_skill_map(self, kind: TopicKind):
        document = self.template(COMPLETED)
        document["data"]["skill_scores"] = {
            f"skill_{i:05d}": round(self.rng.uniform(0, 100), 2) for i in range(10_000)
        }
        return self.key_of(document), _dumps(document), "invalid", "10,000 skills"

    def _nul_in_text(self, kind: TopicKind):
        # PostgreSQL text cannot hold U+0000, so such an event could never be stored.
        document = self.template(COMPLETED)
        data = document["data"]
        where = self.rng.choice(["motivation", "impact_goal", "flag", "track", "skill"])
        if where in ("motivation", "impact_goal"):
            data["value_answers"][where] = "before\u0000after"
        elif where == "flag":
            data["anti_cheat"]["flags"] = ["tab\u0000switch"]
        elif where == "track":
            data["track"] = "defender\u0000"
        else:
            data["skill_scores"]["nul\u0000skill"] = 50
        return self.key_of(document), _dumps(document), "invalid", f"NUL in {where}"

    def _oversized(self, kind: TopicKind):
        document = self.template(COMPLETED)
        # One byte over the contract's limit, or 2 MiB (extra fields are allowed, size is not).
        target = self.rng.choice([MIB + 1, 2 * MIB, 2 * MIB])
        document["padding"] = ""
        room = target - len(_dumps(document))
        document["padding"] = "x" * room
        value = _dumps(document)
        assert len(value) == target
        return self.key_of(document), value, "oversized", f"{len(value)} bytes"

    def _unknown_type(self, kind: TopicKind):
        document = self.base(kind)
        document["event_type"] = self.rng.choice([
            "profiler.session.paused", "PROFILER.SESSION.COMPLETED", "", "learner.erased.v2",
            "profiler.session.completed ", "mentorship.assignment.deleted",
        ])
        return self.key_of(document), _dumps(document), "unknown_event_type", repr(
            document["event_type"])

    def _unknown_version(self, kind: TopicKind):
        document = self.base(kind)
        document["schema_version"] = self.rng.choice([2, 3, 99, 2**31, 2**70])
        return self.key_of(document), _dumps(document), "unknown_schema_version", (
            f"v{document['schema_version']}")

    def _key_mismatch(self, kind: TopicKind):
        document = self.base(kind)
        key = self.rng.choice([None, b"", b"someone-else", self.key_of(document) + b" "])
        return key, _dumps(document), "key_mismatch", f"key {key!r}"

    def _far_future(self, kind: TopicKind):
        document = self.base(kind)
        data = document["data"]
        when = self.rng.choice([
            "9999-12-31T23:59:59Z", (self.now + timedelta(days=7)).isoformat()])
        stamps = [k for k in ("completed_at", "invalidated_at", "erased_at", "changed_at")
                  if k in data]
        if self.rng.random() < 0.5:
            document["occurred_at"] = when
            return self.key_of(document), _dumps(document), "occurred_in_future", (
                f"occurred_at {when}")
        data[stamps[0]] = when
        return self.key_of(document), _dumps(document), "timestamp_in_future", (
            f"{stamps[0]} {when}")

    def _session_reuse(self, kind: TopicKind):
        """A valid event of an intruder (another sample learner, or a new one) that names a
        victim's session id: a completion of its own, or an invalidation (of a session the
        victim invalidates too, or of one the victim keeps)."""
        victim = self.template(COMPLETED)
        intruder = self.rng.choice(
            [u for u in self.users if u != victim["data"]["user_id"]]
            or [victim["data"]["user_id"] + "-intruder"]
        )
        if self.rng.random() < 0.3:
            self.hostile_users += 1
            intruder = f"session-intruder-{self.hostile_users}"
        variant = self.rng.randrange(3) if INVALIDATED in self.by_type else 0
        if variant == 0:
            document = victim
            document["data"]["user_id"] = intruder
            note = "completion"
        elif variant == 1:
            document = self.template(INVALIDATED)
            document["data"]["user_id"] = intruder
            note = "invalidation of a session its learner invalidates too"
        else:
            document = self.template(INVALIDATED)
            document["occurred_at"] = victim["occurred_at"]
            document["data"].update(session_id=victim["data"]["session_id"], user_id=intruder,
                                    invalidated_at=victim["data"]["completed_at"])
            note = "invalidation of a session its learner keeps"
        return intruder.encode(), _dumps(document), None, f"valid, {intruder} reuses: {note}"

    def _injection(self, kind: TopicKind):
        """A valid event whose strings are attacks: it must be applied and stored verbatim."""
        document = self.template(COMPLETED)
        data = document["data"]
        self.hostile_users += 1
        attack = INJECTIONS[self.hostile_users % len(INJECTIONS)]
        user = f"{attack[:50]}#{self.hostile_users}"
        data["user_id"] = user
        data["session_id"] = self.uuid()
        data["cohort_id"] = f"{attack[:40]}#cohort"
        data["enterprise_id"] = f"{attack[:40]}#enterprise"
        data["track"] = attack[:64]
        data["value_answers"] = {
            "core_values": [attack[:100], "integrity"],
            "motivation": attack * 3,
            "impact_goal": f"<b>{attack}</b>",
        }
        data["anti_cheat"]["flags"] = [attack]
        data["skill_scores"] = {attack[:64]: 42.5, "network_security": 61.0}
        return user.encode(), _dumps(document), None, f"valid, attack {attack!r}"
