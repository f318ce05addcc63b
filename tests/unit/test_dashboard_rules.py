"""The dashboard's pure rules: which groups a caller is offered, and how group gaps rank."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.analytics.api import may_read_cohort, may_read_enterprise
from hub.api.dashboard import CONTENT_SECURITY_POLICY
from hub.api.routes.admin_groups import Groups, may_list_groups, visible_groups
from hub.api.routes.skill_gaps import SkillSums, largest_gaps
from toolkit.web.auth import Principal


def who(*roles: str, enterprise: str | None = None, cohorts: tuple[str, ...] = ()) -> Principal:
    return Principal("caller", frozenset(roles), enterprise, frozenset(cohorts))


GROUPS = Groups(
    cohorts={"c1": 3, "c2": 4, "c3": 5, "c4": 1, "c5": 2},
    enterprises={"e1": 6, "e2": 7},
    # c3 spans two enterprises; c4 has learners without an enterprise only; c5 has one
    # learner of e1 and one without an enterprise, so it is not e1's
    placements={"c1": {"e1": 3}, "c2": {"e2": 4}, "c3": {"e1": 2, "e2": 3}, "c5": {"e1": 1}},
)


@pytest.mark.parametrize(
    ("principal", "cohorts", "enterprises"),
    [
        (who("platform_admin"), ["c1", "c2", "c3", "c4", "c5"], ["e1", "e2"]),
        (who("enterprise_admin", enterprise="e1"), ["c1"], ["e1"]),
        (who("cohort_admin", "enterprise_admin", enterprise="e1", cohorts=("c5",)),
         ["c1", "c5"], ["e1"]),
        (who("enterprise_admin", enterprise="e9"), [], []),
        (who("cohort_admin", cohorts=("c2", "c3", "c9")), ["c2", "c3"], []),
        (who("cohort_admin", "enterprise_admin", enterprise="e2", cohorts=("c4",)),
         ["c2", "c4"], ["e2"]),
    ],
)
def test_each_admin_is_offered_exactly_their_groups(principal, cohorts, enterprises):
    mine = visible_groups(principal, GROUPS)
    assert list(mine.cohorts) == cohorts
    assert list(mine.enterprises) == enterprises
    assert {c: mine.cohorts[c] for c in cohorts} == {c: GROUPS.cohorts[c] for c in cohorts}


roles = st.frozensets(st.sampled_from(
    ["learner", "mentor", "cohort_admin", "enterprise_admin", "platform_admin"]))
principals = st.builds(
    Principal, st.just("caller"), roles, st.sampled_from([None, "e1", "e2", "e3"]),
    st.frozensets(st.sampled_from(["c1", "c2", "c3", "c4", "c5"])))


@given(principals)
def test_offered_means_the_analytics_endpoints_would_answer(principal):
    """Listed groups are exactly those whose analytics the same caller may read."""
    mine = visible_groups(principal, GROUPS)
    for cohort in GROUPS.cohorts:
        allowed = may_read_cohort(principal, cohort, GROUPS.members(cohort))
        assert (cohort in mine.cohorts) is allowed.allowed
    for enterprise in GROUPS.enterprises:
        allowed = may_read_enterprise(principal, enterprise).allowed
        assert (enterprise in mine.enterprises) is allowed


def test_only_admins_may_list_groups():
    assert may_list_groups(who("cohort_admin")).allowed
    assert may_list_groups(who("platform_admin")).allowed
    refused = may_list_groups(who("learner", "mentor", enterprise="e1", cohorts=("c1",)))
    assert not refused.allowed
    assert refused.reason == (
        "caller is neither cohort_admin, enterprise_admin nor platform_admin")


def sums(skill: str, learners: int, below: int, score: str, target: str, gap: str) -> SkillSums:
    return SkillSums(skill, learners, below, Decimal(score), Decimal(target), Decimal(gap))


def test_gaps_are_means_largest_first_ties_by_skill():
    ranked = largest_gaps([
        sums("audit", 2, 1, "130", "150", "25"),          # mean gap 12.5
        sums("privacy", 4, 2, "240", "300", "50"),        # 12.5: tie, after audit
        sums("compliance", 3, 3, "150", "240", "90.3"),   # 30.1
        sums("communication", 1, 0, "95", "80", "0"),     # no gap
    ], limit=3)
    assert [(g.skill, g.average_gap) for g in ranked] == [
        ("compliance", 30.1), ("audit", 12.5), ("privacy", 12.5)]
    first = ranked[0]
    assert (first.learners, first.learners_below_target, first.average_score,
            first.average_target) == (3, 3, 50.0, 80.0)


def test_page_policy_allows_this_origin_only():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert "unsafe" not in CONTENT_SECURITY_POLICY
