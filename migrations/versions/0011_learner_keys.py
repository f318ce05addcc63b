"""lifecycle rows keyed by learner; erasures under a keyed hash

- sessions, invalidations (every projection) and mentorship.invalidation_details: primary key
  (user_id, session_id) instead of session_id, so one learner's events can never reach
  another learner's rows by reusing a session id. The primary key's index leads with user_id
  and replaces the per-learner index.
- portfolio item ids: uuid5 of "<user_id>/<session_id>" instead of the session id alone
  (`consumers.portfolio.decide.item_id_for`); current_statements follow.
- erasures: each stored user_hash h (a plain SHA-256 hex of the user id) becomes
  HMAC-SHA256(HUB_ERASURE_KEY, h), which is `toolkit.lifecycle.erasure_key` of the same id.
  The key must be the one the workers run with: the migration takes it from the alembic
  config (`hub migrate` passes the settings') or else from the hub settings.

Rows written while session ids could collide across learners may already be wrong; a
`hub rebuild` of each projection recomputes them from the topics under the new keys.

Revision ID: 0011
Revises: 0002_recipes, 0003_portfolio, 0004_mentorship, 0005_analytics
Create Date: 2026-12-01
"""

import hashlib
import hmac
import uuid

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = ("0002_recipes", "0003_portfolio", "0004_mentorship", "0005_analytics")
branch_labels = None
depends_on = None

SCHEMAS = ("missions", "recipes", "portfolio", "mentorship", "analytics")
# Frozen copies of the rules at this revision (a migration must not change with the code).
ITEM_NAMESPACE = uuid.UUID("5e0b7a4e-2f53-4c1d-9a0e-7d8a6c1b2f10")


def _erasure_secret() -> bytes:
    key = context.config.attributes.get("erasure_key")
    if key is None:
        from toolkit.settings import get_settings

        key = get_settings().erasure_key
    return key.encode()


def _rekey(schema: str, table: str, new_key: list[str], index: str | None) -> None:
    bind = op.get_bind()
    pkey = bind.execute(
        sa.text(
            "select conname from pg_constraint where contype = 'p' "
            "and conrelid = cast(:t as regclass)"
        ),
        {"t": f"{schema}.{table}"},
    ).scalar_one()
    op.drop_constraint(pkey, table, schema=schema, type_="primary")
    op.create_primary_key(pkey, table, new_key, schema=schema)
    if index is not None:
        op.execute(f"DROP INDEX IF EXISTS {schema}.{index}")


def _rehash_erasures(schema: str, secret: bytes) -> None:
    bind = op.get_bind()
    old = [h for (h,) in bind.execute(sa.text(f"select user_hash from {schema}.erasures"))]
    if not old:
        return
    new = [hmac.new(secret, h.encode(), hashlib.sha256).hexdigest() for h in old]
    bind.execute(
        sa.text(
            f"update {schema}.erasures e set user_hash = m.new "
            "from unnest(cast(:old as text[]), cast(:new as text[])) as m(old, new) "
            "where e.user_hash = m.old"
        ),
        {"old": old, "new": new},
    )


def _rekey_items() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("select item_id, user_id, profiler_session_id from portfolio.items")
    ).all()
    if not rows:
        return
    old = [str(item_id) for item_id, _, _ in rows]
    new = [str(uuid.uuid5(ITEM_NAMESPACE, f"{user_id}/{session_id}"))
           for _, user_id, session_id in rows]
    mapping = "from unnest(cast(:old as uuid[]), cast(:new as uuid[])) as m(old, new)"
    # A fresh id can't equal another row's old one (uuid5 of a different name), so updating
    # in place never trips the primary key.
    bind.execute(
        sa.text(f"update portfolio.items i set item_id = m.new {mapping} "
                "where i.item_id = m.old"),
        {"old": old, "new": new},
    )
    bind.execute(
        sa.text(f"update portfolio.current_statements c set item_id = m.new {mapping} "
                "where c.item_id = m.old"),
        {"old": old, "new": new},
    )


def upgrade() -> None:
    secret = _erasure_secret()
    for schema in SCHEMAS:
        _rekey(schema, "sessions", ["user_id", "session_id"], f"ix_{schema}_sessions_user")
        _rekey(schema, "invalidations", ["user_id", "session_id"],
               f"ix_{schema}_invalidations_user")
        _rehash_erasures(schema, secret)
    _rekey("mentorship", "invalidation_details", ["user_id", "session_id"],
           "ix_mentorship_invalidation_details_user")
    _rekey_items()


def downgrade() -> None:
    # Keyed hashes cannot be turned back into plain ones, and two learners may now hold the
    # same session id; restore from a backup taken before the upgrade instead.
    raise NotImplementedError("0011 cannot be downgraded")
