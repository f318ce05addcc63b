"""Who may read a mentee's results (CONTRACT: an actively assigned mentor; admins over the
mentee; the mentee themselves is not on the list)."""

from __future__ import annotations

import pytest

from consumers.mentorship.api import may_read_mentee_results
from toolkit.web.access import Placement
from toolkit.web.auth import Principal

PLACED = Placement("cohort-01", "enterprise-a")


def who(user: str, *roles: str, enterprise: str | None = None, cohorts=()) -> Principal:
    return Principal(user, frozenset(roles), enterprise, frozenset(cohorts))


@pytest.mark.parametrize(
    ("principal", "placement", "active_mentor", "allowed"),
    [
        (who("m", "mentor"), PLACED, True, True),
        (who("m", "mentor"), Placement(), True, True),  # a mentee without sessions yet
        (who("m", "mentor"), PLACED, False, False),  # inactive or never assigned
        (who("m", "learner"), PLACED, True, False),  # assigned, but without the mentor role
        (who("e", "learner"), PLACED, False, False),  # the mentee themselves
        (who("ops", "platform_admin"), Placement(), False, True),
        (who("ea", "enterprise_admin", enterprise="enterprise-a"), PLACED, False, True),
        (who("eb", "enterprise_admin", enterprise="enterprise-b"), PLACED, False, False),
        (who("ca", "cohort_admin", cohorts=["cohort-01"]), PLACED, False, True),
        (who("cb", "cohort_admin", cohorts=["cohort-02"]), PLACED, False, False),
        (who("ca", "cohort_admin", cohorts=["cohort-01"]), Placement(), False, False),
    ],
)
def test_mentee_results_access(principal, placement, active_mentor, allowed):
    decision = may_read_mentee_results(principal, placement, active_mentor)
    assert decision.allowed is allowed
    assert decision.reason
