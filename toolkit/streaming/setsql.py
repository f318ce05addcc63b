"""Set-based SQL for the hot path: one statement per table per batch, whatever its size.

Rows travel as one array per column through `unnest`, and key lists as one array through
`= ANY(...)`. Each statement's text is then the same for every batch, so asyncpg prepares it
once, SQLAlchemy processes a few arrays instead of every row's parameters, and PostgreSQL
plans one statement instead of one per row (executemany).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Table, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import TypeEngine

from toolkit.streaming import direct


def unnest_insert(table: Table, columns: Sequence[str]) -> Insert:
    """`INSERT INTO table (columns) SELECT * FROM unnest(<one array per column>)`; add an
    ON CONFLICT clause as to any insert, then run it with `insert_rows`."""
    arrays = [bindparam(_param(c), type_=ARRAY(_carrier(table.c[c].type))) for c in columns]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived()
    values = [
        cast(rows.c[c], table.c[c].type) if isinstance(table.c[c].type, ARRAY) else rows.c[c]
        for c in columns
    ]
    return insert(table).from_select(list(columns), select(*values))


async def insert_rows(
    conn: AsyncConnection,
    stmt: Insert,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique: Sequence[str] = (),
    last: bool = False,
) -> None:
    """Run an `unnest_insert` statement for `rows` (dicts with every one of `columns`), on
    asyncpg directly (`toolkit.streaming.direct`: build `stmt` once, not per call).

    One statement cannot upsert the same key twice ("ON CONFLICT DO UPDATE command cannot
    affect row a second time"), so with `unique` (the conflict key) a key's second row goes
    in a second statement, and so on: the effect of inserting the rows one by one, in order.
    `last`: the projection's last statement of the batch (`direct.run_last`): the live
    applier sends it in one round trip with the positions' advance.
    """
    rounds = _rounds(rows, unique)
    if last and len(rounds) == 1:
        await direct.run_last(conn, stmt, row_arrays(stmt.table, columns, rounds[0]))
        return
    for part in rounds:
        await direct.run(conn, stmt, row_arrays(stmt.table, columns, part))


def row_arrays(
    table: Any, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The parameters of an `unnest_insert` statement for `rows`: one array per column (for
    a statement that embeds the insert, such as a CTE; `insert_rows` runs the insert itself)."""
    literal = {c for c in columns if isinstance(table.c[c].type, ARRAY)}
    return {
        _param(c): [_array_literal(row[c]) for row in rows] if c in literal
        else [row[c] for row in rows]
        for c in columns
    }


def any_of(column: ColumnClause | ColumnElement, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY(:array)`: a key list as one parameter (IN would be one per key)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


def _carrier(column_type: TypeEngine) -> TypeEngine:
    """The element type of a column's array parameter. An array column's values travel as
    array literals in text, since PostgreSQL arrays of arrays must be rectangular (and
    `unnest` would flatten them)."""
    return Text() if isinstance(column_type, ARRAY) else column_type


def _array_literal(values: Sequence[str] | None) -> str | None:
    if values is None:
        return None
    quoted = (
        '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values
    )
    return "{" + ",".join(quoted) + "}"


def _param(column: str) -> str:
    return f"{column}_values"


def _rounds(
    rows: Sequence[Mapping[str, Any]], unique: Collection[str]
) -> Sequence[Sequence[Mapping[str, Any]]]:
    if not rows:
        return []
    if not unique:
        return [rows]
    rounds: list[list[Mapping[str, Any]]] = []
    seen: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row[k] for k in unique)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(row)
    return rounds
