"""Marketplace search terms and who may search, without I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.recipes.api import talent_scope
from consumers.recipes.talent import SkillFilter, distinct_skills, parse_skill_filter
from toolkit.web.auth import Principal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("network_security:60", SkillFilter("network_security", Decimal(60))),
        ("incident_response", SkillFilter("incident_response", Decimal(0))),
        ("audit:72.5", SkillFilter("audit", Decimal("72.5"))),
        ("audit:0", SkillFilter("audit", Decimal(0))),
        ("audit:100", SkillFilter("audit", Decimal(100))),
        ("ns:with:colon:10", SkillFilter("ns:with:colon", Decimal(10))),
        ("x" * 64, SkillFilter("x" * 64, Decimal(0))),
    ],
)
def test_skill_terms_parse(text, expected):
    assert parse_skill_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1-64 characters"),
        (":60", "1-64 characters"),
        ("x" * 65, "1-64 characters"),
        ("audit:", "not a number"),
        ("audit:high", "not a number"),
        ("audit:-1", "within 0-100"),
        ("audit:100.01", "within 0-100"),
        ("audit:NaN", "within 0-100"),
        ("audit:Infinity", "within 0-100"),
    ],
)
def test_bad_skill_terms_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_skill_filter(text)


def test_a_skill_named_twice_is_refused():
    terms = [SkillFilter("a", Decimal(1)), SkillFilter("b", Decimal(0))]
    assert distinct_skills(terms) == terms
    with pytest.raises(ValueError, match=r"\['a'\]"):
        distinct_skills([*terms, SkillFilter("a", Decimal(5))])


def who(roles, enterprise=None):
    return Principal("caller", frozenset(roles), enterprise, frozenset({"cohort-01"}))


@pytest.mark.parametrize(
    ("principal", "allowed", "scope"),
    [
        (who(["platform_admin"]), True, None),
        (who(["platform_admin", "enterprise_admin"], "ent-a"), True, None),
        (who(["enterprise_admin"], "ent-a"), True, "ent-a"),
        (who(["enterprise_admin"]), False, None),
        (who(["cohort_admin"], "ent-a"), False, None),
        (who(["mentor", "learner"], "ent-a"), False, None),
    ],
)
def test_only_enterprise_and_platform_admins_search_talent(principal, allowed, scope):
    decision, enterprise = talent_scope(principal)
    assert (decision.allowed, enterprise) == (allowed, scope)
