"""The mentorship projection through the batch applier on the real PostgreSQL and Kafka, with
events from both topics in awkward orders and batches."""

from __future__ import annotations

import random
import uuid

import pytest

from consumers.mentorship.projection import MentorshipProjection
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import MentorshipAssignmentChanged, encode, new_event
from tests.support import db
from tests.support.events import at, completed, erased, invalidated
from tests.support.oracles import mentorship as oracle
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.records import Record
from toolkit.streaming.runtime import dead_letter_producer

# Every column of the mentorship schema that names a person (erasures keep a hash only).
PERSON_COLUMNS = [
    ("sessions", "user_id"), ("invalidations", "user_id"), ("invalidation_details", "user_id"),
    ("assignment_changes", "mentor_id"), ("assignment_changes", "mentee_id"),
    ("assignments", "mentor_id"), ("assignments", "mentee_id"),
]


@pytest.fixture
async def applier(settings):
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    projection = MentorshipProjection(settings.erasure_secret)
    sink = DeadLetterSink(producer, settings.dead_letter_topic("mentorship"), "mentorship")
    yield BatchApplier(projection, engine, sink, settings, rng=random.Random(3))
    await producer.stop()
    await engine.dispose()


def assignment(mentor: str, mentee: str, *, minute: float, active: bool,
               occurred_minute: float | None = None):
    data = MentorshipAssignmentChangedV1(mentor_id=mentor, mentee_id=mentee, active=active,
                                         changed_at=at(minute))
    return new_event(data, event_id=uuid.uuid4(), producer="mentorship",
                     occurred_at=at(minute if occurred_minute is None else occurred_minute))


class Topics:
    """Hands out offsets per topic, as the broker would, to events from either topic."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.next = {settings.profiler_topic: 0, settings.mentorship_topic: 0}

    def records(self, events) -> list[Record]:
        out = []
        for e in events:
            topic = (self.settings.mentorship_topic
                     if isinstance(e, MentorshipAssignmentChanged)
                     else self.settings.profiler_topic)
            out.append(Record(topic, 0, self.next[topic], e.key.encode(), encode(e)))
            self.next[topic] += 1
        return out


async def stored_assignments(url: str, prefix: str):
    rows = await db.fetch(url, "select mentor_id, mentee_id, active, changed_at "
                               "from mentorship.assignments where mentee_id like $1", prefix + "%")
    return {(r["mentor_id"], r["mentee_id"]): (r["active"], r["changed_at"]) for r in rows}


async def rows_naming(url: str, person: str) -> dict[str, int]:
    found = {}
    for table, column in PERSON_COLUMNS:
        rows = await db.fetch(url, f"select count(*) as n from mentorship.{table} "
                                   f"where {column} = $1", person)
        if rows[0]["n"]:
            found[f"{table}.{column}"] = rows[0]["n"]
    return found


def story(p: str):
    """Reassignment, a deactivation published before its activation, an invalidation before
    its completion, and a mentee and a mentor who are erased."""
    a1 = completed(f"{p}-ann", minute=0, level="beginner")
    a2 = completed(f"{p}-ann", minute=10, level="expert")
    kill_a2 = invalidated(f"{p}-ann", a2.data.session_id, minute=20)
    b1 = completed(f"{p}-bob", minute=5, level=None, score=65)
    return [
        # ann: mentor-1, then handed over to mentor-2
        assignment(f"{p}-m1", f"{p}-ann", minute=1, active=True),
        assignment(f"{p}-m1", f"{p}-ann", minute=30, active=False),
        assignment(f"{p}-m2", f"{p}-ann", minute=31, active=True),
        # bob: the deactivation reaches the topic before the activation
        assignment(f"{p}-m1", f"{p}-bob", minute=40, active=False),
        assignment(f"{p}-m1", f"{p}-bob", minute=2, active=True),
        # cid: mentored by m3, who is erased; an older change of m3 arrives afterwards
        assignment(f"{p}-m3", f"{p}-cid", minute=3, active=True),
        erased(f"{p}-m3", minute=50),
        assignment(f"{p}-m3", f"{p}-cid", minute=4, active=True, occurred_minute=45),
        # dan: a mentee erased after sessions and an assignment, then assigned anew
        completed(f"{p}-dan", minute=6, level="advanced"),
        assignment(f"{p}-m2", f"{p}-dan", minute=7, active=True),
        erased(f"{p}-dan", minute=60),
        assignment(f"{p}-m1", f"{p}-dan", minute=70, active=True),
        kill_a2, a2, a1, b1,
    ]


async def test_both_topics_in_any_batches_match_the_oracle(applier, settings, unique):
    events = story(unique)
    topics = Topics(settings)
    records = topics.records(events)
    for start in range(0, len(records), 5):
        outcome = await applier.apply(records[start:start + 5])
        assert outcome.dead_lettered == 0

    url, p = settings.database_url, unique
    expected = oracle.assignments(events)
    assert {pair: active for pair, (active, _) in expected.items()} == {
        (f"{p}-m1", f"{p}-ann"): False, (f"{p}-m2", f"{p}-ann"): True,
        (f"{p}-m1", f"{p}-bob"): False, (f"{p}-m1", f"{p}-dan"): True,
    }
    assert await stored_assignments(url, p) == expected

    assert await rows_naming(url, f"{p}-m3") == {}
    assert await rows_naming(url, f"{p}-dan") == {
        "assignment_changes.mentee_id": 1, "assignments.mentee_id": 1}  # only the newer one

    details = await db.fetch(url, "select session_id, reason from mentorship.invalidation_details "
                                  "where user_id = $1", f"{p}-ann")
    kill_a2 = next(e for e in events if e.event_type == "profiler.session.invalidated")
    assert [(r["session_id"], r["reason"]) for r in details] == [
        (kill_a2.data.session_id, "anti-cheat review")]
    sessions = await db.fetch(url, "select user_id, facts from mentorship.sessions "
                                   "where user_id like $1", p + "%")
    assert sorted(r["user_id"] for r in sessions) == [f"{p}-ann", f"{p}-ann", f"{p}-bob"]

    again = await applier.apply(records)
    assert (again.applied, again.skipped) == (0, len(records))
    resent = await applier.apply(topics.records(list(reversed(events))))
    assert resent.dead_lettered == 0
    assert await stored_assignments(url, p) == expected
    assert await rows_naming(url, f"{p}-m3") == {}


async def test_erasure_in_the_same_batch_as_older_changes(applier, settings, unique):
    p = unique
    events = [
        erased(f"{p}-mentee", minute=50),
        assignment(f"{p}-mentor", f"{p}-mentee", minute=10, active=True, occurred_minute=40),
        completed(f"{p}-mentee", minute=20, occurred_minute=30),
        erased(f"{p}-mentor2", minute=50),
        assignment(f"{p}-mentor2", f"{p}-other", minute=10, active=True),
        assignment(f"{p}-mentor2", f"{p}-other", minute=55, active=False),
    ]
    outcome = await applier.apply(Topics(settings).records(events))
    assert outcome.applied == len(events)
    url = settings.database_url
    assert await rows_naming(url, f"{p}-mentee") == {}
    assert await stored_assignments(url, p) == oracle.assignments(events) == {
        (f"{p}-mentor2", f"{p}-other"): (False, at(55))}
