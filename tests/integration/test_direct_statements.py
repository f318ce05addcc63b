"""`toolkit.streaming.direct`: hot statements on asyncpg keep SQLAlchemy's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from consumers.missions import tables
from toolkit.db import create_engine
from toolkit.streaming import direct
from toolkit.streaming.applier import NEW_POSITION_COLUMNS, _new_positions
from toolkit.streaming.setsql import row_arrays


@pytest.fixture
async def engine(settings):
    engine = create_engine(settings, pre_ping=False)
    yield engine
    await engine.dispose()


def position_row(topic: str, offset: int) -> dict:
    return {"topic": topic, "partition": 0, "next_offset": offset,
            "updated_at": datetime.now(UTC)}


async def stored(engine, topic: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(tables.positions.c.next_offset)
                                  .where(tables.positions.c.topic == topic))
        return [offset for (offset,) in rows]


async def test_a_direct_statement_first_in_a_transaction_is_rolled_back_with_it(engine, unique):
    """Run first, the statement starts SQLAlchemy's transaction: nothing of it survives a
    rollback (were it autocommitted, positions could move without the batch's writes)."""
    topic = f"direct-{unique}"
    stmt = _new_positions(tables.positions)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with engine.begin() as conn:
            await direct.run(conn, stmt,
                             row_arrays(tables.positions, NEW_POSITION_COLUMNS,
                                        [position_row(topic, 7)]))
            raise Abort
    assert await stored(engine, topic) == []

    async with engine.begin() as conn:
        await direct.run(conn, stmt, row_arrays(tables.positions, NEW_POSITION_COLUMNS,
                                                [position_row(topic, 7)]))
    assert await stored(engine, topic) == [7]


async def test_direct_and_sqlalchemy_statements_share_one_transaction(engine, unique):
    """A statement through SQLAlchemy after a direct one sees its uncommitted row."""
    topic = f"direct-{unique}"
    async with engine.begin() as conn:
        await direct.run(conn, _new_positions(tables.positions),
                         row_arrays(tables.positions, NEW_POSITION_COLUMNS,
                                    [position_row(topic, 3)]))
        seen = await conn.scalar(select(tables.positions.c.next_offset)
                                 .where(tables.positions.c.topic == topic))
        assert seen == 3
        await conn.rollback()
    assert await stored(engine, topic) == []


async def test_a_table_set_maps_the_schema(engine, unique):
    """Under a `schema_translate_map` the statement names the mapped schema (rebuilds apply
    into another table set); the live table is untouched."""
    topic = f"direct-{unique}"
    async with engine.begin() as conn:
        mapped = await conn.execution_options(
            schema_translate_map={tables.positions.schema: "no_such_table_set"})
        with pytest.raises(Exception, match="no_such_table_set"):
            await direct.run(mapped, _new_positions(tables.positions),
                             row_arrays(tables.positions, NEW_POSITION_COLUMNS,
                                        [position_row(topic, 1)]))
    assert await stored(engine, topic) == []


async def test_a_deferred_write_rides_in_the_advance_and_rolls_back_with_it(engine, unique):
    """`run_last` holds a write; `run_with_deferred` sends it with the advance's statement:
    both land on commit, neither survives a rollback, and a held write never sent raises."""
    from consumers.missions.projection import UPDATED_COLUMNS, UPSERT_DIFFICULTY
    from toolkit.streaming.applier import ADVANCED_POSITION_COLUMNS, _advance_and_notify

    topic, user = f"direct-{unique}", f"direct-{unique}-u"
    now = datetime.now(UTC)
    difficulty = row_arrays(tables.difficulty, ("user_id", *UPDATED_COLUMNS), [{
        "user_id": user, "difficulty": 3, "session_id": uuid.uuid4(), "completed_at": now,
        "cohort_id": "c", "enterprise_id": "e", "updated_at": now}])
    advance = row_arrays(tables.positions, ADVANCED_POSITION_COLUMNS,
                         [{**position_row(topic, 5), "last_event_at": now}])
    statement = _advance_and_notify(tables.positions, True, "missions")

    async def user_rows() -> int:
        async with engine.connect() as conn:
            return len((await conn.execute(select(tables.difficulty.c.user_id)
                                           .where(tables.difficulty.c.user_id == user))).all())

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with engine.begin() as conn:
            with direct.deferring():
                await direct.run_last(conn, UPSERT_DIFFICULTY, difficulty)
                await direct.run_with_deferred(conn, statement, advance)
            raise Abort
    assert (await user_rows(), await stored(engine, topic)) == (0, [])

    async with engine.begin() as conn:
        with direct.deferring():
            await direct.run_last(conn, UPSERT_DIFFICULTY, difficulty)
            assert await user_rows() == 0  # held, not sent yet
            await direct.run_with_deferred(conn, statement, advance)
    assert (await user_rows(), await stored(engine, topic)) == (1, [5])

    with pytest.raises(RuntimeError, match="never sent"):
        async with engine.begin() as conn:
            with direct.deferring():
                await direct.run_last(conn, UPSERT_DIFFICULTY, difficulty)
