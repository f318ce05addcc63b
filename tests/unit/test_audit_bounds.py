"""The audit trail's bounds as pure functions: capped text, principal labels, the resource
kept, the per-principal rate limit, and the talent search's numeric bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.recipes.api import bounded_precision
from consumers.recipes.talent import SkillFilter
from toolkit.web.audit import (
    MAX_PRINCIPAL_CHARS,
    MAX_RESOURCE_CHARS,
    DenialRateLimit,
    audit_resource,
    capped,
    principal_label,
)


def test_capped_keeps_short_text_and_says_how_much_it_cut():
    assert capped("abc", 10) == "abc"
    cut = capped("x" * 5000, 100)
    assert len(cut) <= 100
    assert cut == "x" * 68 + "…[+4932 chars]"


def test_a_long_principal_is_capped_and_stays_distinct():
    assert principal_label("learner-1") == "learner-1"
    first, second = principal_label("a" * 300 + "1"), principal_label("a" * 300 + "2")
    assert len(first) <= MAX_PRINCIPAL_CHARS and len(second) <= MAX_PRINCIPAL_CHARS
    assert first != second
    assert "301 chars, sha256 " in first


def test_the_resource_keeps_the_path_and_declared_parameters_only():
    junk = "&".join(f"junk{i}={'j' * 1000}" for i in range(125))
    resource = audit_resource(f"/api/v1/x?skill=a:1&{junk}&limit=5&skill=b", {"skill", "limit"})
    assert resource == "/api/v1/x?skill=a:1&limit=5&skill=b [+125 unknown parameters]"


def test_the_resource_is_capped_even_with_declared_parameters():
    resource = audit_resource("/api/v1/x?user_id=" + "u" * 200_000 + "&other=1", {"user_id"})
    assert len(resource) <= MAX_RESOURCE_CHARS
    assert resource.startswith("/api/v1/x?user_id=uuu")
    assert resource.endswith(" chars] [+1 unknown parameters]")


def test_a_resource_without_parameters_is_its_path():
    assert audit_resource("/api/v1/profiler/mentees/m-1/results", set()) == (
        "/api/v1/profiler/mentees/m-1/results")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_records_a_burst_then_counts_the_rest_into_the_next_record():
    clock = Clock()
    limit = DenialRateLimit(3, clock=clock)
    assert [limit.admit("p") for _ in range(5)] == [0, 0, 0, None, None]
    assert limit.admit("q") == 0  # per principal
    clock.now += 20  # a third of a minute: one more record
    assert limit.admit("p") == 2  # the two suppressed, reported with this record
    assert limit.admit("p") is None
    clock.now += 60
    assert [limit.admit("p") for _ in range(4)] == [1, 0, 0, None]


def test_a_failed_record_is_carried_over_to_the_next_one():
    clock = Clock()
    limit = DenialRateLimit(1, clock=clock)
    assert limit.admit("p") == 0
    limit.unrecorded("p", 1)
    assert limit.admit("p") is None
    clock.now += 60
    assert limit.admit("p") == 2


def test_the_rate_limit_remembers_a_bounded_number_of_principals():
    limit = DenialRateLimit(1, clock=Clock(), max_principals=2)
    for principal in ("a", "b", "c"):
        assert limit.admit(principal) == 0
    assert limit.admit("c") is None  # remembered
    assert limit.admit("a") == 0  # forgotten: a fresh bucket


@pytest.mark.parametrize("minimum", ["1e-999999", "0.0000000000001", "50.1234567890123"])
def test_a_minimum_score_with_more_decimals_than_the_database_compares_is_refused(minimum):
    with pytest.raises(ValueError, match="more than 12 decimals"):
        bounded_precision(SkillFilter("python", Decimal(minimum)))


@pytest.mark.parametrize(("minimum", "normalised"), [
    ("0E-999999", Decimal(0)), ("72.50000000000000000000", Decimal("72.5")),
    ("100", Decimal(100)), ("0.000000000001", Decimal("1E-12")),
])
def test_a_minimum_score_is_normalised(minimum, normalised):
    assert bounded_precision(SkillFilter("python", Decimal(minimum))).min_score == normalised
