"""Who may read what (CONTRACT, "Read API"): pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.web.auth import Principal


@dataclass(frozen=True)
class Placement:
    """Where a learner currently sits, from their current session (None when unknown)."""

    cohort_id: str | None = None
    enterprise_id: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def admin_over(principal: Principal, placement: Placement) -> Decision | None:
    if "platform_admin" in principal.roles:
        return Decision(True, "platform_admin")
    if (
        "enterprise_admin" in principal.roles
        and placement.enterprise_id is not None
        and principal.enterprise_id == placement.enterprise_id
    ):
        return Decision(True, "enterprise_admin of the learner's enterprise")
    if (
        "cohort_admin" in principal.roles
        and placement.cohort_id is not None
        and placement.cohort_id in principal.cohort_ids
    ):
        return Decision(True, "cohort_admin of the learner's cohort")
    return None


def may_read_learner(
    principal: Principal, learner_id: str, placement: Placement, is_active_mentor: bool
) -> Decision:
    """The learner, their actively assigned mentors, and admins over them."""
    if principal.user_id == learner_id:
        return Decision(True, "self")
    if is_active_mentor and "mentor" in principal.roles:
        return Decision(True, "assigned mentor")
    admin = admin_over(principal, placement)
    if admin is not None:
        return admin
    return Decision(
        False,
        f"{principal.user_id} is not {learner_id}, not their assigned mentor, "
        "nor an admin over their cohort or enterprise",
    )


@dataclass(frozen=True)
class MentorLookup:
    """Whether someone is an actively assigned mentor of a learner (CONTRACT: such a mentor
    may read the learner). One statement, `$1` the mentor and `$2` the mentee, answering the
    assignment's `active` (no row: never assigned); the mentorship projection provides it
    (its `ReadApi.mentors`), and an app without one knows no mentors (`sql` None)."""

    sql: str | None

    async def is_active_mentor(self, conn: AsyncConnection, mentor_id: str,
                               mentee_id: str) -> bool:
        """On a route's SQLAlchemy connection."""
        if self.sql is None:
            return False
        row = await conn.exec_driver_sql(self.sql, (mentor_id, mentee_id))
        return bool(row.scalar())

    async def is_active_mentor_raw(self, conn: Any, mentor_id: str, mentee_id: str) -> bool:
        """On the fast path's asyncpg connection."""
        return self.sql is not None and bool(await conn.fetchval(self.sql, mentor_id, mentee_id))


NO_MENTORS = MentorLookup(None)
