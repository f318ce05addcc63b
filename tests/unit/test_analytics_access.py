"""Who may read cohort and enterprise analytics (CONTRACT, "Read API"): pure rules."""

from __future__ import annotations

import pytest

from hub.api.access import Decision
from hub.api.auth import Principal
from hub.api.routes.analytics import may_read_cohort, may_read_enterprise


def who(*roles: str, enterprise: str | None = None, cohorts: tuple[str, ...] = ()) -> Principal:
    return Principal("caller", frozenset(roles), enterprise, frozenset(cohorts))


@pytest.mark.parametrize(
    ("principal", "enterprises", "allowed"),
    [
        (who("platform_admin"), [], True),
        (who("cohort_admin", cohorts=("c1",)), [], True),
        (who("cohort_admin", cohorts=("c2",)), ["e1"], False),
        (who("enterprise_admin", enterprise="e1"), ["e1"], True),
        (who("enterprise_admin", enterprise="e2"), ["e1"], False),
        (who("enterprise_admin", enterprise="e1"), [], False),  # unknown cohort: no enterprise
        (who("enterprise_admin", enterprise="e1"), ["e1", "e2"], False),
        (who("enterprise_admin"), ["e1"], False),
        (who("learner", enterprise="e1", cohorts=("c1",)), ["e1"], False),
        (who("mentor", enterprise="e1", cohorts=("c1",)), ["e1"], False),
    ],
)
def test_cohort_readers(principal, enterprises, allowed):
    assert may_read_cohort(principal, "c1", enterprises).allowed is allowed


def test_cohort_refusals_say_why():
    spanning = may_read_cohort(who("enterprise_admin", enterprise="e1"), "c1", ["e1", "e2"])
    assert spanning.reason == "cohort c1 spans enterprises ['e1', 'e2'], not only e1"
    other = may_read_cohort(who("cohort_admin", cohorts=("c2",)), "c1", ["e1"])
    assert "not cohort_admin of c1" in other.reason


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
