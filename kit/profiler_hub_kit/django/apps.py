from django.apps import AppConfig


class ProfilerHubOutboxConfig(AppConfig):
    """The outbox table (`hub_outbox.outbox`) in this project's database, by `migrate`."""

    name = "profiler_hub_kit.django"
    label = "profiler_hub_outbox"
    verbose_name = "Profiler Integration Hub outbox"
