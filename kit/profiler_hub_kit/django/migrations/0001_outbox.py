"""The outbox table, from the kit's `sql/outbox.sql`: the same DDL `hub outbox install` runs."""

from django.db import migrations

from profiler_hub_kit.outbox import DROP_SQL, ddl


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL(ddl(), reverse_sql=DROP_SQL)]
