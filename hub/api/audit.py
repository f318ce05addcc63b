"""The audit trail of refused reads (CONTRACT: every 403 is logged for audit)."""

from __future__ import annotations

import logging

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.api.auth import Principal

SCHEMA = "hub_audit"
metadata = MetaData()

access_denials = Table(
    "access_denials",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("principal", String(200), nullable=False),
    Column("roles", ARRAY(String(32)), nullable=False),
    Column("resource", Text, nullable=False),
    Column("reason", Text, nullable=False),
    schema=SCHEMA,
)

log = logging.getLogger("hub.audit")


async def record_denial(engine: AsyncEngine, principal: Principal, resource: str,
                        reason: str) -> None:
    """Written in its own transaction: the refused request's own work is not committed."""
    log.warning("access denied", extra={"principal": principal.user_id,
                                        "roles": sorted(principal.roles),
                                        "resource": resource, "reason": reason})
    async with engine.begin() as conn:
        await conn.execute(insert(access_denials).values(
            principal=principal.user_id, roles=sorted(principal.roles), resource=resource,
            reason=reason))
