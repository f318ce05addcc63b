"""The trace context of the enqueuing transaction (`trace_context`), for the relay to publish
the event in that trace: the kit's `sql/outbox.sql` again (idempotent), which now holds it."""

from django.db import migrations

from profiler_hub_kit.outbox import DROP_TRACE_CONTEXT_SQL, ddl


class Migration(migrations.Migration):
    dependencies = [("profiler_hub_outbox", "0002_outbox_position")]
    operations = [migrations.RunSQL(ddl(), reverse_sql=DROP_TRACE_CONTEXT_SQL)]
