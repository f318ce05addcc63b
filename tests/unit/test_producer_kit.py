"""The producer kit without I/O: builders fill the envelope, the hub's `schemas` modules are the
kit's, outbox URLs are read as an operator writes them."""

from __future__ import annotations

import importlib
import types
from datetime import UTC, datetime
from uuid import UUID, uuid4

import profiler_hub_kit
import pytest
from profiler_hub_kit import (
    decode,
    learner_erased,
    mentorship_assignment_changed,
    outbox_row,
    session_completed,
    session_invalidated,
)
from pydantic import ValidationError

import schemas.registry
from producers.relay import OutboxConfigError, async_url, outbox_name, outbox_urls
from toolkit.settings import Settings

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def completed_event(**overrides):
    facts = dict(
        session_id=uuid4(), user_id="learner-1", track="defender", completed_at=AT,
        overall_score=80.0, skill_scores={"network_security": 80},
        value_answers={"core_values": ["care"], "motivation": "m", "impact_goal": "i"},
        anti_cheat={"duration_seconds": 10, "flags": [], "suspicion_score": 0.0},
    )
    return session_completed(**{**facts, **overrides})


def test_builders_fill_the_envelope_and_round_trip():
    events = [
        completed_event(correlation_id="req-1"),
        session_invalidated(session_id=uuid4(), user_id="learner-1", reason="copied",
                            invalidated_at=AT),
        learner_erased(user_id="learner-1", erased_at=AT),
        mentorship_assignment_changed(mentor_id="m-1", mentee_id="learner-1", active=True,
                                      changed_at=AT),
    ]
    for event in events:
        assert isinstance(event.event_id, UUID) and event.producer == "profiler"
        assert event.occurred_at.tzinfo is not None
        assert decode(outbox_row(event)["value"]) == event
    assert events[0].correlation_id == "req-1"
    assert [outbox_row(e)["topic"] for e in events] == [
        "profiler.events", "profiler.events", "profiler.events", "mentorship.assignments"]
    assert outbox_row(events[3])["key"] == "learner-1"
    assert events[0].event_id != completed_event().event_id


def test_builders_refuse_invalid_facts_before_anything_is_written():
    with pytest.raises(ValidationError):
        completed_event(overall_score=101)
    with pytest.raises(ValidationError):
        completed_event(completed_at=datetime(2026, 12, 1))  # no zone


def test_the_hubs_schemas_names_are_the_kits_objects():
    from profiler_hub_kit.models import registry

    from schemas.session_completed import SessionCompletedV1

    assert schemas.registry.CURRENT is registry.CURRENT
    assert schemas.registry.UPCASTERS is registry.UPCASTERS
    assert schemas.registry.decode is registry.decode
    assert SessionCompletedV1 is profiler_hub_kit.models.session_completed.SessionCompletedV1



SCHEMAS_MODULES = ["base", "errors", "learner_erased", "mentorship_assignment_changed",
                   "registry", "session_completed", "session_invalidated"]


@pytest.mark.parametrize("name", SCHEMAS_MODULES)
def test_each_schemas_module_re_exports_every_public_name_its_kit_module_defines(name):
    kit = importlib.import_module(f"profiler_hub_kit.models.{name}")
    hub = importlib.import_module(f"schemas.{name}")
    # Not imported names, not modules; not pydantic's `Event[...]` entries (no identifiers).
    defined = {n for n, value in vars(kit).items() if n.isidentifier() and not n.startswith("_")
               and getattr(value, "__module__", kit.__name__) == kit.__name__
               and not isinstance(value, types.ModuleType)}
    assert set(hub.__all__) >= defined
    assert all(getattr(hub, n) is getattr(kit, n) for n in hub.__all__)

def test_outbox_urls_default_to_the_hubs_database_and_accept_libpq_urls():
    hub = Settings(database_url="postgresql+asyncpg://hub@db:5432/hub")
    assert outbox_urls(hub) == ["postgresql+asyncpg://hub@db:5432/hub"]
    several = hub.model_copy(update={
        "outbox_database_url": "postgres://p:s3cret@a/profiler, postgresql+psycopg://b:6000/x"})
    assert outbox_urls(several) == ["postgresql+asyncpg://p:s3cret@a/profiler",
                                    "postgresql+asyncpg://b:6000/x"]
    assert outbox_urls(several, ["postgresql://c/y"]) == ["postgresql+asyncpg://c/y"]
    assert outbox_name("postgresql+asyncpg://p:s3cret@a/profiler") == "a:5432/profiler"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "postgresql://host"])
def test_unusable_outbox_urls_are_refused_without_their_password(url):
    with pytest.raises(OutboxConfigError) as refused:
        async_url(url)
    assert "s3cret" not in str(refused.value)
