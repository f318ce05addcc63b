"""Where the active recipe catalog lives: a versioned table, the shipped file as fallback.

`hub catalog load FILE` validates the file and stores it as the active catalog in one
transaction; a bad file changes nothing. Readers (API, mentorship) ask `active_catalog`, or
`active_catalog_raw` on the API's fast path (asyncpg).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.recipes.catalog import Catalog, parse_catalog, shipped_catalog

SCHEMA = "hub_catalog"
metadata = MetaData()

catalogs = Table(
    "catalogs",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default="false"),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_catalogs_one_active", "active", unique=True, postgresql_where=text("active")),
    schema=SCHEMA,
)

_cache: dict[str, Catalog] = {}
_shipped: list[Catalog] = []  # the shipped catalog, parsed (it changes only with a deployment)

ACTIVE_SQL = "SELECT version, document::text FROM hub_catalog.catalogs WHERE active"
VERSION_SQL = "SELECT document::text FROM hub_catalog.catalogs WHERE version = $1"


async def active_catalog(conn: AsyncConnection) -> Catalog:
    """The catalog loaded last, or the one shipped with the hub when none was loaded."""
    row = (
        await conn.execute(
            select(catalogs.c.version, catalogs.c.document).where(catalogs.c.active)
        )
    ).first()
    if row is None:
        return shipped_catalog()
    version, document = row
    if version not in _cache:
        _cache.clear()
        _cache[version] = Catalog.model_validate(document)
    return _cache[version]


async def active_catalog_raw(conn) -> Catalog:
    """`active_catalog` on an asyncpg connection, sharing its cache of the parsed catalog."""
    row = await conn.fetchrow(ACTIVE_SQL)
    if row is None:  # parsed once: a file read and validation per request was ~9% of a read
        if not _shipped:
            _shipped.append(shipped_catalog())
        return _shipped[0]
    version, document = row
    if version not in _cache:
        _cache.clear()
        _cache[version] = Catalog.model_validate_json(document)
    return _cache[version]


async def catalog_of_version(conn, version: str | None) -> Catalog:
    """The catalog of `version` (None: the shipped one) on an asyncpg connection, for a reader
    that learned the active version in its own statement: the document is read only when this
    process has not parsed that version yet (the same cache as `active_catalog_raw`)."""
    if version is None:
        if not _shipped:
            _shipped.append(shipped_catalog())
        return _shipped[0]
    cached = _cache.get(version)
    if cached is not None:
        return cached
    document = await conn.fetchval(VERSION_SQL, version)
    if document is None:  # replaced meanwhile: the active one then
        return await active_catalog_raw(conn)
    _cache.clear()
    _cache[version] = catalog = Catalog.model_validate_json(document)
    return catalog


async def store_catalog(conn: AsyncConnection, text: str | bytes) -> Catalog:
    """Validate and activate a catalog document (caller owns the transaction)."""
    catalog = parse_catalog(text)
    await conn.execute(update(catalogs).values(active=False).where(catalogs.c.active))
    stmt = insert(catalogs).values(
        version=catalog.version, document=catalog.model_dump(mode="json"), active=True
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["version"],
            set_={"document": stmt.excluded.document, "active": True, "loaded_at": func.now()},
        )
    )
    return catalog
