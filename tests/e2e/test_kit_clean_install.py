"""The producer kit installs on its own, as the profiler's team would install it: a fresh
virtual environment, pip's real resolver (PyPI or pip's cache), and none of the hub's server
dependencies come along. Its `django` extra adds Django and what Django needs, nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from toolkit.settings import PROJECT_ROOT

HUB_SERVER_SIDE = {"faust-streaming", "aiokafka", "fastapi", "sqlalchemy", "uvicorn", "typer",
                   "structlog", "asyncpg", "alembic", "prometheus-client",
                   "profiler-integration-hub"}
# pydantic and its own requirements; Django and its own (the `django` extra).
KIT = {"profiler-hub-kit", "pydantic", "pydantic-core", "annotated-types", "typing-extensions",
       "typing-inspection"}
DJANGO = {"django", "asgiref", "sqlparse", "tzdata"}
TOOLS = {"pip", "setuptools", "wheel"}

USE_THE_KIT = """
import json
from datetime import datetime, timezone
from uuid import uuid4
from profiler_hub_kit import decode, ddl, outbox_row, session_completed
event = session_completed(
    session_id=uuid4(), user_id="learner-1", track="grc", overall_score=55.0,
    completed_at=datetime(2026, 12, 1, tzinfo=timezone.utc), skill_scores={"risk": 40},
    value_answers={"core_values": ["care"], "motivation": "m", "impact_goal": "i"},
    anti_cheat={"duration_seconds": 60, "flags": [], "suspicion_score": 0.1})
row = outbox_row(event)
assert decode(row["value"]) == event and "CREATE TABLE" in ddl()
print(json.dumps({"topic": row["topic"], "key": row["key"]}))
"""


def installed(python: Path) -> set[str]:
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], check=True,
                            capture_output=True, text=True).stdout
    return {p["name"].lower().replace("_", "-") for p in json.loads(listed)}


def pip_install(python: Path, requirement: str) -> None:
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           requirement], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def test_the_kit_installs_without_the_hubs_server_dependencies(tmp_path):
    kit = tmp_path / "kit"  # a copy: building in place would leave build files in the repo
    shutil.copytree(PROJECT_ROOT / "kit", kit,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"

    pip_install(python, str(kit))
    plain = installed(python)
    assert not plain & HUB_SERVER_SIDE, plain & HUB_SERVER_SIDE
    assert "django" not in plain
    assert plain - TOOLS <= KIT, plain - TOOLS - KIT
    used = subprocess.run([python, "-c", USE_THE_KIT], capture_output=True, text=True)
    assert used.returncode == 0, used.stderr
    assert json.loads(used.stdout) == {"topic": "profiler.events", "key": "learner-1"}

    pip_install(python, f"{kit}[django]")
    with_django = installed(python)
    assert not with_django & HUB_SERVER_SIDE, with_django & HUB_SERVER_SIDE
    assert with_django - TOOLS <= KIT | DJANGO, with_django - TOOLS - KIT - DJANGO
    app = subprocess.run([python, "-c", "import django; from django.conf import settings; "
                          "settings.configure(INSTALLED_APPS=['profiler_hub_kit.django']); "
                          "django.setup(); from profiler_hub_kit.django import publish"],
                         capture_output=True, text=True)
    assert app.returncode == 0, app.stderr
