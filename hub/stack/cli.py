"""``hub stack up | down | status | env``: the operator's face of :mod:`hub.stack.api`."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import typer

from hub.stack.api import ensure_stack_up, external_config, stack_down, stack_status
from hub.stack.envfile import render_export
from hub.stack.errors import StackError

stack_app = typer.Typer(
    no_args_is_help=True,
    help="Local Kafka + PostgreSQL for development and tests (no Docker).",
)


@stack_app.callback()
def _quiet_clients() -> None:
    """Probes expect refused connections while services start; aiokafka would log each one."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _fail(exc: StackError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@stack_app.command()
def up() -> None:
    """Start whatever is not running (idempotent) and write .stack/hub.env."""
    began = time.monotonic()
    try:
        info = ensure_stack_up(say=typer.echo)
    except StackError as exc:
        raise _fail(exc) from exc
    if not info.external:
        typer.echo(f"stack up in {time.monotonic() - began:.1f}s; env in .stack/hub.env")
        typer.echo(render_export(info.kafka_bootstrap, info.database_url))


@stack_app.command()
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete data dirs and chosen ports."),
) -> None:
    """Stop Kafka and PostgreSQL and remove .stack/hub.env."""
    began = time.monotonic()
    try:
        stopped = stack_down(purge=purge, say=typer.echo)
    except StackError as exc:
        raise _fail(exc) from exc
    if stopped:
        typer.echo(f"stack down in {time.monotonic() - began:.1f}s")


def _row(name: str, svc: dict[str, Any], where: str) -> str:
    state = {True: "running", False: "stopped", None: "external"}[svc.get("running")]
    pid = f"pid {svc['pid']}" if svc.get("pid") else "-"
    reach = "reachable" if svc["reachable"] else f"unreachable ({svc['problem']})"
    data = f"data {svc['data_dir']}" if "data_dir" in svc else ""
    return f"{name:<9}{state:<9}{pid:<11}{where:<48}{data}  {reach}"


@stack_app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Show what runs where and whether it answers."""
    try:
        info = stack_status()
    except StackError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    kafka, pg = info["kafka"], info["postgres"]
    if info["mode"] == "external":
        typer.echo("mode: external services configured by the environment (not managed here)")
        typer.echo(_row("kafka", kafka, kafka["bootstrap"]))
        typer.echo(_row("postgres", pg, pg["url"]))
        return
    typer.echo(f"mode: local (state {info['state_file']})")
    typer.echo(_row("kafka", kafka, kafka["bootstrap"] or "-"))
    typer.echo(_row("postgres", pg, pg["url"] or "-"))
    typer.echo(f"env file: {info['env_file'] or 'absent (stack not up)'}")


@stack_app.command()
def env() -> None:
    """Print `export HUB_KAFKA_BOOTSTRAP=… HUB_DATABASE_URL=…` for the running stack."""
    try:
        ext = external_config()
        if ext is not None:
            typer.echo(render_export(ext.kafka_bootstrap, ext.database_url))
            return
        info = stack_status()
    except StackError as exc:
        raise _fail(exc) from exc
    kafka, pg = info["kafka"], info["postgres"]
    if not (kafka["running"] and pg["running"]):
        typer.echo("error: the stack is not up; run `hub stack up`", err=True)
        raise typer.Exit(1)
    typer.echo(render_export(kafka["bootstrap"], pg["url"]))
