"""The `hub` command: one entry point for operators and developers."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.stack.cli import stack_app
from toolkit.settings import get_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Profiler Integration Hub.",
)
app.add_typer(stack_app, name="stack")
catalog_app = typer.Typer(no_args_is_help=True, help="The recipe catalog.")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("load")
def catalog_load(
    path: Annotated[
        str, typer.Argument(help="Catalog JSON file (see consumers/recipes/catalog.json)")
    ],
) -> None:
    """Validate a catalog file and make it the active one; a bad file changes nothing."""
    import asyncio
    from pathlib import Path

    from pydantic import ValidationError

    from hub.catalog_store import store_catalog
    from toolkit.db import create_engine

    async def load(text: bytes):
        engine = create_engine(get_settings(), pool_size=1)
        try:
            async with engine.begin() as conn:
                return await store_catalog(conn, text)
        finally:
            await engine.dispose()

    try:
        text = Path(path).read_bytes()
        catalog = asyncio.run(load(text))
    except OSError as exc:
        typer.echo(f"cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except (ValidationError, ValueError) as exc:
        typer.echo(f"refused {path}, active catalog unchanged:\n{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"catalog {catalog.version} active: {len(catalog.track_requirements)} tracks, "
        f"{len(catalog.skill_map)} mapped skills, {len(catalog.recipes)} recipes"
    )


@app.command()
def migrate() -> None:
    """Apply database migrations and create the Kafka topics (idempotent)."""
    from hub.migrate import migrate as run_migrate

    created = run_migrate(get_settings())
    typer.echo("database: at head")
    typer.echo(f"topics created: {', '.join(created) if created else 'none (all existed)'}")


@app.command()
def worker(
    name: Annotated[str | None, typer.Argument(help="Consumer to run, e.g. missions")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Run every consumer, one process each")
    ] = False,
) -> None:
    """Run consumer workers until Ctrl-C / SIGTERM."""
    from hub.projections import all_projections
    from hub.workers import run_worker, supervise_all

    names = list(all_projections())
    if all_ == (name is not None):
        raise typer.BadParameter(f"give one consumer name ({', '.join(names)}) or --all")
    if all_:
        raise typer.Exit(supervise_all(names, get_settings().worker_metrics_port))
    if name not in names:
        raise typer.BadParameter(f"unknown consumer {name!r}; known: {', '.join(names)}")
    run_worker(name, get_settings())


dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, redrive.")
app.add_typer(dlq_app, name="dlq")
ConsumerArg = Annotated[str, typer.Argument(help="Consumer, e.g. missions")]


def _consumer(name: str) -> str:
    from hub.projections import all_projections

    if name not in all_projections():
        raise typer.BadParameter(
            f"unknown consumer {name!r}; known: {', '.join(all_projections())}"
        )
    return name


@dlq_app.command("list")
def dlq_list(consumer: ConsumerArg) -> None:
    """One line per dead letter: reference, reason, source position, time, key, size."""
    import asyncio

    from hub.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(get_settings(), _consumer(consumer)))
    typer.echo(f"{len(letters)} dead letters in {get_settings().dead_letter_topic(consumer)}")
    for letter in letters:
        s = letter.summary()
        typer.echo(
            f"  {s['ref']:>10}  {s['reason']:24} from {s['source']:32} {s['time']}  "
            f"key={s['key']} {s['bytes']}B"
        )


@dlq_app.command("show")
def dlq_show(
    consumer: ConsumerArg,
    ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET from `hub dlq list`")],
) -> None:
    """Everything about one dead letter: reason, exception, headers, the original value."""
    import asyncio
    import json

    from hub.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(get_settings(), _consumer(consumer)))
    found = [letter for letter in letters if letter.ref == ref]
    if not found:
        typer.echo(f"no dead letter {ref} for {consumer}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(found[0].detail(), indent=2, default=str))


@dlq_app.command("redrive")
def dlq_redrive(
    consumer: ConsumerArg,
    refs: Annotated[list[str] | None, typer.Argument(help="PARTITION:OFFSET to redrive")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter not redriven yet")] = False,
    execute: Annotated[
        bool, typer.Option("--execute", help="Act; without it, only the plan")
    ] = False,
) -> None:
    """Republish dead letters to their source topic after a fix (each one at most once)."""
    import asyncio

    from hub.dlq import already_redriven, read_dead_letters, redrive
    from toolkit.db import create_engine

    settings = get_settings()
    if all_ == bool(refs):
        raise typer.BadParameter("give PARTITION:OFFSET references or --all")

    async def run() -> None:
        engine = create_engine(settings, pool_size=1)
        try:
            letters = await read_dead_letters(settings, _consumer(consumer))
            done = await already_redriven(engine, settings.dead_letter_topic(consumer))
            known = {letter.ref for letter in letters}
            missing = sorted(set(refs or ()) - known)
            if missing:
                typer.echo(f"no such dead letters: {', '.join(missing)}", err=True)
                raise typer.Exit(2)
            asked = set(refs or ())
            chosen = [x for x in letters if (all_ or x.ref in asked) and x.ref not in done]
            skipped = len([x for x in letters if (all_ or x.ref in asked) and x.ref in done])
            truncated = [x for x in chosen if x.truncated]
            chosen = [x for x in chosen if not x.truncated]
            typer.echo(
                f"plan: redrive {len(chosen)} dead letters of {consumer} "
                f"({skipped} already redriven, left alone)"
            )
            for letter in truncated:
                typer.echo(f"  {letter.ref:>10}  left alone: holds only a preview of the "
                           f"original, which is at {letter.summary()['source']}")
            for letter in chosen:
                s = letter.summary()
                typer.echo(f"  {s['ref']:>10}  {s['reason']:24} -> {s['source'].split(':')[0]}")
            if not execute:
                typer.echo("nothing done: add --execute to republish")
                return
            sent = await redrive(settings, engine, consumer, chosen)
            typer.echo(f"redriven: {len(sent)}")
        finally:
            await engine.dispose()

    asyncio.run(run())


@app.command()
def replay(
    consumer: ConsumerArg,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="earliest | latest | DATETIME (UTC unless zoned) | PARTITION:OFFSET"
        ),
    ],
    execute: Annotated[
        bool, typer.Option("--execute", help="Act; without it, only the plan")
    ] = False,
) -> None:
    """Move a consumer's positions; prints the plan per partition, acts only with --execute."""
    import asyncio

    from hub.projections import all_projections
    from hub.replay import execute as apply_plan
    from hub.replay import parse_target, plan
    from hub.status import group_states
    from toolkit.db import create_engine
    from toolkit.streaming.faust_app import group_id

    settings = get_settings()
    projection = all_projections()[_consumer(consumer)]
    try:
        target = parse_target(to)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--to") from None

    async def run() -> int:
        engine = create_engine(settings, pool_size=1)
        try:
            steps = await plan(settings, engine, projection, target)
            typer.echo(f"plan for {consumer} (--to {to}):")
            for s in steps:
                typer.echo(
                    f"  {s.topic}:{s.partition}  position {s.current:>9} -> {s.target:>9}"
                    f"  ({s.reprocess:+d} events to reprocess)"
                )
            if not execute:
                typer.echo("nothing done: add --execute to move the positions")
                return 0
            group = group_id(projection, settings)
            members = (await group_states(settings.kafka_bootstrap, [group])).get(group, {})
            if members.get("members", 0):
                typer.echo(
                    f"refused: {members['members']} worker(s) of {group} are running; "
                    "stop them first (e.g. stop `hub worker " + consumer + "`)",
                    err=True,
                )
                return 2
            await apply_plan(engine, projection, steps)
            typer.echo(f"positions moved; `hub worker {consumer}` resumes from them")
            return 0
        finally:
            await engine.dispose()

    raise typer.Exit(asyncio.run(run()))


@app.command()
def rebuild(
    consumer: Annotated[
        str | None, typer.Argument(help="Consumer, e.g. missions (or --all)")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every projection, from one read of the topics")
    ] = False,
    execute: Annotated[
        bool, typer.Option("--execute", help="Act; without it, only the plan")
    ] = False,
    passes: Annotated[
        int, typer.Option(min=1, help="Learner-key ranges folded one after another (memory)")
    ] = 1,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes computing and COPYing rows (one pass only)")
    ] = 2,
) -> None:
    """Rebuild projections from their topics into fresh table sets (read once, folded in
    memory, COPYed), then swap them all in atomically; the API keeps serving the old sets
    meanwhile. Their workers must be stopped."""
    import asyncio
    import sys

    from hub.projections import all_projections
    from hub.rebuild import plan
    from hub.rebuild import rebuild as run_rebuild
    from hub.status import group_states
    from toolkit.db import create_engine
    from toolkit.streaming.faust_app import group_id

    if all_ == (consumer is not None):
        raise typer.BadParameter("name one consumer, or --all")
    settings = get_settings()
    registry = all_projections(settings)
    projections = list(registry.values()) if all_ else [registry[_consumer(consumer or "")]]
    names = ",".join(p.name for p in projections)

    def progress(line: str) -> None:
        sys.stderr.write(f"\r  {line}\033[K")
        sys.stderr.flush()

    async def run() -> int:
        the_plan = await plan(settings, projections)
        typer.echo(f"plan for rebuilding {names}:")
        typer.echo(f"  read {the_plan.records} records once from the beginning of "
                   f"{', '.join(the_plan.topics)}"
                   + (f", in {passes} passes over learner-key ranges" if passes > 1 else ""))
        typer.echo(f"  into {the_plan.target}, then swap with {the_plan.live} in one "
                   "transaction")
        if not execute:
            typer.echo("nothing done: add --execute to rebuild")
            return 0
        groups = [group_id(p, settings) for p in projections]
        states = await group_states(settings.kafka_bootstrap, groups)
        running = {g: states.get(g, {}).get("members", 0) for g in groups}
        running = {g: n for g, n in running.items() if n}
        if running:
            busy = ", ".join(f"{n} worker(s) of {g}" for g, n in running.items())
            typer.echo(f"refused: {busy} running; stop them first (e.g. stop `hub worker "
                       f"{projections[0].name}`)", err=True)
            return 2
        engine = create_engine(settings, pool_size=1)
        try:
            result = await run_rebuild(settings, engine, projections, the_plan,
                                       write_progress=progress, passes=passes,
                                       workers=workers)
        finally:
            await engine.dispose()
        sys.stderr.write("\n")
        typer.echo(
            f"rebuilt {names}: {result.records} records in {result.seconds:.1f}s "
            f"({result.passes} passes), {result.refused} refused (not re-dead-lettered); "
            f"{the_plan.target} is now {the_plan.live}"
        )
        typer.echo(f"  refused per projection {result.refused_by}; rows {result.rows}")
        typer.echo(f"  phases {result.phases}; peak RSS {result.peak_rss_mb:.0f} MB")
        return 0

    try:
        raise typer.Exit(asyncio.run(run()))
    except KeyboardInterrupt:
        typer.echo(f"\ncancelled: {names} untouched", err=True)
        raise typer.Exit(130) from None


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Per consumer: group state, lag per partition, newest applied event, dead letters."""
    import asyncio
    import json

    from hub.status import collect, render

    result = asyncio.run(collect(get_settings()))
    typer.echo(json.dumps(result, indent=2) if as_json else render(result))


# --- upstream: `hub relay` and `hub outbox` (producers/relay.py, producers/outbox.py) ---
@app.command()
def relay(
    batch: Annotated[int, typer.Option(min=1, help="Most outbox rows per transaction")] = 500,
    once: Annotated[
        bool, typer.Option("--once", help="Publish what is pending, then exit")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between polls when idle")
    ] = 1.0,
    database_url: Annotated[
        list[str] | None,
        typer.Option(
            "--database-url",
            help="A producer database holding an outbox (repeat for several); "
            "default HUB_OUTBOX_DATABASE_URL, else the hub's database",
        ),
    ] = None,
) -> None:
    """Publish producers' outboxes to Kafka until Ctrl-C / SIGTERM (rows marked sent once
    acknowledged; several relays may run at once, each key stays in order; sent rows pruned
    after HUB_OUTBOX_RETENTION_HOURS)."""
    from producers.relay import OutboxConfigError, serve
    from toolkit.logs import configure as configure_logs

    settings = get_settings()
    configure_logs(settings.log_level)
    try:
        sent = serve(settings, batch=batch, once=once, interval=interval,
                     database_urls=database_url or ())
    except OutboxConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"published {sent} outbox rows")


outbox_app = typer.Typer(no_args_is_help=True, help="The producers' transactional outbox.")
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("install")
def outbox_install(
    database_url: Annotated[
        list[str] | None,
        typer.Option(
            "--database-url",
            help="The producer's database (repeat for several); default "
            "HUB_OUTBOX_DATABASE_URL, else the hub's database",
        ),
    ] = None,
) -> None:
    """Create the outbox table in a producer's database (the producer kit's sql/outbox.sql,
    what its Django app's migration runs); idempotent. Nothing else of the hub goes there."""
    import asyncio

    from producers.outbox import install
    from producers.relay import OutboxConfigError, outbox_name, outbox_urls

    try:
        urls = outbox_urls(get_settings(), database_url or ())
    except OutboxConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for url in urls:
        try:
            asyncio.run(install(url))
        except Exception as exc:  # unreachable, refused, no such database: the operator's fix
            reason = " ".join(str(exc).split()) or type(exc).__name__
            typer.echo(f"error: cannot install the outbox in {outbox_name(url)}: {reason}",
                       err=True)
            raise typer.Exit(2) from None
        typer.echo(f"outbox ready in {outbox_name(url)} (hub_outbox.outbox)")
# --- end upstream ---


@app.command("publish-sample")
def publish_sample(
    count: Annotated[
        int, typer.Option(min=0, help="Messages to publish across both topics")
    ] = 2000,
    users: Annotated[int, typer.Option(min=1, help="Distinct learners")] = 300,
    cohorts: Annotated[int, typer.Option(min=0, help="Cohorts")] = 12,
    seed: Annotated[int, typer.Option(help="Same seed, same events")] = 7,
) -> None:
    """Publish reproducible sample traffic: retakes, out-of-order arrival, duplicates,
    invalidations, erasures and mentor assignments."""
    import asyncio

    from hub.publishing import publish_sample as publish
    from producers.sample import generate_sample

    sample = generate_sample(count, users, cohorts, seed)
    sent = asyncio.run(publish(get_settings(), sample))
    typer.echo(f"published {sent} messages")
    for key, value in sample.counts().items():
        typer.echo(f"  {key}: {value}")


@app.command()
def demo(
    once: Annotated[bool, typer.Option("--once", help="Exit after the summary")] = False,
    count: Annotated[int, typer.Option(min=1)] = 5000,
    users: Annotated[int, typer.Option(min=1)] = 500,
    cohorts: Annotated[int, typer.Option(min=0)] = 12,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Start everything, publish a sample, wait for the projections, print a summary."""
    from hub.demo import run_demo
    from toolkit.settings import Settings

    raise typer.Exit(
        run_demo(Settings, once=once, count=count, users=users, cohorts=cohorts, seed=seed)
    )


# --- `hub audit`: the access-denial audit trail -------------------------------------------
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail of refused API reads.")
app.add_typer(audit_app, name="audit")


@audit_app.command("prune")
def audit_prune(
    older_than_days: Annotated[
        int | None,
        typer.Option(help="Delete records older than this; default HUB_AUDIT_RETENTION_DAYS"),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Records deleted per transaction")] = 10_000,
) -> None:
    """Delete access denials past the retention period, in batches; prints one line."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from hub.api.audit import prune_denials
    from toolkit.db import create_engine

    def refuse(message: str, code: int = 2) -> typer.Exit:
        typer.echo(f"hub audit prune: {message}", err=True)
        return typer.Exit(code)

    settings = get_settings()  # a bad setting: `main` says so in one line, exit 2
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    if days < 1:
        raise refuse(f"--older-than-days must be at least 1, got {days}")
    if batch_size < 1:
        raise refuse(f"--batch-size must be at least 1, got {batch_size}")

    async def run():
        engine = create_engine(settings, pool_size=1)
        try:
            return await prune_denials(engine, days, batch_size)
        finally:
            await engine.dispose()

    try:
        pruned = asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        cause = getattr(exc, "orig", None) or exc
        raise refuse(f"database error: {type(cause).__name__}: "
                     f"{str(cause).splitlines()[0] if str(cause) else ''}", 1) from None
    typer.echo(f"pruned {pruned.deleted} access denials older than {days} days "
               f"(before {pruned.cutoff.isoformat(timespec='seconds')}) in "
               f"{pruned.batches} batches")
# --- end of `hub audit` -----------------------------------------------------------------


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes sharing the port (about one per core)")] = 1,
) -> None:
    """Serve the read API."""
    import uvicorn

    from hub.api.server import uvicorn_options
    from toolkit.logs import configure as configure_logs

    settings = get_settings()
    configure_logs(settings.log_level)
    uvicorn.run(
        # By name, so that each of `workers` processes builds its own app (uvicorn's rule).
        "hub.api.app:app_from_environment",
        factory=True,
        workers=workers,
        log_config=None,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        **uvicorn_options(),
    )


def main() -> None:
    from toolkit.gc_tuning import tune_for_throughput
    from toolkit.settings import SettingsError

    tune_for_throughput()
    try:
        app()
    except SettingsError as exc:  # an operator's mistake: one line and exit 2, no traceback
        typer.echo(f"hub: refused to start: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
