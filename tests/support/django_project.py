"""A small, real Django project on disk, for the producer kit's Django app: settings against a
PostgreSQL database of its own, and a `results` app whose model is the profiler's result."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy.engine import make_url

SETTINGS = """
SECRET_KEY = "test-only"
USE_TZ = True
INSTALLED_APPS = [{apps}]
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql",
    "NAME": {name!r}, "USER": {user!r}, "PASSWORD": {password!r},
    "HOST": {host!r}, "PORT": {port!r},
}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

RESULTS_MODELS = """
from django.db import models


class ProfilerResult(models.Model):
    session_id = models.UUIDField(unique=True)
    user_id = models.CharField(max_length=64)
    overall_score = models.FloatField()
    recommended_level = models.CharField(max_length=16)
    completed_at = models.DateTimeField()
"""

RESULTS_MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="ProfilerResult",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("session_id", models.UUIDField(unique=True)),
                ("user_id", models.CharField(max_length=64)),
                ("overall_score", models.FloatField()),
                ("recommended_level", models.CharField(max_length=16)),
                ("completed_at", models.DateTimeField()),
            ],
        ),
    ]
"""


def write_project(root: Path, database_url: str, *, with_results: bool = True) -> Path:
    """`root/profiler_site/settings.py` (+ `root/results/` when `with_results`); returns root."""
    url = make_url(database_url)
    apps = ['"profiler_hub_kit.django"'] + (['"results"'] if with_results else [])
    site = root / "profiler_site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "__init__.py").write_text("")
    (site / "settings.py").write_text(SETTINGS.format(
        apps=", ".join(apps), name=url.database, user=url.username or "",
        password=url.password or "", host=url.host or "", port=str(url.port or ""),
    ))
    if with_results:
        results = root / "results"
        (results / "migrations").mkdir(parents=True, exist_ok=True)
        (results / "__init__.py").write_text("")
        (results / "models.py").write_text(textwrap.dedent(RESULTS_MODELS))
        (results / "migrations" / "__init__.py").write_text("")
        (results / "migrations" / "0001_initial.py").write_text(RESULTS_MIGRATION)
    return root


def run_python(root: Path, code: str, *args: str, timeout: float = 120):
    """Runs `code` with the project's settings (Django set up), as the profiler's process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["DJANGO_SETTINGS_MODULE"] = "profiler_site.settings"
    env["PYTHONPATH"] = str(root)
    prelude = "import django\ndjango.setup()\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code), *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def manage(root: Path, *args: str, timeout: float = 120):
    """`django-admin <args>` with the project's settings."""
    code = ("import sys\nfrom django.core.management import execute_from_command_line\n"
            "execute_from_command_line(['django-admin', *sys.argv[1:]])")
    return run_python(root, code, *args, timeout=timeout)
