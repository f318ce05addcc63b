"""Where each event was published (`sent_partition`, `sent_offset`) and the lookup by event id:
the kit's `sql/outbox.sql` again (idempotent), which now holds them."""

from django.db import migrations

from profiler_hub_kit.outbox import DROP_POSITION_SQL, ddl


class Migration(migrations.Migration):
    dependencies = [("profiler_hub_outbox", "0001_outbox")]
    operations = [migrations.RunSQL(ddl(), reverse_sql=DROP_POSITION_SQL)]
