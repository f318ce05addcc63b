"""Reproducible sample traffic for both topics of CONTRACT.md (pure: no I/O, no clock).

`generate_sample(count, users, cohorts, seed)` returns exactly `count` messages in publish
order. Each message has its topic kind, key, wire bytes (`value`, byte for byte what
`schemas.registry.encode` makes of the event) and the typed event (`event`, decoded from
`value` on first access, so that 200k messages stay small in memory and quick to make). The
same arguments always give the same bytes. The traffic is realistic and deliberately awkward,
so projections meet every case the contract names:

- retakes: most learners have several sessions with increasing `completed_at`; a few change
  cohort on a retake; occasionally two sessions of one learner share a `completed_at` (the
  contract breaks the tie by the greater `session_id`);
- out-of-order arrival: now and then an older session is published after a newer one;
- duplicate deliveries: about 3% of messages are re-sends of an earlier message with the same
  `event_id` and the same bytes;
- invalidations of about 2% of sessions, some published before their session's completion;
- erasures of about 1% of learners after most of their events, and occasionally a session of
  an erased learner that completed after `erased_at` (it counts again);
- mentor assignments keyed by mentee, some later deactivated by a newer `changed_at` (a few of
  those deactivations published before the activation);
- learners with no session at all (some of them mentees), and learners with no cohort.

Every event's `occurred_at` is at or after the timestamps in its `data`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic_core import to_json as _to_json

from schemas.base import Level
from schemas.learner_erased import LearnerErasedV1
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import CURRENT, AnyEvent, decode, encode
from schemas.session_completed import SessionCompletedV1
from schemas.session_invalidated import SessionInvalidatedV1

TopicKind = Literal["profiler", "mentorship"]

DEFAULT_START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
SPAN_SECONDS = 56 * 24 * 3600  # first attempts and retakes complete within eight weeks of start

COMPLETED = SessionCompletedV1.event_type
INVALIDATED = SessionInvalidatedV1.event_type
ERASED = LearnerErasedV1.event_type
ASSIGNMENT = MentorshipAssignmentChangedV1.event_type
EVENT_TYPES = (COMPLETED, INVALIDATED, ERASED, ASSIGNMENT)

DUPLICATE_RATE = 0.03  # of all messages
INVALIDATION_RATE = 0.02  # of sessions
ERASURE_RATE = 0.01  # of learners
NO_COHORT_RATE = 0.12
NO_SESSION_RATE = 0.03
OPT_IN_RATE = 0.40
LEVEL_RATE = 0.70
TIE_RATE = 0.004  # of retakes
OUT_OF_ORDER_RATE = 0.03  # of retakes
COHORT_SWITCH_RATE = 0.03  # of retakes
EARLY_INVALIDATION_RATE = 0.25
POST_ERASURE_RATE = 0.30
MENTEE_RATE = 0.25
DEACTIVATION_RATE = 0.30
SECOND_MENTOR_RATE = 0.15
EARLY_DEACTIVATION_RATE = 0.10

TRACKS: dict[str, tuple[str, ...]] = {
    "defender": (
        "network_security", "incident_response", "threat_hunting", "log_analysis",
        "malware_analysis", "endpoint_security", "cloud_security", "digital_forensics",
        "vulnerability_management",
    ),
    "offensive": (
        "penetration_testing", "web_application_security", "exploit_development",
        "network_security", "social_engineering", "red_teaming", "secure_coding",
        "reverse_engineering",
    ),
    "grc": (
        "risk_management", "compliance", "security_policy", "audit", "privacy",
        "third_party_risk", "business_continuity",
    ),
    "innovation": (
        "secure_coding", "cloud_security", "devsecops", "threat_modeling", "automation",
        "data_analysis", "ai_security", "product_thinking",
    ),
    "leadership": (
        "communication", "strategic_thinking", "team_building", "decision_making",
        "stakeholder_management", "crisis_management", "risk_management",
    ),
}  # fmt: skip
TRACK_WEIGHTS = (35, 20, 15, 15, 15)

CORE_VALUES = (
    "integrity", "curiosity", "resilience", "collaboration", "accountability", "service",
    "excellence", "courage", "empathy", "continuous_learning", "privacy", "fairness",
    "innovation", "ownership",
)  # fmt: skip
TRACK_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "defender": (
        ("protect", "defend", "monitor"),
        ("hospital networks", "our SOC", "critical services"),
    ),
    "offensive": (
        ("break", "test", "probe"),
        ("web applications", "cloud tenants", "our own defences"),
    ),
    "grc": (
        ("govern", "measure", "reduce"),
        ("third-party risk", "compliance gaps", "audit findings"),
    ),
    "innovation": (
        ("build", "automate", "secure"),
        ("developer pipelines", "ML platforms", "new products"),
    ),
    "leadership": (
        ("lead", "grow", "align"),
        ("security teams", "incident response", "the board"),
    ),
}
MOTIVATIONS = (
    "I want to {verb} {thing} because {why}.",
    "What drives me is the chance to {verb} {thing}; {why}.",
    "I joined to {verb} {thing}, since {why}.",
)
WHYS = (
    "attackers only need one gap",
    "people deserve services they can trust",
    "I like solving hard problems with others",
    "my community has few security professionals",
    "I was once the victim of a scam",
)
IMPACT_GOALS = (
    "Within a year I want to {verb} {thing} for my whole organisation.",
    "Mentor two juniors and {verb} {thing} together.",
    "Cut the time we need to {verb} {thing} in half.",
    "Be the person my team calls to {verb} {thing}.",
)
FLAGS = (
    "tab_switch", "copy_paste", "rapid_answers", "multiple_ips", "idle_timeout", "devtools_open",
)  # fmt: skip
INVALIDATION_REASONS = (
    "anti_cheat_review: answers copied from an external source",
    "anti_cheat_review: session completed by another person",
    "anti_cheat_review: automated answering detected",
    "duplicate_account",
    "learner_request",
)
LEVELS: tuple[Level, ...] = ("novice", "beginner", "intermediate", "advanced", "expert")

# Hot-path tables: standard normal draws (fixed, so samples do not depend on gauss()'s
# internals) and every (motivation, impact goal) pair a track's learners may write.
_NOISE_SIZE = 4096
_noise_rng = random.Random(20260105)
_NOISE = tuple(_noise_rng.gauss(0.0, 1.0) for _ in range(_NOISE_SIZE))
del _noise_rng
_TEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    track: tuple(
        (motivation.format(verb=verb, thing=thing, why=why), goal.format(verb=verb, thing=thing))
        for verb in verbs
        for thing in things
        for why in WHYS
        for motivation in MOTIVATIONS
        for goal in IMPACT_GOALS
    )
    for track, (verbs, things) in TRACK_WORDS.items()
}


@dataclass(slots=True)
class PublishedMessage:
    """One record as published: topic kind, key (the UTF-8 Kafka key), event type and id, bytes.

    `event` is the typed event of `value` (decoded on first access and kept), so
    `encode(message.event) == message.value`.
    """

    topic_kind: TopicKind
    key: str
    event_type: str
    event_id: str
    value: bytes
    duplicate: bool = False  # a re-send of an earlier message (same event_id and bytes)
    _event: AnyEvent | None = field(default=None, repr=False, compare=False)

    @property
    def event(self) -> AnyEvent:
        if self._event is None:
            self._event = decode(self.value)
        return self._event


@dataclass
class SampleTraffic:
    """Messages in publish order, plus the arguments that produced them."""

    messages: list[PublishedMessage]
    count: int
    users: int
    cohorts: int
    seed: int
    start: datetime
    user_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.messages)

    def profiler_messages(self) -> list[PublishedMessage]:
        return [m for m in self.messages if m.topic_kind == "profiler"]

    def mentorship_messages(self) -> list[PublishedMessage]:
        return [m for m in self.messages if m.topic_kind == "mentorship"]

    def profiler_events(self) -> list[AnyEvent]:
        """Typed events of `profiler.events` in publish order, duplicate deliveries included."""
        return [m.event for m in self.messages if m.topic_kind == "profiler"]

    def mentorship_events(self) -> list[AnyEvent]:
        """Typed events of `mentorship.assignments` in publish order, duplicates included."""
        return [m.event for m in self.messages if m.topic_kind == "mentorship"]

    def unique_events(self) -> list[AnyEvent]:
        """Each fact once (its first delivery), in publish order."""
        return [m.event for m in self.messages if not m.duplicate]

    def records(
        self,
        profiler_topic: str = "profiler.events",
        mentorship_topic: str = "mentorship.assignments",
    ) -> list[tuple[str, str, bytes]]:
        """`(topic, key, value)` in publish order, ready for `Publisher.publish_many`."""
        topics = {"profiler": profiler_topic, "mentorship": mentorship_topic}
        return [(topics[m.topic_kind], m.key, m.value) for m in self.messages]

    def counts(self) -> dict[str, int]:
        """Messages per event type (duplicates counted) and how often each traffic feature occurs.

        Beside one entry per event type: `messages`; `duplicate_deliveries` (messages whose
        `event_id` was published before); `distinct_sessions`; `users_with_sessions`;
        `invalidations` (distinct invalidated sessions); `invalidations_before_completion`
        (first published before their session's completion); `erasures` (distinct erased
        learners); `post_erasure_sessions` (completed after their learner's `erased_at`);
        `mentor_assignments` (distinct assignment changes); `mentor_deactivations`;
        `out_of_order_sessions` (first published after a session of the same learner with a
        greater `completed_at`); `completed_at_ties` (learner and `completed_at` shared by two or
        more sessions). Read from the bytes, so it does not fill the `event` caches.
        """
        by_type = Counter(m.event_type for m in self.messages)
        seen: set[str] = set()
        duplicates = 0
        sessions: dict[str, tuple[str, datetime]] = {}  # session_id -> (user_id, completed_at)
        completion_at: dict[str, int] = {}
        invalidation_at: dict[str, int] = {}
        erased_at: dict[str, datetime] = {}
        deactivations = assignments = out_of_order = 0
        newest: dict[str, datetime] = {}
        for position, message in enumerate(self.messages):
            if message.event_id in seen:
                duplicates += 1
                continue
            seen.add(message.event_id)
            data = json.loads(message.value)["data"]
            if message.event_type == COMPLETED:
                completed = datetime.fromisoformat(data["completed_at"])
                sessions[data["session_id"]] = (data["user_id"], completed)
                completion_at[data["session_id"]] = position
                best = newest.get(data["user_id"])
                if best is not None and best > completed:
                    out_of_order += 1
                if best is None or completed > best:
                    newest[data["user_id"]] = completed
            elif message.event_type == INVALIDATED:
                invalidation_at.setdefault(data["session_id"], position)
            elif message.event_type == ERASED:
                when = datetime.fromisoformat(data["erased_at"])
                erased_at[data["user_id"]] = max(when, erased_at.get(data["user_id"], when))
            elif message.event_type == ASSIGNMENT:
                assignments += 1
                deactivations += not data["active"]
        ties = Counter(sessions.values())
        result = {event_type: by_type.get(event_type, 0) for event_type in EVENT_TYPES}
        result.update(
            messages=len(self.messages),
            duplicate_deliveries=duplicates,
            distinct_sessions=len(sessions),
            users_with_sessions=len({user for user, _ in sessions.values()}),
            invalidations=len(invalidation_at),
            invalidations_before_completion=sum(
                1
                for session_id, position in invalidation_at.items()
                if position < completion_at.get(session_id, -1)
            ),
            erasures=len(erased_at),
            post_erasure_sessions=sum(
                1 for user, at in sessions.values() if user in erased_at and at > erased_at[user]
            ),
            mentor_assignments=assignments,
            mentor_deactivations=deactivations,
            out_of_order_sessions=out_of_order,
            completed_at_ties=sum(1 for n in ties.values() if n > 1),
        )
        return result


def generate_sample(
    count: int, users: int, cohorts: int, seed: int, start: datetime | None = None
) -> SampleTraffic:
    """`count` messages across both topics, in publish order, reproducible for the arguments.

    `users` learners (`learner-0001`...), `cohorts` cohorts (`cohort-01`...) grouped about three
    to an enterprise (`enterprise-a`...), mentors `mentor-01`... (one per 40 learners).
    `start` (timezone-aware, default 2026-01-05T08:00:00Z, truncated to whole seconds) is the
    earliest possible `completed_at`. Pure: the same arguments give identical bytes.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if users < 1:
        raise ValueError("users must be >= 1")
    if cohorts < 0:
        raise ValueError("cohorts must be >= 0")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC).replace(microsecond=0)
    generator = _Generator(users, cohorts, seed, start)
    return SampleTraffic(
        messages=generator.run(count),
        count=count,
        users=users,
        cohorts=cohorts,
        seed=seed,
        start=start,
        user_ids=generator.user_ids,
    )


# ----- internals ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Learner:
    user_id: str
    cohort: str | None
    track: str
    opt_in: bool
    ability: float
    bias: dict[str, float]
    values: list[str]
    times: list[int] = field(default_factory=list)  # completed_at, seconds after start, ascending


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa (spreadsheet-style enterprise names)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("a") + rest) + name
    return name


class _Generator:
    def __init__(self, users: int, cohorts: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = start
        # Queued messages and their publish times (s after start), in creation order.
        self.queued: list[PublishedMessage] = []
        self.publish: list[float] = []
        self.out_of_order_done = False
        self.last_change: dict[tuple[str, str], tuple[int, float]] = {}
        self.checked: set[str] = set()  # event types whose encoding was checked (see `add`)
        width = max(4, len(str(users)))
        self.user_ids = [f"learner-{i:0{width}d}" for i in range(1, users + 1)]
        cohort_width = max(2, len(str(cohorts)))
        self.cohort_ids = [f"cohort-{i:0{cohort_width}d}" for i in range(1, cohorts + 1)]
        enterprises = -(-cohorts // 3)
        # Consecutive cohorts belong to one enterprise, about three cohorts each.
        self.enterprise_of = {
            cohort: f"enterprise-{_letters(i * enterprises // cohorts)}"
            for i, cohort in enumerate(self.cohort_ids)
        }
        mentors = -(-users // 40)
        mentor_width = max(2, len(str(mentors)))
        self.mentor_ids = [f"mentor-{i:0{mentor_width}d}" for i in range(1, mentors + 1)]

    # ----- helpers ---------------------------------------------------------------------------

    def new_uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator, in canonical text form."""
        bits = self.rng.getrandbits(128)
        bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset)

    def add(
        self, kind: TopicKind, event_type: str, data: dict[str, Any], occurred: int, publish: float
    ) -> int:
        """Encodes and queues one fact; returns its index in `self.queued`.

        Fast path: `data` holds every field of the payload model in the model's field order,
        and pydantic's own JSON writer turns the envelope into exactly the bytes
        `schemas.registry.encode` would (same datetime, float and string formatting), about
        three times faster than validating a model and dumping it. The first message of each
        event type is checked against `decode` and `encode`, so a model change that the
        generator does not follow fails loudly instead of producing off-contract bytes.
        """
        payload_model, _ = CURRENT[event_type]
        event_id = self.new_uuid()
        value = _to_json(
            {
                "event_id": event_id,
                "event_type": event_type,
                "schema_version": payload_model.schema_version,
                "occurred_at": self.start + timedelta(seconds=occurred),
                "producer": "profiler" if kind == "profiler" else "mentorship",
                "correlation_id": f"req-{self.rng.getrandbits(40):010x}",
                "data": data,
            }
        )
        message = PublishedMessage(kind, data[payload_model.key_field], event_type, event_id, value)
        if event_type not in self.checked:
            self.check(message)
            self.checked.add(event_type)
        self.queued.append(message)
        self.publish.append(publish)
        return len(self.queued) - 1

    @staticmethod
    def check(message: PublishedMessage) -> None:
        event = decode(message.value)  # raises EventRejected if the generator broke the contract
        if encode(event) != message.value:
            raise AssertionError(
                f"sample bytes of {message.event_type} differ from schemas.registry.encode: "
                "update producers/sample.py to the model's fields and field order"
            )

    # ----- the plan --------------------------------------------------------------------------

    def run(self, count: int) -> list[PublishedMessage]:
        users = len(self.user_ids)
        duplicates = round(count * DUPLICATE_RATE) if count >= 20 else 0
        unique = count - duplicates
        erasures = 0 if unique < 40 else min(max(1, round(users * ERASURE_RATE)), unique // 40)
        mentor_budget = 0 if unique < 30 else max(2, min(round(users * 0.3), round(unique * 0.06)))
        rest = unique - erasures - mentor_budget
        invalidations = 0
        if rest >= 20:
            invalidations = max(1, round(rest * INVALIDATION_RATE / (1 + INVALIDATION_RATE)))
        sessions = rest - invalidations

        learners = self.population()
        active = self.schedule(learners, sessions)
        erased = self.erase(active, erasures)
        slots = [(learner.user_id, j) for learner in active for j in range(len(learner.times))]
        invalid = set(self.rng.sample(slots, min(invalidations, len(slots))))
        first_invalidation = True
        for learner in active:
            published = self.sessions_of(learner, invalid)
            for j, (session_id, index) in enumerate(published):
                if (learner.user_id, j) in invalid:
                    self.invalidate(learner, j, session_id, index, early=first_invalidation)
                    first_invalidation = False
            if learner.user_id in erased:
                erased_at = erased[learner.user_id]
                occurred = erased_at + self.rng.randint(0, 60)
                data = {"user_id": learner.user_id, "erased_at": self.at(erased_at)}
                self.add("profiler", ERASED, data, occurred, occurred + self.rng.uniform(0, 30))
        self.mentorships(learners, mentor_budget)
        if len(self.queued) != unique:  # pragma: no cover - a planning bug, not bad input
            raise AssertionError(f"planned {unique} distinct messages, made {len(self.queued)}")
        self.duplicate(duplicates)
        # Stable sort: messages with equal publish times keep their creation order.
        order = sorted(range(len(self.queued)), key=self.publish.__getitem__)
        return [self.queued[i] for i in order]

    def population(self) -> list[_Learner]:
        rng = self.rng
        tracks = list(TRACKS)
        cumulative = list(itertools.accumulate(TRACK_WEIGHTS))
        learners = []
        for user_id in self.user_ids:
            track = rng.choices(tracks, cum_weights=cumulative)[0]
            cohort = None
            if self.cohort_ids and rng.random() >= NO_COHORT_RATE:
                cohort = rng.choice(self.cohort_ids)
            learners.append(
                _Learner(
                    user_id=user_id,
                    cohort=cohort,
                    track=track,
                    opt_in=rng.random() < OPT_IN_RATE,
                    ability=min(92.0, max(8.0, rng.gauss(58, 16))),
                    bias={skill: rng.gauss(0, 9) for skill in TRACKS[track]},
                    values=rng.sample(CORE_VALUES, rng.randint(5, 7)),
                )
            )
        return learners

    def schedule(self, learners: list[_Learner], sessions: int) -> list[_Learner]:
        """Spreads `sessions` completion times over learners; returns those with any, by id."""
        rng = self.rng
        if sessions <= 0 or not learners:
            return []
        if sessions >= len(learners):
            idle = set(rng.sample(range(len(learners)), round(len(learners) * NO_SESSION_RATE)))
            active = [learner for i, learner in enumerate(learners) if i not in idle]
        else:
            chosen = set(rng.sample(range(len(learners)), sessions))
            active = [learner for i, learner in enumerate(learners) if i in chosen]
        per_learner = [1] * len(active)
        extra = sessions - len(active)
        if extra > 0:
            weights = [rng.expovariate(1.0) + 0.2 for _ in active]
            for i in rng.choices(range(len(active)), weights, k=extra):
                per_learner[i] += 1
        tie_done = False
        for learner, k in zip(active, per_learner, strict=True):
            times = sorted(rng.randrange(SPAN_SECONDS) for _ in range(k))
            for j in range(1, k):
                # A retake recorded with the same completed_at (the tie goes to the greater
                # session_id). The first learner with three or more sessions always has one.
                if rng.random() < TIE_RATE or (not tie_done and k >= 3):
                    times[j] = times[j - 1]
                    tie_done = True
            learner.times = times
        return active

    def erase(self, active: list[_Learner], erasures: int) -> dict[str, int]:
        """Chooses erased learners: user_id -> erased_at (s after start), after most sessions.

        Some keep a last session that completes after the erasure (it counts again).
        """
        rng = self.rng
        if erasures <= 0 or not active:
            return {}
        retakers = [learner for learner in active if len(learner.times) >= 2]
        pool = retakers if len(retakers) >= erasures else active
        chosen = sorted(rng.sample(pool, erasures), key=lambda learner: learner.user_id)
        result: dict[str, int] = {}
        post_done = False
        for learner in chosen:
            times = learner.times
            # Moving the last session past the erasure must not undo a completed_at tie.
            can_post = len(times) >= 2 and times[-1] != times[-2]
            post = can_post and (not post_done or rng.random() < POST_ERASURE_RATE)
            before = times[:-1] if post else times
            # After each earlier session has occurred (<= 120 s) and been published (<= 30 s).
            erased_at = before[-1] + 300 + rng.randint(3600, 3 * 86400)
            if post:
                times[-1] = max(times[-1], erased_at + rng.randint(3600, 7 * 86400))
                post_done = True
            result[learner.user_id] = erased_at
        return result

    def sessions_of(
        self, learner: _Learner, invalid: set[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """Queues a learner's completions; returns (session_id, queue index) per session."""
        rng = self.rng
        r = rng.random
        cohort = learner.cohort
        out: list[tuple[str, int]] = []
        for j, completed in enumerate(learner.times):
            if j and cohort is not None and r() < COHORT_SWITCH_RATE:
                cohort = rng.choice(self.cohort_ids)
            data = self.completion(learner, j, completed, cohort, (learner.user_id, j) in invalid)
            occurred = completed + int(r() * 121)
            index = self.add("profiler", COMPLETED, data, occurred, occurred + r() * 30)
            out.append((data["session_id"], index))
        # Out of order: an older session reaches the topic after a newer one (a relay retry).
        for j in range(1, len(out)):
            if learner.times[j] == learner.times[j - 1]:
                continue
            if r() < OUT_OF_ORDER_RATE or not self.out_of_order_done:
                newer, older = out[j][1], out[j - 1][1]
                later = self.publish[newer] + rng.uniform(1, 600)
                self.publish[older] = max(self.publish[older], later)
                self.out_of_order_done = True
        return out

    def completion(
        self, learner: _Learner, j: int, completed: int, cohort: str | None, suspicious: bool
    ) -> dict[str, Any]:
        """One session's `data`. Hot path: draws with `random()` rather than the slower helpers."""
        rng = self.rng
        r = rng.random
        noise = _NOISE
        skills: list[str] | tuple[str, ...] = TRACKS[learner.track]
        if r() < 0.10:  # a shortened assessment that skipped a skill or two
            skills = list(skills)
            for _ in range(1 + (r() < 0.5)):
                skills.pop(int(r() * len(skills)))
        base = learner.ability + 2.0 * min(j, 6)  # retakes improve a little
        bias = learner.bias
        scores: dict[str, float] = {}
        total = 0.0
        for skill in skills:
            value = base + bias[skill] + 7.0 * noise[int(r() * _NOISE_SIZE)]
            # One decimal; int() of a positive number rounds half up, cheaper than round().
            value = 0.0 if value < 0.0 else 100.0 if value > 100.0 else int(value * 10 + 0.5) / 10
            scores[skill] = value
            total += value
        overall = round(total / len(scores), 1)
        if suspicious:
            flags = rng.sample(FLAGS, rng.randint(1, 3))
            suspicion = round(0.55 + 0.44 * r(), 3)
            duration = 60 + int(r() * 541)
        else:
            flags = [FLAGS[int(r() * len(FLAGS))]] if r() < 0.08 else []
            suspicion = round(r() * (0.35 if flags else 0.15), 3)
            duration = max(300, int(1800 + 480 * noise[int(r() * _NOISE_SIZE)]))
        level: Level | None = None
        if r() < LEVEL_RATE:
            index = min(4, int(overall // 20))
            if r() < 0.15:  # the profiler's judgement differs from the band now and then
                index = min(4, max(0, index + (1 if r() < 0.5 else -1)))
            level = LEVELS[index]
        texts = _TEXTS[learner.track]
        motivation, impact_goal = texts[int(r() * len(texts))]
        values = learner.values
        first = int(r() * len(values))
        # Every field, in the model's field order (see `_Generator.add`).
        data: dict[str, Any] = {
            "session_id": self.new_uuid(),
            "user_id": learner.user_id,
            "cohort_id": cohort,
            "enterprise_id": self.enterprise_of[cohort] if cohort else None,
            "track": learner.track,
            "completed_at": self.start + timedelta(seconds=completed),
            "overall_score": overall,
            "recommended_level": level,
            "skill_scores": scores,
            "value_answers": {
                "core_values": (values + values)[first : first + 1 + int(r() * 5)],
                "motivation": motivation,
                "impact_goal": impact_goal,
            },
            "anti_cheat": {
                "duration_seconds": duration,
                "flags": flags,
                "suspicion_score": suspicion,
            },
            "marketplace_opt_in": learner.opt_in,
        }
        return data

    def invalidate(
        self, learner: _Learner, j: int, session_id: str, index: int, early: bool
    ) -> None:
        """Queues one session's invalidation; when `early` (or by chance) ahead of the session."""
        rng = self.rng
        invalidated = learner.times[j] + rng.randint(600, 5 * 86400)
        occurred = invalidated + rng.randint(0, 60)
        if early or rng.random() < EARLY_INVALIDATION_RATE:
            publish = self.publish[index] - rng.uniform(1, 3600)
        else:
            publish = occurred + rng.uniform(0, 30)
        data = {
            "session_id": session_id,
            "user_id": learner.user_id,
            "reason": rng.choice(INVALIDATION_REASONS),
            "invalidated_at": self.at(invalidated),
        }
        self.add("profiler", INVALIDATED, data, occurred, publish)

    def mentorships(self, learners: list[_Learner], budget: int) -> None:
        """Queues exactly `budget` assignment changes, keyed by mentee."""
        rng = self.rng
        if budget <= 0 or not learners:
            return
        size = max(1, min(len(learners), round(len(learners) * MENTEE_RATE)))
        mentees = sorted(rng.sample(learners, size), key=lambda learner: learner.user_id)
        deactivated = False
        while budget > 0:
            for learner in mentees:
                if budget <= 0:
                    break
                mentor = rng.choice(self.mentor_ids)
                self.assign(learner.user_id, mentor, active=True)
                budget -= 1
                if budget > 0 and (not deactivated or rng.random() < DEACTIVATION_RATE):
                    self.assign(learner.user_id, mentor, active=False)
                    budget -= 1
                    deactivated = True
                if budget > 0 and len(self.mentor_ids) > 1 and rng.random() < SECOND_MENTOR_RATE:
                    other = rng.choice([m for m in self.mentor_ids if m != mentor])
                    self.assign(learner.user_id, other, active=True)
                    budget -= 1

    def assign(self, mentee: str, mentor: str, *, active: bool) -> None:
        """Queues one change; a deactivation comes after the pair's last change."""
        rng = self.rng
        last = self.last_change.get((mentor, mentee))
        if not active and last is not None:
            changed = last[0] + rng.randint(3600, 14 * 86400)
        else:
            changed = rng.randrange(SPAN_SECONDS)
        occurred = changed + rng.randint(0, 30)
        publish = occurred + rng.uniform(0, 30)
        if not active and last is not None and rng.random() < EARLY_DEACTIVATION_RATE:
            publish = last[1] - rng.uniform(1, 600)  # the newer change reaches the topic first
        data = {
            "mentor_id": mentor,
            "mentee_id": mentee,
            "active": active,
            "changed_at": self.at(changed),
        }
        self.add("mentorship", ASSIGNMENT, data, occurred, publish)
        self.last_change[(mentor, mentee)] = (changed, publish)

    def duplicate(self, duplicates: int) -> None:
        """Re-sends `duplicates` earlier messages later, with the same event_id and bytes."""
        rng = self.rng
        if duplicates <= 0 or not self.queued:
            return
        for index in rng.sample(range(len(self.queued)), duplicates):
            m = self.queued[index]
            resend = PublishedMessage(
                m.topic_kind, m.key, m.event_type, m.event_id, m.value, duplicate=True
            )
            self.queued.append(resend)
            self.publish.append(self.publish[index] + rng.uniform(1, 7200))
