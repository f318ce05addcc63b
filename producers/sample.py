"""Reproducible sample traffic for both topics of CONTRACT.md (pure: no I/O, no clock).

`generate_sample(count, users, cohorts, seed)` returns exactly `count` messages in publish order,
each typed (`event`) and encoded (`value == schemas.registry.encode(event)`). The same arguments
always give the same bytes. The traffic is realistic and deliberately awkward, so projections
meet every case the contract names:

- retakes: most learners have several sessions with increasing `completed_at`; a few change
  cohort on a retake; occasionally two sessions of one learner share a `completed_at` (the
  contract breaks the tie by the greater `session_id`);
- out-of-order arrival: now and then an older session is published after a newer one;
- duplicate deliveries: about 3% of messages are re-sends of an earlier message with the same
  `event_id` and the same bytes;
- invalidations of about 2% of sessions, some published before their session's completion;
- erasures of about 1% of learners after most of their events, and occasionally a session of
  an erased learner that occurred after `erased_at` (it counts again);
- mentor assignments keyed by mentee, some later deactivated by a newer `changed_at` (a few of
  those deactivations published before the activation);
- learners with no session at all (some of them mentees), and learners with no cohort.

Every event's `occurred_at` is at or after the timestamps in its `data`.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from schemas.base import EventData, Level
from schemas.learner_erased import LearnerErasedV1
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import AnyEvent, encode, new_event
from schemas.session_completed import AntiCheat, SessionCompletedV1, ValueAnswers
from schemas.session_invalidated import SessionInvalidatedV1

TopicKind = Literal["profiler", "mentorship"]

DEFAULT_START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
SPAN_SECONDS = 56 * 24 * 3600  # sessions complete within eight weeks of `start`

COMPLETED = SessionCompletedV1.event_type
INVALIDATED = SessionInvalidatedV1.event_type
ERASED = LearnerErasedV1.event_type
ASSIGNMENT = MentorshipAssignmentChangedV1.event_type

DUPLICATE_RATE = 0.03
INVALIDATION_RATE = 0.02
ERASURE_RATE = 0.01
NO_COHORT_RATE = 0.12
NO_SESSION_RATE = 0.03
OPT_IN_RATE = 0.40
LEVEL_RATE = 0.70
TIE_RATE = 0.01
OUT_OF_ORDER_RATE = 0.03
COHORT_SWITCH_RATE = 0.03
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
}
TRACK_WEIGHTS = (35, 20, 15, 15, 15)

CORE_VALUES = (
    "integrity", "curiosity", "resilience", "collaboration", "accountability", "service",
    "excellence", "courage", "empathy", "continuous_learning", "privacy", "fairness",
    "innovation", "ownership",
)
MOTIVATIONS = (
    "I want to {verb} {thing} because {why}.",
    "What drives me is the chance to {verb} {thing}; {why}.",
    "I joined to {verb} {thing}, since {why}.",
)
TRACK_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "defender": (("protect", "defend", "monitor"), ("hospital networks", "our SOC", "critical services")),
    "offensive": (("break", "test", "probe"), ("web applications", "cloud tenants", "our own defences")),
    "grc": (("govern", "measure", "reduce"), ("third-party risk", "compliance gaps", "audit findings")),
    "innovation": (("build", "automate", "secure"), ("developer pipelines", "ML platforms", "new products")),
    "leadership": (("lead", "grow", "align"), ("security teams", "incident response", "the board")),
}
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
FLAGS = ("tab_switch", "copy_paste", "rapid_answers", "multiple_ips", "idle_timeout", "devtools_open")
INVALIDATION_REASONS = (
    "anti_cheat_review: answers copied from an external source",
    "anti_cheat_review: session completed by another person",
    "anti_cheat_review: automated answering detected",
    "duplicate_account",
    "learner_request",
)
LEVELS: tuple[Level, ...] = ("novice", "beginner", "intermediate", "advanced", "expert")


@dataclass(frozen=True, slots=True)
class PublishedMessage:
    """One record as published: which topic, its key (UTF-8 string), the typed event and bytes."""

    topic_kind: TopicKind
    key: str
    event: AnyEvent
    value: bytes
    duplicate: bool = False  # a re-send of an earlier message (same event_id and bytes)

    @property
    def event_type(self) -> str:
        return self.event.event_type

    @property
    def event_id(self) -> uuid.UUID:
        return self.event.event_id


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
        """`(topic, key, value)` triples in publish order, ready for `Publisher.publish_many`."""
        topics = {"profiler": profiler_topic, "mentorship": mentorship_topic}
        return [(topics[m.topic_kind], m.key, m.value) for m in self.messages]

    def counts(self) -> dict[str, int]:
        """How many messages of each event type (duplicates counted) and of each traffic feature.

        Besides one entry per event type: `messages`, `duplicate_deliveries` (messages whose
        `event_id` was published before), `distinct_sessions`, `users_with_sessions`,
        `invalidations` (distinct invalidated sessions), `invalidations_before_completion`,
        `erasures` (distinct erased learners), `post_erasure_sessions` (sessions completed after
        their learner's `erased_at`), `mentor_assignments` (distinct assignment changes),
        `mentor_deactivations`, `out_of_order_sessions` (sessions first published after a newer
        session of the same learner), `completed_at_ties` (learner/`completed_at` pairs shared
        by two or more sessions).
        """
        by_type = Counter(m.event_type for m in self.messages)
        result: dict[str, int] = {t: by_type.get(t, 0) for t in (COMPLETED, INVALIDATED, ERASED, ASSIGNMENT)}
        seen: set[uuid.UUID] = set()
        duplicates = 0
        sessions: dict[uuid.UUID, SessionCompletedV1] = {}
        completion_position: dict[uuid.UUID, int] = {}
        invalidation_position: dict[uuid.UUID, int] = {}
        erased_at: dict[str, datetime] = {}
        assignments: dict[uuid.UUID, MentorshipAssignmentChangedV1] = {}
        newest: dict[str, tuple[datetime, uuid.UUID]] = {}
        out_of_order = 0
        for position, message in enumerate(self.messages):
            event = message.event
            if event.event_id in seen:
                duplicates += 1
                continue
            seen.add(event.event_id)
            data = event.data
            if isinstance(data, SessionCompletedV1):
                sessions[data.session_id] = data
                completion_position.setdefault(data.session_id, position)
                rank = (data.completed_at, data.session_id)
                best = newest.get(data.user_id)
                if best is not None and best[0] > data.completed_at:
                    out_of_order += 1
                if best is None or rank > best:
                    newest[data.user_id] = rank
            elif isinstance(data, SessionInvalidatedV1):
                invalidation_position.setdefault(data.session_id, position)
            elif isinstance(data, LearnerErasedV1):
                erased_at[data.user_id] = max(data.erased_at, erased_at.get(data.user_id, data.erased_at))
            elif isinstance(data, MentorshipAssignmentChangedV1):
                assignments[event.event_id] = data
        ties = Counter((s.user_id, s.completed_at) for s in sessions.values())
        result.update(
            messages=len(self.messages),
            duplicate_deliveries=duplicates,
            distinct_sessions=len(sessions),
            users_with_sessions=len({s.user_id for s in sessions.values()}),
            invalidations=len(invalidation_position),
            invalidations_before_completion=sum(
                1
                for session_id, position in invalidation_position.items()
                if position < completion_position.get(session_id, -1)
            ),
            erasures=len(erased_at),
            post_erasure_sessions=sum(
                1
                for s in sessions.values()
                if s.user_id in erased_at and s.completed_at > erased_at[s.user_id]
            ),
            mentor_assignments=len(assignments),
            mentor_deactivations=sum(1 for a in assignments.values() if not a.active),
            out_of_order_sessions=out_of_order,
            completed_at_ties=sum(1 for n in ties.values() if n > 1),
        )
        return result


@dataclass(slots=True)
class _Learner:
    user_id: str
    cohort: str | None
    track: str
    opt_in: bool
    ability: float
    bias: dict[str, float]
    values: list[str]
    times: list[int] = field(default_factory=list)  # completed_at offsets (s), ascending


@dataclass(slots=True)
class _Pending:
    """A message before ordering: publish time (s from start), creation order, the message."""

    publish: float
    seq: int
    message: PublishedMessage


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa (spreadsheet-style names for enterprises)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("a") + rest) + name
    return name


class _Generator:
    def __init__(self, count: int, users: int, cohorts: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.count = count
        self.start = start
        self.pending: list[_Pending] = []
        self.out_of_order_done = False
        self.last_change: dict[tuple[str, str], tuple[int, float]] = {}
        width = max(4, len(str(users)))
        self.user_ids = [f"learner-{i:0{width}d}" for i in range(1, users + 1)]
        cohort_width = max(2, len(str(cohorts)))
        self.cohort_ids = [f"cohort-{i:0{cohort_width}d}" for i in range(1, cohorts + 1)]
        enterprises = max(1, -(-cohorts // 3)) if cohorts else 0
        # Consecutive cohorts belong to one enterprise, about three cohorts each.
        self.enterprise_of = {
            cohort: f"enterprise-{_letters(i * enterprises // cohorts)}"
            for i, cohort in enumerate(self.cohort_ids)
        }
        mentors = max(1, -(-users // 40))
        mentor_width = max(2, len(str(mentors)))
        self.mentor_ids = [f"mentor-{i:0{mentor_width}d}" for i in range(1, mentors + 1)]

    # ----- helpers ---------------------------------------------------------------------------

    def new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset)

    def add(self, kind: TopicKind, data: EventData, occurred: int, publish: float) -> int:
        """Wraps, encodes and queues one fact; returns its index in `self.pending`."""
        event = new_event(
            data,
            event_id=self.new_uuid(),
            occurred_at=self.at(occurred),
            producer="profiler" if kind == "profiler" else "mentorship",
            correlation_id=f"req-{self.rng.getrandbits(40):010x}",
        )
        message = PublishedMessage(kind, event.key, event, encode(event))
        self.pending.append(_Pending(publish, len(self.pending), message))
        return len(self.pending) - 1

    # ----- the plan --------------------------------------------------------------------------

    def run(self) -> list[PublishedMessage]:
        count, users = self.count, len(self.user_ids)
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
                data = LearnerErasedV1(user_id=learner.user_id, erased_at=self.at(erased_at))
                self.add("profiler", data, occurred, occurred + self.rng.uniform(0, 30))
        self.mentorships(learners, mentor_budget)
        if len(self.pending) != unique:  # pragma: no cover - a planning bug, not bad input
            raise AssertionError(f"planned {unique} distinct messages, made {len(self.pending)}")
        self.duplicate(duplicates)
        self.pending.sort(key=lambda p: (p.publish, p.seq))
        return [p.message for p in self.pending]

    def population(self) -> list[_Learner]:
        rng = self.rng
        tracks = list(TRACKS)
        learners = []
        for user_id in self.user_ids:
            track = rng.choices(tracks, weights=TRACK_WEIGHTS)[0]
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
                # A retake recorded with the same completed_at (tie broken by session_id).
                if rng.random() < TIE_RATE or (not tie_done and k >= 3):
                    times[j] = times[j - 1]
                    tie_done = True
            learner.times = times
        return active

    def erase(self, active: list[_Learner], erasures: int) -> dict[str, int]:
        """Chooses erased learners: user_id -> erased_at offset, after most of their sessions.

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
            # Moving the last session after the erasure must not break a completed_at tie.
            can_post = len(times) >= 2 and times[-1] != times[-2]
            post = can_post and (not post_done or rng.random() < POST_ERASURE_RATE)
            before = times[:-1] if post else times
            # After every earlier session has occurred (+120 s) and been published (+30 s).
            erased_at = before[-1] + 300 + rng.randint(3600, 3 * 86400)
            if post:
                times[-1] = max(times[-1], erased_at + rng.randint(3600, 7 * 86400))
                post_done = True
            result[learner.user_id] = erased_at
        return result

    def sessions_of(
        self, learner: _Learner, invalid: set[tuple[str, int]]
    ) -> list[tuple[uuid.UUID, int]]:
        """Queues a learner's completions; returns (session_id, pending index) per session."""
        rng = self.rng
        cohort = learner.cohort
        out: list[tuple[uuid.UUID, int]] = []
        for j, completed in enumerate(learner.times):
            if j and cohort is not None and rng.random() < COHORT_SWITCH_RATE:
                cohort = rng.choice(self.cohort_ids)
            suspicious = (learner.user_id, j) in invalid
            data = self.completion(learner, j, completed, cohort, suspicious)
            occurred = completed + rng.randint(0, 120)
            out.append((data.session_id, self.add("profiler", data, occurred, occurred + rng.uniform(0, 30))))
        # Out of order: an older session reaches the topic after a newer one (a relay retry).
        for j in range(1, len(out)):
            if learner.times[j] == learner.times[j - 1]:
                continue
            if rng.random() < OUT_OF_ORDER_RATE or not self.out_of_order_done:
                newer = self.pending[out[j][1]]
                older = self.pending[out[j - 1][1]]
                older.publish = max(older.publish, newer.publish + rng.uniform(1, 600))
                self.out_of_order_done = True
        return out

    def completion(
        self, learner: _Learner, j: int, completed: int, cohort: str | None, suspicious: bool
    ) -> SessionCompletedV1:
        rng = self.rng
        skills = list(TRACKS[learner.track])
        if rng.random() < 0.10:  # a shortened assessment that skipped a skill or two
            for _ in range(rng.randint(1, 2)):
                skills.pop(rng.randrange(len(skills)))
        base = learner.ability + 2.0 * min(j, 6)  # retakes improve a little
        bias = learner.bias
        gauss = rng.gauss
        scores = {
            skill: round(min(100.0, max(0.0, base + bias[skill] + gauss(0, 7))), 1) for skill in skills
        }
        overall = round(sum(scores.values()) / len(scores), 1)
        level: Level | None = None
        if rng.random() < LEVEL_RATE:
            index = min(4, int(overall // 20))
            if rng.random() < 0.15:  # the profiler's judgement differs from the band now and then
                index = min(4, max(0, index + rng.choice((-1, 1))))
            level = LEVELS[index]
        verbs, things = TRACK_WORDS[learner.track]
        words = {"verb": rng.choice(verbs), "thing": rng.choice(things), "why": rng.choice(WHYS)}
        if suspicious:
            flags = rng.sample(FLAGS, rng.randint(1, 3))
            suspicion = round(rng.uniform(0.55, 0.99), 3)
            duration = rng.randint(60, 600)
        else:
            flags = [rng.choice(FLAGS)] if rng.random() < 0.08 else []
            suspicion = round(rng.uniform(0.0, 0.35 if flags else 0.15), 3)
            duration = max(300, int(rng.gauss(1800, 480)))
        return SessionCompletedV1(
            session_id=self.new_uuid(),
            user_id=learner.user_id,
            cohort_id=cohort,
            enterprise_id=self.enterprise_of[cohort] if cohort else None,
            track=learner.track,
            completed_at=self.at(completed),
            overall_score=overall,
            recommended_level=level,
            skill_scores=scores,
            value_answers=ValueAnswers(
                core_values=rng.sample(learner.values, rng.randint(1, 5)),
                motivation=rng.choice(MOTIVATIONS).format(**words),
                impact_goal=rng.choice(IMPACT_GOALS).format(**words),
            ),
            anti_cheat=AntiCheat(duration_seconds=duration, flags=flags, suspicion_score=suspicion),
            marketplace_opt_in=learner.opt_in,
        )

    def invalidate(
        self, learner: _Learner, j: int, session_id: uuid.UUID, index: int, early: bool
    ) -> None:
        """Queues the invalidation of one session; `early` (or by chance) ahead of its completion."""
        rng = self.rng
        invalidated = learner.times[j] + rng.randint(600, 5 * 86400)
        occurred = invalidated + rng.randint(0, 60)
        if early or rng.random() < EARLY_INVALIDATION_RATE:
            publish = self.pending[index].publish - rng.uniform(1, 3600)
        else:
            publish = occurred + rng.uniform(0, 30)
        data = SessionInvalidatedV1(
            session_id=session_id,
            user_id=learner.user_id,
            reason=rng.choice(INVALIDATION_REASONS),
            invalidated_at=self.at(invalidated),
        )
        self.add("profiler", data, occurred, publish)

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
            publish = last[1] - rng.uniform(1, 600)  # the newer change arrives first
        data = MentorshipAssignmentChangedV1(
            mentor_id=mentor, mentee_id=mentee, active=active, changed_at=self.at(changed)
        )
        self.add("mentorship", data, occurred, publish)
        self.last_change[(mentor, mentee)] = (changed, publish)

    def duplicate(self, duplicates: int) -> None:
        """Re-sends `duplicates` earlier messages later, with the same event_id and bytes."""
        rng = self.rng
        if duplicates <= 0 or not self.pending:
            return
        for original in rng.sample(self.pending, duplicates):
            m = original.message
            resend = PublishedMessage(m.topic_kind, m.key, m.event, m.value, duplicate=True)
            self.pending.append(_Pending(original.publish + rng.uniform(1, 7200), len(self.pending), resend))


def generate_sample(
    count: int, users: int, cohorts: int, seed: int, start: datetime | None = None
) -> SampleTraffic:
    """`count` messages across both topics, in publish order, reproducible for the arguments.

    `users` learners (`learner-0001`...), `cohorts` cohorts (`cohort-01`...) grouped about three
    to an enterprise (`enterprise-a`...); `start` (timezone-aware, default 2026-01-05T08:00Z) is
    the earliest `completed_at`. Pure: the same arguments give identical bytes.
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
    generator = _Generator(count, users, cohorts, seed, start.astimezone(UTC))
    messages = generator.run()
    return SampleTraffic(
        messages=messages,
        count=count,
        users=users,
        cohorts=cohorts,
        seed=seed,
        start=start,
        user_ids=generator.user_ids,
    )
