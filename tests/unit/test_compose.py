"""docker-compose.yml cannot run here; check what can be checked without Docker."""

from __future__ import annotations

import yaml
from typer.main import get_command

from hub.cli import app
from hub.projections import all_projections
from toolkit.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_the_design_names_exist():
    expected = {"kafka", "postgres", "migrate", "api"} | {f"worker-{n}" for n in all_projections()}
    assert expected <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert SERVICES["postgres"]["image"].startswith("postgres:")


def test_every_hub_command_is_a_real_cli_command():
    cli = get_command(app)
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        words = service["command"]
        command = cli
        for word in words:
            if word.startswith("-"):
                break
            sub = getattr(command, "commands", {}).get(word)
            if sub is None:
                break
            command = sub
        assert command is not cli, f"{name}: {words} is not a hub command"
        if words[0] == "worker" and len(words) > 1:
            assert words[1] in all_projections(), f"{name}: unknown consumer {words[1]}"
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for word in words:
            if word.startswith("--"):
                assert word in options, f"{name}: {word} is not an option of {words[0]}"


def test_every_environment_name_is_read_by_settings():
    known = {f"HUB_{field.upper()}" for field in Settings.model_fields}
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        env = service.get("environment") or {}
        # OTEL_* are OpenTelemetry's own variables (toolkit/tracing.py reads them).
        unknown = {n for n in env if not n.startswith("OTEL_")} - known
        assert not unknown, f"{name} sets {unknown}, which settings never read"
        assert {"HUB_KAFKA_BOOTSTRAP", "HUB_DATABASE_URL", "HUB_JWT_SECRET",
                "HUB_ERASURE_KEY"} <= set(env)


def test_every_migrated_worker_waits_for_migrations():
    for name, service in SERVICES.items():
        if name.startswith("worker-") or name == "api":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )
