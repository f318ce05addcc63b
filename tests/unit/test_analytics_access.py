"""Who may read cohort and enterprise analytics (CONTRACT, "Read API"): pure rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.analytics.api import CohortMembers, may_read_cohort, may_read_enterprise
from toolkit.web.access import Decision
from toolkit.web.auth import Principal


def who(*roles: str, enterprise: str | None = None, cohorts: tuple[str, ...] = ()) -> Principal:
    return Principal("caller", frozenset(roles), enterprise, frozenset(cohorts))


def members(learners: int, **by_enterprise: int) -> CohortMembers:
    return CohortMembers(learners, by_enterprise)


@pytest.mark.parametrize(
    ("principal", "cohort", "allowed"),
    [
        (who("platform_admin"), members(0), True),
        (who("cohort_admin", cohorts=("c1",)), members(0), True),
        (who("cohort_admin", cohorts=("c1",)), members(3, e1=1, e2=1), True),
        (who("cohort_admin", cohorts=("c2",)), members(2, e1=2), False),
        (who("enterprise_admin", enterprise="e1"), members(2, e1=2), True),
        (who("enterprise_admin", enterprise="e2"), members(2, e1=2), False),
        (who("enterprise_admin", enterprise="e1"), members(0), False),  # unknown cohort
        (who("enterprise_admin", enterprise="e1"), members(2, e1=1, e2=1), False),
        # learners without an enterprise are nobody's: the cohort is not e1's alone
        (who("enterprise_admin", enterprise="e1"), members(2, e1=1), False),
        (who("enterprise_admin", enterprise="e1"), members(41, e1=40), False),
        (who("enterprise_admin", enterprise="e1"), members(1), False),
        (who("enterprise_admin"), members(1, e1=1), False),
        (who("learner", enterprise="e1", cohorts=("c1",)), members(1, e1=1), False),
        (who("mentor", enterprise="e1", cohorts=("c1",)), members(1, e1=1), False),
    ],
)
def test_cohort_readers(principal, cohort, allowed):
    assert may_read_cohort(principal, "c1", cohort).allowed is allowed


def test_cohort_refusals_say_why_and_name_no_other_tenant():
    spanning = may_read_cohort(who("enterprise_admin", enterprise="e1"), "c1",
                               members(3, e1=1, e2=1))
    assert spanning.reason == "cohort c1 has current learners outside enterprise e1"
    assert "e2" not in spanning.reason
    other = may_read_cohort(who("enterprise_admin", enterprise="e9"), "c1", members(2, e1=2))
    assert "e1" not in other.reason.replace("c1", "")
    assert "not cohort_admin of c1" in other.reason


TENANTS = ["tenant-a1", "tenant-b2", "tenant-c3"]


@given(
    roles=st.frozensets(st.sampled_from(
        ["learner", "mentor", "cohort_admin", "enterprise_admin", "platform_admin"])),
    enterprise=st.sampled_from([None, *TENANTS]),
    placed=st.dictionaries(st.sampled_from(TENANTS), st.integers(1, 5)),
    outside=st.integers(0, 3),
)
def test_a_cohort_refusal_names_no_enterprise_but_the_callers(roles, enterprise, placed,
                                                              outside):
    principal = Principal("caller", roles, enterprise, frozenset({"c9"}))
    cohort = CohortMembers(sum(placed.values()) + outside, placed)
    decision = may_read_cohort(principal, "c1", cohort)
    if not decision.allowed:
        assert not {t for t in TENANTS if t in decision.reason} - {enterprise}, decision


@pytest.mark.parametrize(
    ("principal", "enterprise", "allowed", "reason"),
    [
        (who("platform_admin"), "e1", True, "platform_admin"),
        (who("enterprise_admin", enterprise="e1"), "e1", True,
         "enterprise_admin of the enterprise"),
        (who("enterprise_admin", enterprise="e2"), "e1", False,
         "caller is enterprise_admin of e2, not of e1"),
        (who("cohort_admin", enterprise="e1", cohorts=("c1",)), "e1", False,
         "caller is neither enterprise_admin nor platform_admin"),
        (who("learner", enterprise="e1"), None, False,
         "caller is neither enterprise_admin nor platform_admin"),
    ],
)
def test_enterprise_readers(principal, enterprise, allowed, reason):
    assert may_read_enterprise(principal, enterprise) == Decision(allowed, reason)
