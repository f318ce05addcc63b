"""What tracing costs a live worker's batches: off (the default), absent, and exporting.

The same `BatchApplier` as `bench/live_batch_cost.py` applies batches of `--size` records
(each with a `traceparent` header, as the relay writes) into a fresh migrated database, the
three variants taking turns batch by batch, so a noisy shared machine weighs on each alike:

- `no_tracing`: the applier's batch span replaced by a null context manager (the code path as
  it was before tracing);
- `tracing_off`: the process's provider as `hub` sets it up with no `OTEL_TRACES_EXPORTER`
  (spans get ids, never record): what production runs by default;
- `exporting`: a recording provider with an in-memory exporter (a span per batch with a
  link per record, and a span per record).

It reports this process's CPU per batch (PostgreSQL's is not included) per variant: the
median over rounds and each round's figure. Within a round the variants take turns batch by
batch. Beside it, without I/O, the cost of one batch
span and of one publish's trace headers when tracing is off.

    .venv/bin/python bench/tracing_cost.py [--projection missions] [--size 5] [--batches 100] \
        [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import time
import timeit
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import replay  # noqa: E402  (bench/replay.py: databases)

from toolkit.settings import Settings  # noqa: E402

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
VARIANTS = ("no_tracing", "tracing_off", "exporting")


class _NoDeadLetters:
    async def send(self, refusals) -> None:
        raise SystemExit(f"the sample should hold no refused records: {refusals[:1]}")


@contextlib.contextmanager
def _no_span(_consumer):
    yield None


def _recording_tracer():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("toolkit.streaming.batch_spans"), exporter


@contextlib.contextmanager
def variant(name: str, recording_tracer):
    """The applier's tracing as in variant `name`, for the block."""
    import toolkit.streaming.applier as applier_module
    import toolkit.streaming.batch_spans as spans_module

    saved = applier_module.batch_span, spans_module._tracer
    if name == "no_tracing":
        applier_module.batch_span = _no_span
    elif name == "exporting":
        spans_module._tracer = recording_tracer
    try:
        yield
    finally:
        applier_module.batch_span, spans_module._tracer = saved


def off_micro_costs() -> dict:
    """µs per batch span and per publish's trace headers with tracing off, no I/O."""
    from toolkit.streaming.batch_spans import batch_span
    from toolkit.tracing import tracer, with_trace_headers

    def one_span():
        with batch_span("missions"):
            pass

    publish_tracer = tracer("bench")

    def one_publish_headers():
        with publish_tracer.start_as_current_span("t publish"):
            with_trace_headers([("event_id", b"e")])

    out = {}
    for name, fn in (("batch_span_us", one_span), ("publish_headers_us", one_publish_headers)):
        runs = timeit.repeat(fn, number=20_000, repeat=5)
        out[name] = round(min(runs) / 20_000 * 1e6, 2)
    return out


async def measure(settings: Settings, url: str, name: str, size: int, batches: int,
                  rounds: int) -> dict:
    from hub.projections import all_projections
    from producers.sample import generate_sample
    from toolkit.db import create_engine
    from toolkit.streaming.applier import BatchApplier
    from toolkit.streaming.records import Record

    projection = all_projections(settings)[name]
    topics = projection.topics(settings)
    total = size * batches * rounds * len(VARIANTS)
    sample = generate_sample(total * 2, users=max(1, total // 6), cohorts=40, seed=5)
    offsets: dict[str, int] = {}
    records = []
    for topic, key, value in sample.records(settings.profiler_topic, settings.mentorship_topic):
        if topic in topics:
            offset = offsets.get(topic, 0)
            offsets[topic] = offset + 1
            records.append(Record(topic, 0, offset, key.encode(), value,
                                  (("traceparent", TRACEPARENT),)))
    chunks = [records[i:i + size] for i in range(0, len(records), size)]
    engine = create_engine(settings.model_copy(update={"database_url": url}), pool_size=2,
                           pre_ping=False)  # as a worker's (toolkit/streaming/runtime.py)
    applier = BatchApplier(projection, engine, _NoDeadLetters(), settings,
                           rng=random.Random(1))
    recording_tracer, exporter = _recording_tracer()
    for chunk in chunks[:max(1, batches // 5)]:  # warm: connections, statement caches
        await applier.apply(chunk)
    position = max(1, batches // 5)
    per_round: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        # Batch by batch in turn (the order rotating), so drift and noise weigh on each alike.
        spent = dict.fromkeys(VARIANTS, 0.0)
        todo = chunks[position:position + batches * len(VARIANTS)]
        position += batches * len(VARIANTS)
        if len(todo) < batches * len(VARIANTS):
            raise SystemExit("sample too small for the rounds asked")
        for index, chunk in enumerate(todo):
            turn = index + index // len(VARIANTS)
            name_ = VARIANTS[turn % len(VARIANTS)]
            with variant(name_, recording_tracer):
                cpu = time.process_time()
                await applier.apply(chunk)
                spent[name_] += time.process_time() - cpu
        exporter.clear()
        for name_ in VARIANTS:
            per_round[name_].append(round(spent[name_] / batches * 1e6, 1))
    await engine.dispose()
    medians = {v: statistics.median(per_round[v]) for v in VARIANTS}
    return {
        "benchmark": "tracing_cost", "projection": name, "batch_size": size,
        "batches_per_round": batches, "rounds": rounds,
        "cpu_us_per_batch_median": medians,
        "tracing_off_vs_none_pct": round(
            (medians["tracing_off"] / medians["no_tracing"] - 1) * 100, 1),
        "exporting_vs_none_pct": round(
            (medians["exporting"] / medians["no_tracing"] - 1) * 100, 1),
        "cpu_us_per_batch_rounds": per_round,
        "off_micro": off_micro_costs(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projection", default="missions")
    parser.add_argument("--size", type=int, default=5, help="records per batch")
    parser.add_argument("--batches", type=int, default=100, help="batches per variant per round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up
    from toolkit.tracing import configure_tracing

    # The process's provider exactly as `hub` sets it up with no OTEL_* variables.
    configure_tracing("profiler-hub-bench", environ={})
    ensure_stack_up()
    settings = Settings()
    database = f"hub_bench_{uuid.uuid4().hex[:8]}_tracing"
    url = replay.create_migrated_database(settings, database)
    try:
        figures = asyncio.run(measure(settings, url, args.projection, args.size, args.batches,
                                      args.rounds))
    finally:
        asyncio.run(replay.drop_databases(settings, [database]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
