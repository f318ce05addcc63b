"""Read API benchmark: every CONTRACT endpoint through `hub api`, beside the direct SQL.

Publishes a generated sample (default 20k messages, 2k learners) to fresh topics, applies it
to a fresh database with the bulk path for every projection (in this process), then starts
`hub api` as a subprocess on a free port against that database. For each endpoint of
CONTRACT.md it sends the same number of requests (default 1000, after a warm-up) from a fixed
number of concurrent httpx clients (default 16), over varied learners, mentees, cohorts and
enterprises, each with a token allowed to read it (every answer must be a 200). The anchor is
the single SQL a hand-written service would run for the same answer, sent with the same
arguments and concurrency through an asyncpg pool. Per endpoint: p50/p99/mean latency (ms)
and requests/s of both, and their ratio. The API server, database and topics are removed
afterwards. Prints one JSON line.

    .venv/bin/python bench/api.py [--messages N] [--learners L] [--requests R] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import replay  # noqa: E402  (bench/replay.py: topics, sample, databases, bulk replay)

from hub.api.auth import issue_token  # noqa: E402
from hub.settings import PROJECT_ROOT, Settings  # noqa: E402

WARMUP = 100
READY_TIMEOUT_S = 60

# ----- the anchors: one SQL statement per answer ----------------------------------------------

DIFFICULTY_SQL = """
select difficulty, session_id, completed_at, cohort_id, enterprise_id
from missions.difficulty where user_id = $1
"""
RECOMMENDATIONS_SQL = """
select p.*, s.skill, s.score
from recipes.profiles p left join recipes.skill_scores s on s.user_id = p.user_id
where p.user_id = $1
"""
STATEMENT_SQL = """
select i.*, c.cohort_id, c.enterprise_id
from portfolio.current_statements c
join portfolio.items i on i.item_id = c.item_id and i.user_id = c.user_id
where c.user_id = $1
"""
ITEMS_SQL = """
select * from portfolio.items where user_id = $1 and status = 'active'
order by created_at desc, profiler_session_id desc
"""
MENTEE_SQL = """
select s.session_id, s.completed_at, s.facts, d.reason, d.invalidated_at
from mentorship.sessions s
left join mentorship.invalidation_details d on d.session_id = s.session_id
where s.user_id = $2 and exists (
    select 1 from mentorship.assignments a
    where a.mentor_id = $1 and a.mentee_id = $2 and a.active)
order by s.completed_at desc, s.session_id desc
"""
TALENT_SQL = """
with matched as (
    select p.user_id, p.track, p.overall_score, p.cohort_id, p.enterprise_id,
           sum(s.score) as score_sum, avg(s.score) as match_score,
           jsonb_object_agg(s.skill, s.score) as skill_scores
    from recipes.profiles p join recipes.skill_scores s on s.user_id = p.user_id
    where ((s.skill = $1 and s.score >= $2) or (s.skill = $3 and s.score >= $4))
      and p.marketplace_opt_in and p.enterprise_id = $5
    group by p.user_id
    having count(*) = 2
)
select (select count(*) from matched) as total, m.*
from matched m order by m.score_sum desc, m.user_id limit 20
"""
GROUP_SQL = """
select t.*,
       (select jsonb_object_agg(k.skill, k.score_sum / k.scores) from analytics.group_skills k
        where k.scope = t.scope and k.group_id = t.group_id) as skill_averages,
       {placements} as placements,
       (select max(last_event_at) from analytics.positions) as freshness
from analytics.group_totals t where t.scope = '{scope}' and t.group_id = $1
"""
COHORT_SQL = GROUP_SQL.format(scope="cohort", placements=(
    "(select array_agg(p.enterprise_id order by p.enterprise_id) from analytics.placements p "
    "where p.cohort_id = t.group_id)"))
ENTERPRISE_SQL = GROUP_SQL.format(scope="enterprise", placements=(
    "(select jsonb_object_agg(p.cohort_id, p.learners) from analytics.placements p "
    "where p.enterprise_id = t.group_id)"))

# Two skills of each track with a minimum each, for talent searches.
TALENT_TERMS = (
    ("network_security", 50, "incident_response", 40),
    ("penetration_testing", 40, "web_application_security", 50),
    ("risk_management", 45, "compliance", 45),
    ("secure_coding", 50, "cloud_security", 40),
    ("communication", 40, "decision_making", 50),
)


# ----- the API server as a user runs it --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """`hub api` in its own process group on a free port against `settings`; stopped on exit."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self._env.update({f"HUB_{k.upper()}": str(v) for k, v in settings.model_dump().items()})

    def __enter__(self) -> ApiServer:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "api", "--port", str(self.port)],
            env=self._env, cwd=PROJECT_ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"hub api exited ({self._proc.returncode}):\n{self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"hub api not ready in {READY_TIMEOUT_S}s:\n{self._tail()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        with open(f"/proc/{self._proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]

    def __exit__(self, *exc_info) -> None:
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=30)
        self._log.close()


# ----- load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """The same answers asked of the API (`requests`) and of the database (`sql`, `args`)."""

    requests: list[tuple[str, dict, dict]]  # path, query parameters, headers
    sql: str
    args: list[tuple]


def latency_figures(latencies: list[float], wall: float, client_cpu: float) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "rps": round(len(ordered) / wall),
        "client_cpu_ms_per_request": round(client_cpu / len(ordered) * 1000, 3),
    }


async def drive(calls: list[Callable[[], Awaitable]], concurrency: int) -> dict:
    """Run the calls `concurrency` at a time (each worker takes the next one when done)."""
    pending = iter(calls)
    latencies: list[float] = []

    async def worker() -> None:
        for call in pending:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latency_figures(latencies, time.perf_counter() - started, time.process_time() - cpu)


def http_call(client: httpx.AsyncClient, path: str, params: dict, headers: dict):
    async def call() -> None:
        response = await client.get(path, params=params, headers=headers)
        if response.status_code != 200:
            raise AssertionError(f"{path} {params}: {response.status_code} {response.text}")
    return call


def sql_call(pool: asyncpg.Pool, sql: str, args: tuple):
    async def call() -> None:
        await pool.fetch(sql, *args)
    return call


async def measure(endpoints: dict[str, Endpoint], server: ApiServer, dsn: str,
                  concurrency: int) -> dict:
    """Each endpoint through the API, then its anchor; a warm-up of each first, untimed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results = {}
    async with (
        httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client,
        asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency) as pool,
    ):
        for name, endpoint in endpoints.items():
            api_calls = [http_call(client, *r) for r in endpoint.requests]
            sql_calls = [sql_call(pool, endpoint.sql, a) for a in endpoint.args]
            await drive(api_calls[:WARMUP], concurrency)
            server_cpu = server.cpu_seconds()
            api = await drive(api_calls, concurrency)
            api["server_cpu_ms_per_request"] = round(
                (server.cpu_seconds() - server_cpu) / len(api_calls) * 1000, 3)
            await drive(sql_calls[:WARMUP], concurrency)
            sql = await drive(sql_calls, concurrency)
            results[name] = {"api": api, "sql": sql,
                             "rps_ratio_api_to_sql": round(api["rps"] / sql["rps"], 3),
                             "p50_ratio_api_to_sql": round(api["p50_ms"] / sql["p50_ms"], 1)}
    return results


# ----- who reads what ---------------------------------------------------------------------------


@dataclass
class Subjects:
    """Readers and readables found in the projections, with the tokens allowed to read them."""

    learners: list[str]  # with a current session in every learner read model
    mentorships: list[tuple[str, str]]  # active (mentor, mentee)
    cohorts: list[str]
    enterprises: list[str]


async def find_subjects(dsn: str) -> Subjects:
    conn = await asyncpg.connect(dsn)
    try:
        learners = [r[0] for r in await conn.fetch(
            "select d.user_id from missions.difficulty d "
            "join portfolio.current_statements c using (user_id) "
            "join recipes.profiles p using (user_id) order by 1")]
        pairs = [tuple(r) for r in await conn.fetch(
            "select mentor_id, mentee_id from mentorship.assignments where active order by 1, 2")]
        groups = await conn.fetch(
            "select scope, group_id from analytics.group_totals order by 1, 2")
    finally:
        await conn.close()
    return Subjects(learners, pairs, [g for s, g in groups if s == "cohort"],
                    [g for s, g in groups if s == "enterprise"])


class Tokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._issued: dict[tuple, dict] = {}

    def header(self, sub: str, role: str, **claims) -> dict:
        key = (sub, role, tuple(sorted((k, str(v)) for k, v in claims.items())))
        if key not in self._issued:
            token = issue_token(self._secret, sub, [role], **claims)
            self._issued[key] = {"Authorization": f"Bearer {token}"}
        return self._issued[key]


def spread(items: list, count: int, rng: random.Random) -> list:
    """`count` picks cycling over a shuffled copy of `items`: every one read, in varied order."""
    if not items:
        raise AssertionError("the sample left nothing to read for an endpoint")
    shuffled = rng.sample(items, len(items))
    return [shuffled[i % len(shuffled)] for i in range(count)]


def learner_endpoint(path: str, sql: str, learners: list[str], tokens: Tokens) -> Endpoint:
    """A learner reading their own data (`user_id` given explicitly)."""
    return Endpoint([(path, {"user_id": u}, tokens.header(u, "learner")) for u in learners],
                    sql, [(u,) for u in learners])


def cohort_endpoint(cohorts: list[str], tokens: Tokens) -> Endpoint:
    return Endpoint(
        [(f"/api/v1/profiler/admin/cohorts/{c}/analytics", {},
          tokens.header(f"admin-{c}", "cohort_admin", cohort_ids=[c])) for c in cohorts],
        COHORT_SQL, [(c,) for c in cohorts])


def enterprise_endpoint(enterprises: list[str], tokens: Tokens) -> Endpoint:
    return Endpoint(
        [("/api/v1/profiler/admin/enterprise/analytics", {"enterprise_id": e},
          tokens.header(f"admin-{e}", "enterprise_admin", enterprise_id=e)) for e in enterprises],
        ENTERPRISE_SQL, [(e,) for e in enterprises])


def plan(subjects: Subjects, secret: str, count: int, seed: int = 7) -> dict[str, Endpoint]:
    rng = random.Random(seed)
    tokens = Tokens(secret)
    learners = spread(subjects.learners, count, rng)
    pairs = spread(subjects.mentorships, count, rng)
    searches = spread([(e, t) for e in subjects.enterprises for t in TALENT_TERMS], count, rng)
    return {
        "difficulty": learner_endpoint(
            "/api/v1/missions/difficulty", DIFFICULTY_SQL, learners, tokens),
        "recommendations": learner_endpoint(
            "/api/v1/recipes/profiler-recommendations", RECOMMENDATIONS_SQL, learners, tokens),
        "value_statement": learner_endpoint(
            "/api/v1/profiler/value-statement", STATEMENT_SQL, learners, tokens),
        "portfolio_items": learner_endpoint(
            "/api/v1/portfolio/items", ITEMS_SQL, learners, tokens),
        "leadership_identity": learner_endpoint(
            "/api/v1/leadership/identity", STATEMENT_SQL, learners, tokens),
        "mentee_results": Endpoint(
            [(f"/api/v1/profiler/mentees/{mentee}/results", {},
              tokens.header(mentor, "mentor")) for mentor, mentee in pairs],
            MENTEE_SQL, pairs),
        "talent_matches": Endpoint(
            [("/api/v1/marketplace/talent-matches/profiler",
              {"skill": [f"{s1}:{m1}", f"{s2}:{m2}"]},
              tokens.header(f"admin-{e}", "enterprise_admin", enterprise_id=e))
             for e, (s1, m1, s2, m2) in searches],
            TALENT_SQL, [(s1, m1, s2, m2, e) for e, (s1, m1, s2, m2) in searches]),
        "cohort_analytics": cohort_endpoint(spread(subjects.cohorts, count, rng), tokens),
        "enterprise_analytics": enterprise_endpoint(
            spread(subjects.enterprises, count, rng), tokens),
    }


# ----- the run ---------------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def apply_all(settings: Settings, counts: dict[str, int], messages: int) -> dict:
    """Every projection from the start of its topics, in this process (the bulk path)."""
    from hub.projections import all_projections

    names = list(all_projections())
    expected = {n: sum(counts[t] for t in all_projections()[n].topics(settings)) for n in names}
    figures = await replay.replay(settings.model_dump_json(), names, expected, messages)
    return {"wall_s": figures["wall_s"], "events_per_s": figures["events_per_s"]}


def run(settings: Settings, args: argparse.Namespace) -> dict:
    run_id = uuid.uuid4().hex[:8]
    bench = replay.bench_settings(settings, run_id)
    database = f"hub_bench_api_{run_id}"
    try:
        url = replay.create_migrated_database(settings, database)
        bench = bench.model_copy(update={"database_url": url})
        counts = asyncio.run(replay.fill_topics(bench, args.messages, args.learners, args.cohorts))
        applied = asyncio.run(apply_all(bench, counts, args.messages))
        subjects = asyncio.run(find_subjects(asyncpg_dsn(url)))
        endpoints = plan(subjects, bench.jwt_secret, args.requests)
        with ApiServer(bench) as server:
            results = asyncio.run(measure(endpoints, server, asyncpg_dsn(url),
                                          args.concurrency))
    finally:
        asyncio.run(replay.drop_databases(settings, [database]))
        asyncio.run(replay.delete_topics(settings, replay.bench_topics(bench)))
    return {
        "benchmark": "api",
        "sample": {"messages": args.messages, "learners": args.learners,
                   "cohorts": args.cohorts},
        "apply": applied,
        "read_subjects": {"learners": len(subjects.learners),
                          "active_mentorships": len(subjects.mentorships),
                          "cohorts": len(subjects.cohorts),
                          "enterprises": len(subjects.enterprises)},
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "endpoints": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--cohorts", type=int, default=12)
    parser.add_argument("--requests", type=int, default=1000, help="timed, per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    print(json.dumps(run(Settings(), args)))


if __name__ == "__main__":
    main()
