"""Benchmark report (what `make bench` runs): every benchmark, its raw anchor, the goals.

Runs each benchmark script in turn as its own process (replay, write_path when
`bench/write_path.py` exists, e2e_latency, api, rebuild), takes the JSON line each prints,
and writes `bench/results.json`: per benchmark its figures, the arguments, when it ran, the
git commit and the machine's load before and after (the machine is shared, so figures are
noisy), plus the machine (cores, CPU model). Benchmarks not run this time keep their last
entry, so `--only rebuild` refreshes one benchmark. Then it renders a markdown table, each
hub figure beside its raw anchor measured in the same run and the goal with met/missed,
prints it and writes it into README.md between `<!-- bench:begin -->` and
`<!-- bench:end -->`.

    .venv/bin/python bench/report.py [--only replay,e2e_latency] [--scale 0.1]

`--scale` multiplies the default event counts (replay 200k, api 20k messages, rebuild 1M)
and the e2e steady phase (40 s), for a quick run. Exits 1 if a benchmark failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

REPLAY_GOAL = 0.5  # × raw aiokafka consume
WRITE_PATH_GOAL = 0.7  # × raw asyncpg
REBUILD_GOAL_S = 60  # for 1M events, `hub rebuild --all`
REPLAY_GOAL_RATIO = 0.5  # one projection's rebuild (bulk replay) against the raw consume
REBUILD_GOAL_EVENTS = 1_000_000


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    args: Callable[[float], list[str]]


BENCHMARKS = [
    Benchmark("replay", "replay.py", lambda s: ["--events", str(max(1000, int(200_000 * s)))]),
    Benchmark("write_path", "write_path.py", lambda s: []),
    Benchmark("e2e_latency", "e2e_latency.py",
              lambda s: ["--rate", "500", "--seconds", str(max(10, round(40 * s)))]),
    Benchmark("api", "api.py", lambda s: [
        "--messages", str(max(2000, int(20_000 * s))),
        "--learners", str(max(200, int(2_000 * s))),
        "--requests", str(max(200, int(1000 * s))),
        "--duration", str(max(3, round(10 * s))), "--rounds", "3"]),
    Benchmark("rebuild", "rebuild.py",
              lambda s: ["--events", str(max(1000, int(REBUILD_GOAL_EVENTS * s)))]),
]


# ----- running ---------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release()}


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # The report's own outputs do not make the measured code dirty.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                  f":!{RESULTS.relative_to(ROOT)}", f":!{README.relative_to(ROOT)}")
    return commit + ("+dirty" if changed else "")


def last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def run_benchmark(benchmark: Benchmark, scale: float) -> dict:
    """Run one script; its entry for results.json (figures, or why there are none)."""
    script = BENCH / benchmark.script
    entry: dict = {"script": f"bench/{benchmark.script}",
                   "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "git_commit": git_commit()}
    if not script.exists():
        return {**entry, "skipped": f"bench/{benchmark.script} is not there yet"}
    args = benchmark.args(scale)
    entry["args"] = args
    entry["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    print(f"== {benchmark.name}: {sys.executable} bench/{benchmark.script} {' '.join(args)}",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    # stderr goes straight to the terminal (progress, logs); stdout carries the JSON line.
    process = subprocess.run([sys.executable, str(script), *args], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, check=False)
    entry["wall_s"] = round(time.perf_counter() - started, 1)
    entry["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result = last_json_line(process.stdout)
    if process.returncode != 0 or result is None:
        entry["error"] = (f"exit code {process.returncode}"
                          + ("" if result is not None else ", no JSON line on stdout"))
        print(f"== {benchmark.name} FAILED: {entry['error']}", file=sys.stderr, flush=True)
    else:
        entry["result"] = result
        print(f"== {benchmark.name} done in {entry['wall_s']}s", file=sys.stderr, flush=True)
    return entry


# ----- the table -------------------------------------------------------------------------------


def n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "?"
    return f"{value:,.{digits}f}"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[met]


Row = tuple[str, str, str, str, str, str, str]  # benchmark, figure, hub, anchor, vs, goal, met


def replay_rows(r: dict) -> list[Row]:
    raw = r["raw_aiokafka"]
    anchor = f"{n(raw['events_per_s'])} ev/s raw aiokafka consume"
    phases = [(f"{name} alone", p) for name, p in r["alone"].items()]
    phases.append(("all five together", r["all"]))
    return [("replay", f"{label}, {n(p['events'])} events", f"{n(p['events_per_s'])} ev/s",
             anchor, f"{p['ratio_to_raw']:.3f}×", f"≥ {REPLAY_GOAL}×",
             verdict(p["ratio_to_raw"] >= REPLAY_GOAL)) for label, p in phases]


def write_path_rows(r: dict) -> list[Row]:
    rows = []
    for name, p in r.get("write_path", {}).items():
        hub, raw = p.get("hub_rows_per_s"), p.get("raw_rows_per_s")
        ratio = p.get("ratio", hub / raw if hub and raw else None)
        rows.append(("write path", f"{name}, whole apply", f"{n(hub)} rows/s",
                     f"{n(raw)} rows/s raw asyncpg",
                     f"{ratio:.3f}×" if ratio is not None else "?", f"≥ {WRITE_PATH_GOAL}×",
                     verdict(ratio >= WRITE_PATH_GOAL if ratio is not None else None)))
    return rows


def e2e_rows(r: dict) -> list[Row]:
    raw = r["raw_aiokafka"]
    # Runs before the live-path issue judged the gap alone against a 200 ms commit window.
    goal_ms = r.get("goal_gap_s", r.get("commit_window_s", 0.1)) * 1000
    anchor = f"p50 {n(raw['p50_ms'], 1)} / p99 {n(raw['p99_ms'], 1)} ms raw produce → consume"
    rows = []
    for name, p in r["projections"].items():
        gap = p["p99_gap_ms"]
        rows.append(("e2e latency", f"{name}, {n(r['rate_per_s'])} ev/s for {n(r['seconds'])} s",
                     f"p50 {n(p['p50_ms'], 1)} / p99 {n(p['p99_ms'], 1)} ms, "
                     f"{n(p.get('worker_cpu_us_per_event'))} µs CPU/event", anchor,
                     f"p99 gap {'+' if gap >= 0 else ''}{n(gap, 1)} ms",
                     goal(goal_ms, p.get("goal_cpu_us_per_event")), verdict(p["met"])))
    return rows


def goal(gap_ms: float, cpu_us: float | None) -> str:
    if cpu_us is None:
        return f"gap ≤ {n(gap_ms)} ms (commit window)"
    return f"gap ≤ {n(gap_ms)} ms, ≤ {n(cpu_us)} µs CPU/event"


def worker_rss_rows(r: dict) -> list[Row]:
    raw = r["raw_aiokafka"]
    def ratio(p: dict) -> str:
        if not p["worker_peak_rss_mb"] or not raw["peak_rss_mb"]:
            return "?"
        return f"{p['worker_peak_rss_mb'] / raw['peak_rss_mb']:.2f}×"

    return [("worker peak RSS", f"`hub worker {name}` after the e2e run",
             f"{n(p['worker_peak_rss_mb'], 1)} MB ({n(p['worker_cpu_us_per_event'])} µs "
             f"CPU/event)", f"{n(raw['peak_rss_mb'], 1)} MB raw aiokafka consumer", ratio(p),
             "—", "—")
            for name, p in r["projections"].items()]


# The goals per endpoint, against the hand-written anchor (bench/anchor_api.py).
API_SINGLE_LEARNER = frozenset({"difficulty", "recommendations", "value_statement",
                                "portfolio_items", "leadership_identity", "mentee_results"})
API_SINGLE_RPS_GOAL, API_SINGLE_P99_GOAL = 0.7, 2.0  # ≥ × anchor req/s, ≤ × anchor p99
API_LIST_RPS_GOAL = 0.5  # talent matches and analytics: ≥ × anchor req/s


def api_verdict(name: str, endpoint: dict) -> tuple[str, bool]:
    """The goal of one endpoint and whether its figures meet it."""
    if name in API_SINGLE_LEARNER:
        return (f"≥ {API_SINGLE_RPS_GOAL}× req/s, p99 ≤ {API_SINGLE_P99_GOAL:g}×",
                endpoint["rps_ratio"] >= API_SINGLE_RPS_GOAL
                and endpoint["p99_ratio"] <= API_SINGLE_P99_GOAL)
    return f"≥ {API_LIST_RPS_GOAL}× req/s", endpoint["rps_ratio"] >= API_LIST_RPS_GOAL


def api_rows(r: dict) -> list[Row]:
    if "anchor" not in next(iter(r["endpoints"].values())):  # a result of the older bench
        return []
    load = r["load"]
    rows = []
    for name, e in r["endpoints"].items():
        goal, met = api_verdict(name, e)
        h, a = e["hub"], e["anchor"]
        rows.append((
            "API", f"{name} (wrk, {load['connections']} connections, {r['workers']} process)",
            f"{n(h['rps'])} req/s, p50 {n(h['p50_ms'], 1)} / p99 {n(h['p99_ms'], 1)} ms",
            f"{n(a['rps'])} req/s, p50 {n(a['p50_ms'], 1)} / p99 {n(a['p99_ms'], 1)} ms "
            "hand-written Starlette + asyncpg", f"{e['rps_ratio']:.2f}× req/s, "
            f"{e['p99_ratio']:.2f}× p99", goal, verdict(met)))
    return rows


def rebuild_rows(r: dict) -> list[Row]:
    raw = r["raw_aiokafka"]
    anchor = f"{n(raw['wall_s'], 1)} s, {n(raw['events_per_s'])} ev/s raw aiokafka consume"
    every = r["all"]
    if every["goal_s"] is None:
        goal, met = f"≤ {REBUILD_GOAL_S} s at 1M events (not judged at {n(r['events'])})", None
    else:
        goal, met = f"≤ {REBUILD_GOAL_S} s", every["met"]
    bound = (f" (CPU alone ≥ {n(every['cpu_bound_s'], 1)} s on {r['cpus']} cores)"
             if "cpu_bound_s" in every else "")
    services = every.get("services_cpu_s") or {}
    cpu = (f"; CPU {n(every['cpu_s'], 1)} s hub"
           + "".join(f", {n(v, 1)} s {k}" for k, v in services.items())
           + f"; peak RSS {n(every['peak_rss_mb_sum'], 1)} MB") if "cpu_s" in every else ""
    rows = [("rebuild", f"{r['mode']}: all 5 projections, {n(r['events'])} events",
             f"{n(every['wall_s'], 1)} s, {n(every['events_per_s'])} ev/s{bound}{cpu}",
             anchor, f"{every['ratio_to_raw']:.3f}×", goal, verdict(met))]
    if every.get("phases"):
        phases = ", ".join(f"{k} {v}" for k, v in every["phases"].items())
        rows.append(("rebuild", "`hub rebuild --all` phases (wall s; cpu_* = its CPU s)",
                     phases, "—", "—", "—", "—"))
    for name, p in r["projections"].items():
        rows.append(("rebuild", f"`hub rebuild {name}` (bulk replay of one projection)",
                     f"{n(p['wall_s'], 1)} s, {n(p['events_per_s'])} ev/s, "
                     f"peak RSS {n(p['peak_rss_mb'], 1)} MB", anchor,
                     f"{p['ratio_to_raw']:.3f}×", f"≥ {REPLAY_GOAL_RATIO}×",
                     verdict(p.get("met"))))
    publish = r["publish"]
    rows.append(("rebuild", "publishing the events (aiokafka, acks=all)",
                 f"{n(publish['publish_events_per_s'])} ev/s", "—", "—", "—", "—"))
    return rows


ROWS = {"replay": [replay_rows], "write_path": [write_path_rows],
        "e2e_latency": [e2e_rows, worker_rss_rows], "api": [api_rows],
        "rebuild": [rebuild_rows]}


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Generated by `make bench` (`bench/report.py`); figures in `bench/results.json`. "
        f"Machine: {m['cpus']} cores, {m['cpu_model']}, shared with other work, so figures "
        f"are noisy (load average before/after each run below).",
        "",
        "| benchmark | figure | hub | raw anchor (same run) | hub vs anchor | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for benchmark in BENCHMARKS:
        entry = results["benchmarks"].get(benchmark.name)
        if entry is None:
            continue
        where = f"`{entry['script']}` {' '.join(entry.get('args', []))}".rstrip()
        if "result" in entry:
            for make_rows in ROWS[benchmark.name]:
                try:
                    rows = make_rows(entry["result"])
                except (KeyError, TypeError, AttributeError) as exc:
                    # A script's output changed shape: say so, keep the rest of the report.
                    notes.append(f"- {where}: figures not understood ({exc!r}); see "
                                 f"bench/results.json")
                    continue
                lines += ["| " + " | ".join(row) + " |" for row in rows]
            notes.append(f"- {where}: {entry['measured_at']}, commit {entry['git_commit']}, "
                         f"{entry['wall_s']} s, load average {entry['loadavg_before'][0]} → "
                         f"{entry['loadavg_after'][0]}")
        else:
            notes.append(f"- {where}: {entry.get('skipped') or 'FAILED: ' + entry['error']} "
                         f"({entry['measured_at']})")
    return "\n".join([*lines, "", *notes])


def update_readme(table: str) -> bool:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return True


# ----- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmarks to run "
                        f"(default: all of {', '.join(b.name for b in BENCHMARKS)})")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies the default event counts, e.g. 0.1 for a quick run")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args()
    known = {b.name for b in BENCHMARKS}
    only = [name for name in args.only.split(",") if name]
    if unknown := sorted(set(only) - known):
        parser.error(f"unknown benchmarks {unknown}; known: {sorted(known)}")
    if args.scale <= 0:
        parser.error("--scale must be positive")

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"benchmarks": {}}
    results["machine"] = machine()
    results["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    failed = []
    for benchmark in BENCHMARKS:
        if only and benchmark.name not in only:
            continue
        entry = run_benchmark(benchmark, args.scale)
        entry["scale"] = args.scale
        results["benchmarks"][benchmark.name] = entry
        if "error" in entry:
            failed.append(benchmark.name)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")  # kept after each benchmark

    table = render(results)
    print(table)
    if not args.no_readme and not update_readme(table):
        print(f"README.md has no {BEGIN} … {END} markers; table not written there",
              file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
