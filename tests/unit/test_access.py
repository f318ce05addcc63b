"""Tokens and read rules of the CONTRACT, without I/O."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import HTTPException

from consumers.mentorship.api import may_read_mentee_results
from toolkit.web.access import Placement, may_read_learner
from toolkit.web.auth import Principal, issue_token, principal_from_token

SECRET = "s3cret-for-tests-only-long-enough-for-hs256"
PLACED = Placement(cohort_id="cohort-01", enterprise_id="enterprise-a")


def who(roles, user="caller", enterprise=None, cohorts=()):
    return Principal(user, frozenset(roles), enterprise, frozenset(cohorts))


@pytest.mark.parametrize(
    ("principal", "mentor", "allowed"),
    [
        (who(["learner"], user="learner-1"), False, True),
        (who(["learner"]), False, False),
        (who(["mentor"]), True, True),
        (who(["mentor"]), False, False),
        (who(["learner"]), True, False),  # an assignment without the mentor role is not enough
        (who(["cohort_admin"], cohorts=["cohort-01"]), False, True),
        (who(["cohort_admin"], cohorts=["cohort-02"]), False, False),
        (who(["enterprise_admin"], enterprise="enterprise-a"), False, True),
        (who(["enterprise_admin"], enterprise="enterprise-b"), False, False),
        (who(["cohort_admin"], enterprise="enterprise-a"), False, False),
        (who(["platform_admin"]), False, True),
    ],
)
def test_who_may_read_a_learner(principal, mentor, allowed):
    assert may_read_learner(principal, "learner-1", PLACED, mentor).allowed is allowed


def test_admins_are_not_over_a_learner_without_placement():
    nowhere = Placement()
    assert not may_read_learner(who(["cohort_admin"], cohorts=["cohort-01"]), "x", nowhere,
                                False).allowed
    assert may_read_learner(who(["platform_admin"]), "x", nowhere, False).allowed


@pytest.mark.parametrize("roles", [["learner"], ["mentor"], ["cohort_admin"],
                                   ["enterprise_admin"], ["mentor", "enterprise_admin"]])
def test_a_refusal_names_no_other_tenant(roles):
    """The 403 body carries the reason: the learner's own cohort and enterprise stay unsaid."""
    principal = who(roles, enterprise="tenant-mine", cohorts=["cohort-mine"])
    for decide in (lambda: may_read_learner(principal, "learner-1", PLACED, False),
                   lambda: may_read_mentee_results(principal, PLACED, False)):
        refused = decide()
        assert not refused.allowed
        assert PLACED.enterprise_id not in refused.reason
        assert PLACED.cohort_id not in refused.reason


def test_token_round_trip():
    token = issue_token(SECRET, "u1", ["mentor", "learner"], enterprise_id="e", cohort_ids=["c"])
    principal = principal_from_token(token, SECRET)
    assert principal == Principal("u1", frozenset({"mentor", "learner"}), "e", frozenset({"c"}))


def forged(claims, key=SECRET, algorithm="HS256"):
    return jwt.encode({"exp": int(time.time()) + 86_400, **claims}, key, algorithm=algorithm)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (forged({"sub": "u", "roles": []}, key="another-secret-" * 3), "signature"),
        (forged({"sub": "u", "roles": [], "exp": int(time.time()) - 10}), "expired"),
        (forged({"sub": "u", "roles": ["root"]}), "unknown roles"),
        (forged({"roles": ["learner"]}), "'sub'"),
        (forged({"sub": "u", "roles": "learner"}), "list of strings"),
        (jwt.encode({"sub": "u", "roles": ["platform_admin"]}, None, algorithm="none"),
         "algorithm"),
        ("not-a-token", "malformed"),
        (jwt.encode({"sub": "u", "roles": ["platform_admin"]}, SECRET, algorithm="HS256"),
         "lacks the 'exp' claim"),
    ],
)
def test_bad_tokens_get_a_precise_401(token, message):
    with pytest.raises(HTTPException) as refused:
        principal_from_token(token, SECRET)
    assert refused.value.status_code == 401
    assert message in refused.value.detail
