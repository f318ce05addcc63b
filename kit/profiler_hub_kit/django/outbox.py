"""`publish`: enqueue an event on Django's own connection, inside the caller's transaction."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, transaction
from pydantic import BaseModel

from profiler_hub_kit.outbox import INSERT_SQL, insert_params, outbox_row


class TransactionRequired(RuntimeError):
    """`publish` was called outside `transaction.atomic()`.

    In autocommit the outbox row would commit on its own, so an event could exist for a fact
    that then failed to save (or the reverse): the one guarantee the outbox gives is gone.
    """


def publish(event: BaseModel, *, topic: str | None = None, using: str = DEFAULT_DB_ALIAS) -> int:
    """Adds `event` to the outbox of database `using`, in the open `atomic()` block; returns
    the row's id. It is published by `hub relay` once the transaction commits, and never if it
    rolls back. `topic` defaults to the CONTRACT topic of the event's type."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise TransactionRequired(
            "profiler_hub_kit.django.publish() must run inside transaction.atomic() "
            f"(database {using!r} is in autocommit): the outbox row has to commit or roll "
            "back with the data it describes"
        )
    row = outbox_row(event, topic)
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, insert_params(row))
        return int(cursor.fetchone()[0])
