"""The Django app of the producer kit (`pip install 'profiler-hub-kit[django]'`).

Add `"profiler_hub_kit.django"` to `INSTALLED_APPS` and run `manage.py migrate`: the outbox
table exists in the project's own database (the kit's `sql/outbox.sql`, the hub's DDL). Then,
in the transaction that records the fact::

    from django.db import transaction
    from profiler_hub_kit import session_completed
    from profiler_hub_kit.django import publish

    with transaction.atomic():
        result.save()
        publish(session_completed(session_id=result.id, user_id=..., ...))

`publish` writes through Django's own connection, so the row commits or rolls back with
`result`; outside `atomic()` (autocommit) it refuses with `TransactionRequired`.
"""

from profiler_hub_kit.django.outbox import TransactionRequired, publish

__all__ = ["TransactionRequired", "publish"]
