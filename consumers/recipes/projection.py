"""Recipes projection: each learner's current session (profile) and its skill scores.

Gaps and recipe rankings are not stored: they depend on the active catalog, which
`hub catalog load` may replace at any time, so the read API computes them (see `recommend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.recipes import tables
from consumers.recipes.decide import Profile, SessionProfile, current_profile, session_facts
from schemas.registry import AnyEvent
from toolkit.decimals import exact
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import LifecycleStore
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.projection import LearnerProjection
from toolkit.streaming.setsql import any_of, insert_rows, unnest_insert

FACT_COLUMNS = (
    "track", "overall_score", "recommended_level", "cohort_id", "enterprise_id",
    "marketplace_opt_in",
)
PROFILE_COLUMNS = ("session_id", "completed_at", *FACT_COLUMNS, "difficulty")
PROFILE_ROW_COLUMNS = ("user_id", *PROFILE_COLUMNS, "updated_at")
SKILL_SCORE_COLUMNS = ("user_id", "skill", "score")

_profiles = unnest_insert(tables.profiles, PROFILE_ROW_COLUMNS)
UPSERT_PROFILES = _profiles.on_conflict_do_update(
    index_elements=["user_id"],
    set_={c: _profiles.excluded[c] for c in (*PROFILE_COLUMNS, "updated_at")},
)
INSERT_SKILL_SCORES = unnest_insert(tables.skill_scores, SKILL_SCORE_COLUMNS)


def profile_row(user_id: str, profile: Profile, now: datetime) -> dict:
    return {
        "user_id": user_id,
        **{c: getattr(profile, c) for c in PROFILE_COLUMNS},
        "updated_at": now,
    }


def skill_rows(user_id: str, profile: Profile) -> list[dict]:
    return [
        {"user_id": user_id, "skill": skill, "score": exact(score)}
        for skill, score in profile.skill_scores.items()
    ]


class RecipesBulk(LearnerBulk):
    def read_rows(self, user_id: str, state: LearnerState[SessionProfile], note: None) -> None:
        profile = current_profile(state)
        if profile is not None:
            self.out.add(tables.profiles, [profile_row(user_id, profile, self.now)])
            self.out.add(tables.skill_scores, skill_rows(user_id, profile))


class RecipesProjection(LearnerProjection):
    name = "recipes"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        # Settings.erasure_secret; None builds a projection for its name, topics and tables
        # only, which BatchApplier refuses.
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[SessionProfile] = LifecycleStore(
            tables.sessions,
            tables.invalidations,
            tables.erasures,
            facts_to_columns=lambda f: {
                **{c: getattr(f, c) for c in FACT_COLUMNS},
                "skill_scores": dict(f.skill_scores),
            },
            columns_to_facts=lambda row: SessionProfile(
                **{c: row[c] for c in FACT_COLUMNS}, skill_scores=row["skill_scores"]
            ),
            erasure_secret=erasure_secret,
        )

    session_facts = staticmethod(session_facts)

    def bulk(self, now: datetime) -> RecipesBulk:
        return RecipesBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        before, after = await self._store.fold_batch(conn, events, session_facts)

        changed: dict[str, Profile] = {}
        removed: list[str] = []
        for user_id, state in after.items():
            if state is before[user_id]:
                continue
            profile = current_profile(state)
            if profile is None:
                removed.append(user_id)
            elif profile != current_profile(before[user_id]):
                changed[user_id] = profile
        await self._write(conn, changed, removed)

    async def _write(
        self, conn: AsyncConnection, changed: dict[str, Profile], removed: list[str]
    ) -> None:
        """Set-based: a changed learner's skill rows are replaced as a whole, so a skill the
        new current session lacks does not linger."""
        profiles, scores = tables.profiles, tables.skill_scores
        stale = removed + list(changed)
        if stale:
            await conn.execute(delete(scores).where(any_of(scores.c.user_id, stale)))
        if removed:
            await conn.execute(delete(profiles).where(any_of(profiles.c.user_id, removed)))
        if not changed:
            return
        now = datetime.now(UTC)
        await insert_rows(conn, UPSERT_PROFILES, PROFILE_ROW_COLUMNS,
                          [profile_row(u, p, now) for u, p in changed.items()])
        await insert_rows(conn, INSERT_SKILL_SCORES, SKILL_SCORE_COLUMNS,
                          [row for u, p in changed.items() for row in skill_rows(u, p)],
                          last=True)  # apply's last statement: rides in the advance
