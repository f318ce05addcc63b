"""The `hub` command: one entry point for operators and developers."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.stack.cli import stack_app

try:  # typer vendors click since 0.2x: its exceptions are not click's
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - an older typer on the real click
    from click import exceptions as click_errors  # type: ignore[no-redef]
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
    from pathlib import Path

    from pydantic import ValidationError

    from consumers.recipes.catalog_store import store_catalog
    from hub.bootstrap import run

    async def load(hub):
        async with hub.engine.begin() as conn:
            return await store_catalog(conn, text)

    try:
        text = Path(path).read_bytes()
        catalog = run(load)
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
    """Run consumer workers until Ctrl-C / SIGTERM. A broker out of reach at start is waited
    for, with a log line per attempt."""
    from hub.operations.guard import projection_named
    from hub.projections import all_projections
    from hub.workers import run_worker, supervise_all

    names = list(all_projections())
    if all_ == (name is not None):
        raise typer.BadParameter(f"give one consumer name ({', '.join(names)}) or --all")
    if all_:
        raise typer.Exit(supervise_all(names, get_settings().worker_metrics_port))
    run_worker(projection_named(name or "").name, get_settings())


dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, redrive.")
app.add_typer(dlq_app, name="dlq")
ConsumerArg = Annotated[str, typer.Argument(help="Consumer, e.g. missions")]


def _consumer(name: str) -> str:
    from hub.operations.guard import projection_named

    return projection_named(name).name


@dlq_app.command("list")
def dlq_list(consumer: ConsumerArg) -> None:
    """One line per dead letter: reference, reason, source position, time, key, size."""
    from hub.bootstrap import run
    from hub.operations.dead_letters import read_dead_letters

    name = _consumer(consumer)
    letters = run(lambda hub: read_dead_letters(hub, name))
    typer.echo(f"{len(letters)} dead letters in {get_settings().dead_letter_topic(name)}")
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
    import json

    from hub.bootstrap import run
    from hub.operations.dead_letters import dead_letter

    name = _consumer(consumer)
    letter = run(lambda hub: dead_letter(hub, name, ref))
    typer.echo(json.dumps(letter.detail(), indent=2, default=str))


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
    from hub.bootstrap import Hub, run
    from hub.operations.dead_letters import plan_redrive, redrive

    name = _consumer(consumer)

    async def operate(hub: Hub) -> None:
        plan = await plan_redrive(hub, name, refs or [], all_)
        typer.echo(
            f"plan: redrive {len(plan.chosen)} dead letters of {name} "
            f"({plan.already_redriven} already redriven, left alone)"
        )
        for letter in plan.truncated:
            typer.echo(f"  {letter.ref:>10}  left alone: holds only a preview of the "
                       f"original, which is at {letter.summary()['source']}")
        for letter in plan.chosen:
            s = letter.summary()
            typer.echo(f"  {s['ref']:>10}  {s['reason']:24} -> {s['source'].split(':')[0]}")
        if not execute:
            typer.echo("nothing done: add --execute to republish")
            return
        sent = await redrive(hub, name, plan.chosen)
        typer.echo(f"redriven: {len(sent)}")

    run(operate)


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
    """Move a consumer's positions; prints the plan per partition, acts only with --execute
    (refused while the consumer's workers run)."""
    from hub.bootstrap import Hub, run
    from hub.operations import replay as replaying
    from hub.operations.guard import projection_named

    projection = projection_named(consumer, get_settings())
    target = replaying.parse_target(to)

    async def operate(hub: Hub) -> None:
        steps = await replaying.plan(hub, projection, target)
        typer.echo(f"plan for {consumer} (--to {to}):")
        for s in steps:
            typer.echo(
                f"  {s.topic}:{s.partition}  position {s.current:>9} -> {s.target:>9}"
                f"  ({s.reprocess:+d} events to reprocess)"
            )
        if not execute:
            typer.echo("nothing done: add --execute to move the positions")
            return
        await replaying.execute(hub, projection, steps)
        typer.echo(f"positions moved; `hub worker {consumer}` resumes from them")

    run(operate)


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
    meanwhile. Their workers must be stopped (refused while they run)."""
    import sys

    from hub.bootstrap import Hub, run
    from hub.operations import rebuild as rebuilding
    from hub.operations.guard import projection_named
    from hub.projections import all_projections

    if all_ == (consumer is not None):
        raise typer.BadParameter("name one consumer, or --all")
    settings = get_settings()
    projections = (list(all_projections(settings).values()) if all_
                   else [projection_named(consumer or "", settings)])
    names = ",".join(p.name for p in projections)

    def progress(line: str) -> None:
        sys.stderr.write(f"\r  {line}\033[K")
        sys.stderr.flush()

    async def operate(hub: Hub) -> None:
        the_plan = await rebuilding.plan(hub, projections)
        typer.echo(f"plan for rebuilding {names}:")
        typer.echo(f"  read {the_plan.records} records once from the beginning of "
                   f"{', '.join(the_plan.topics)}"
                   + (f", in {passes} passes over learner-key ranges" if passes > 1 else ""))
        typer.echo(f"  into {the_plan.target}, then swap with {the_plan.live} in one "
                   "transaction")
        if not execute:
            typer.echo("nothing done: add --execute to rebuild")
            return
        result = await rebuilding.rebuild(hub, projections, the_plan, write_progress=progress,
                                          passes=passes, workers=workers)
        sys.stderr.write("\n")
        typer.echo(
            f"rebuilt {names}: {result.records} records in {result.seconds:.1f}s "
            f"({result.passes} passes), {result.refused} refused (not re-dead-lettered); "
            f"{the_plan.target} is now {the_plan.live}"
        )
        typer.echo(f"  refused per projection {result.refused_by}; rows {result.rows}")
        typer.echo(f"  phases {result.phases}; peak RSS {result.peak_rss_mb:.0f} MB")

    try:
        run(operate)
    except KeyboardInterrupt:
        typer.echo(f"\ncancelled: {names} untouched", err=True)
        raise typer.Exit(130) from None


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Per consumer: group state, lag per partition, newest applied event, dead letters."""
    import json

    from hub.bootstrap import run
    from hub.operations.status import collect, render

    result = run(collect)
    typer.echo(json.dumps(result, indent=2) if as_json else render(result))


@app.command("trace")
def trace_command(
    event_id: Annotated[str, typer.Argument(help="The event's event_id (a UUID)")],
    scan_limit: Annotated[int, typer.Option(
        help="Newest records read per partition of each topic and dead-letter topic")
    ] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
) -> None:
    """Where one event is in each consumer: published where, applied, skipped, dead-lettered
    (with the reason) or not reached yet; from the topics and stored positions alone."""
    import json

    from hub.bootstrap import run
    from hub.operations.trace import event_id_of, render, run_trace

    wanted = event_id_of(event_id)
    trace = run(lambda hub: run_trace(hub, wanted, scan_limit))
    typer.echo(json.dumps(trace.as_dict(), indent=2) if as_json else render(trace))


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
    from hub.bootstrap import run_async
    from producers.outbox import install
    from producers.relay import OutboxConfigError, outbox_name, outbox_urls

    try:
        urls = outbox_urls(get_settings(), database_url or ())
    except OutboxConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for url in urls:
        try:
            run_async(install(url))
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
    from hub.bootstrap import run_async
    from hub.publishing import publish_sample as publish
    from producers.sample import generate_sample

    sample = generate_sample(count, users, cohorts, seed)
    settings = get_settings()
    sent = run_async(publish(settings, sample), settings)
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
    from sqlalchemy.exc import SQLAlchemyError

    from hub.bootstrap import run
    from hub.operations.refusals import Refused
    from toolkit.web.audit import prune_denials

    settings = get_settings()  # a bad setting: `main` says so in one line, exit 2
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    if days < 1:
        raise Refused(f"--older-than-days must be at least 1, got {days}")
    if batch_size < 1:
        raise Refused(f"--batch-size must be at least 1, got {batch_size}")

    try:
        pruned = run(lambda hub: prune_denials(hub.engine, days, batch_size), settings)
    except (SQLAlchemyError, OSError) as exc:  # failed under way: not a refusal, exit 1
        cause = getattr(exc, "orig", None) or exc
        typer.echo(f"hub audit prune: database error: {type(cause).__name__}: "
                   f"{str(cause).splitlines()[0] if str(cause) else ''}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"pruned {pruned.deleted} access denials older than {days} days "
               f"(before {pruned.cutoff.isoformat(timespec='seconds')}) in "
               f"{pruned.batches} batches")
# --- end of `hub audit` -----------------------------------------------------------------


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port")] = None,
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


schemas_app = typer.Typer(no_args_is_help=True, help="Event schemas: compatibility gate, release.")
app.add_typer(schemas_app, name="schemas")
ReleasedDirOption = Annotated[
    str | None, typer.Option("--released", help="Released schemas (default: schemas/released)")
]


def _schemas_report(released: str | None):
    """The check's report, or one line on stderr and exit 2 when `released` cannot be read."""
    from pathlib import Path

    from schemas.release import RELEASED_DIR, ReleasedSchemasError, run_check

    directory = Path(released) if released else RELEASED_DIR
    try:
        return directory, run_check(directory)
    except ReleasedSchemasError as exc:
        typer.echo(f"hub schemas: {exc}", err=True)
        raise typer.Exit(2) from None


@schemas_app.command("check")
def schemas_check(released: ReleasedDirOption = None) -> None:
    """Compare the current event schemas with the released ones (README: Schema compatibility);
    exit 2 with one line per breaking change."""
    _, report = _schemas_report(released)
    for finding in report.findings:
        typer.echo(finding.line(), err=True)
    if not report.compatible:
        raise typer.Exit(2)
    typer.echo(report.summary())


@schemas_app.command("release")
def schemas_release(released: ReleasedDirOption = None) -> None:
    """Freeze each event type's current version into the released schemas, once it passes check."""
    from schemas.release import release

    directory, report = _schemas_report(released)
    for finding in report.findings:
        typer.echo(finding.line(), err=True)
    if not report.compatible:
        typer.echo("nothing released: fix the breaking changes first", err=True)
        raise typer.Exit(2)
    written = release(directory)
    typer.echo(f"released: {', '.join(written)}" if written else "nothing new to release")


def command_path(args: list[str]) -> str:
    """`hub dlq redrive` for `hub dlq redrive missions 0:1`: the command words of `args`."""
    words, command = ["hub"], typer.main.get_command(app)
    for arg in args:
        subcommands = getattr(command, "commands", {})
        if arg not in subcommands:
            break
        words.append(arg)
        command = subcommands[arg]
    return " ".join(words)


def main() -> None:
    """Run the command; every refusal, bad argument or bad setting is one line on stderr and
    exit code 2, never a traceback."""
    import logging
    import sys

    from hub.operations.refusals import Refused
    from toolkit.gc_tuning import tune_for_throughput
    from toolkit.settings import SettingsError
    from toolkit.tracing import TracingConfigError, configure_tracing, service_name

    tune_for_throughput()
    # Until a command configures logging, a library's error log (aiokafka's "Unable connect")
    # would reach stderr beside the command's own one-line report of the same failure.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        # The one tracer provider of this process (OTEL_* variables; exporting off by default).
        configure_tracing(service_name(sys.argv[1:]))
    except TracingConfigError as exc:
        typer.echo(f"hub: refused to start: {exc}", err=True)
        raise SystemExit(2) from None
    try:
        code = app(standalone_mode=False)
    except SettingsError as exc:  # an operator's mistake
        typer.echo(f"hub: refused to start: {exc}", err=True)
        raise SystemExit(2) from None
    except Refused as exc:
        typer.echo(f"{command_path(sys.argv[1:])}: {exc}", err=True)
        raise SystemExit(2) from None
    except click_errors.NoArgsIsHelpError as exc:  # `hub`, `hub dlq`: the help
        typer.echo(exc.ctx.get_help() if exc.ctx else "")
        raise SystemExit(2) from None
    except click_errors.UsageError as exc:  # bad arguments and options, typer.BadParameter
        where = exc.ctx.command_path if exc.ctx else "hub"
        typer.echo(f"{where}: {' '.join(exc.format_message().split())}", err=True)
        raise SystemExit(2) from None
    except typer.Abort:  # Ctrl-C at a prompt
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
