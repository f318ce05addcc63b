"""Read API benchmark: every CONTRACT endpoint of `hub api` beside a hand-written service.

Publishes a generated sample (default 20k messages, 2k learners) to fresh topics, applies it
to a fresh database with the bulk path for every projection (in this process), then starts two
servers on free ports against that database, each one process under the same uvicorn with the
same loop, HTTP protocol and options: `hub api`, and the anchor `bench/anchor_api.py` (Starlette,
an asyncpg pool, PyJWT HS256, the same SQL, `json.dumps`). For each endpoint of CONTRACT.md,
`wrk` (C, not Python: the load generator must not be what is measured) loads one server then
the other at a fixed concurrency (default 1 thread, 32 connections) for a fixed time, over
varied learners, mentees, cohorts and enterprises, each with a token allowed to read it (any
non-2xx answer fails the run); the servers alternate for `--rounds` rounds and each figure is
the median over rounds. Per endpoint: req/s, p50 and p99 of both, and the ratios. The servers,
database and topics are removed afterwards. Prints one JSON line.

    .venv/bin/python bench/api.py [--messages N] [--learners L] [--requests R]
        [--connections C] [--duration S] [--rounds K] [--workers N]

`wrk` comes from Debian's package (`make bench` installs it when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import replay  # noqa: E402  (bench/replay.py: topics, sample, databases, bulk replay)

from toolkit.settings import PROJECT_ROOT, Settings  # noqa: E402
from toolkit.web.auth import issue_token  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT_S = 60
WARMUP_S = 2

# Two skills of each track with a minimum each, for talent searches.
TALENT_TERMS = (
    ("network_security", 50, "incident_response", 40),
    ("penetration_testing", 40, "web_application_security", 50),
    ("risk_management", 45, "compliance", 45),
    ("secure_coding", 50, "cloud_security", 40),
    ("communication", 40, "decision_making", 50),
)


# ----- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group on a free port; stopped on exit."""

    name = "server"

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._command, self._env = command, env

    def __enter__(self) -> Server:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._proc = subprocess.Popen(
            self._command, env=self._env, cwd=PROJECT_ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
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
                raise RuntimeError(f"{self.name} exited ({self._proc.returncode}):\n"
                                   f"{self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {READY_TIMEOUT_S}s:\n{self._tail()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server's process group (its workers included)."""
        total = 0.0
        for pid in self._group_pids():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def _group_pids(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == self._proc.pid:
                        pids.append(int(entry))
                except OSError:
                    pass
        return pids

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


def hub_server(settings: Settings, workers: int) -> Server:
    """`hub api` as a user runs it, every setting from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({f"HUB_{k.upper()}": str(v) for k, v in settings.model_dump().items()})
    port = free_port()
    server = Server([sys.executable, "-m", "hub.cli", "api", "--port", str(port),
                     "--workers", str(workers)], env, port)
    server.name = "hub api"
    return server


def anchor_server(settings: Settings, workers: int) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    port = free_port()
    server = Server([sys.executable, os.path.join(BENCH_DIR, "anchor_api.py"), "--port",
                     str(port), "--database-url", asyncpg_dsn(settings.database_url),
                     "--jwt-secret", settings.jwt_secret, "--workers", str(workers)], env, port)
    server.name = "anchor"
    return server


# ----- load: wrk -------------------------------------------------------------------------------

# wrk's Lua hooks: cycle over the requests given, then print the figures as one JSON line.
WRK_SCRIPT = r"""
local requests = dofile(%s)
local i = 0
request = function()
  i = i %% #requests + 1
  local r = requests[i]
  return wrk.format("GET", r[1], {["Authorization"] = r[2]})
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"requests\":%%d,\"duration_us\":%%d,\"p50_us\":%%d,\"p99_us\":%%d," ..
    "\"mean_us\":%%.1f,\"non_2xx\":%%d,\"socket_errors\":%%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench/api.py needs wrk: apt-get install -y wrk (make bench does it)")
    return found


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Endpoint:
    """The same answers asked of both servers: path, query parameters, headers."""

    requests: list[tuple[str, dict, dict]]

    def write_lua(self, directory: str, name: str) -> str:
        """The requests as a Lua table and the wrk script that cycles over them."""
        table = os.path.join(directory, f"{name}.requests.lua")
        with open(table, "w") as out:
            out.write("return {\n")
            for path, params, headers in self.requests:
                target = quote(path, safe="/")
                if params:
                    target += "?" + urlencode(params, doseq=True)
                out.write(f"{{{lua_string(target)}, {lua_string(headers['Authorization'])}}},\n")
            out.write("}\n")
        script = os.path.join(directory, f"{name}.lua")
        with open(script, "w") as out:
            out.write(WRK_SCRIPT % lua_string(table))
        return script


def run_wrk(url: str, script: str, connections: int, seconds: float) -> dict:
    completed = subprocess.run(
        [wrk_binary(), "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
         "-s", script, url], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{completed.stdout}\n{completed.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    if raw["non_2xx"] or raw["socket_errors"]:
        raise AssertionError(f"{url}: {raw['non_2xx']} non-2xx answers, "
                             f"{raw['socket_errors']} socket errors")
    return {"requests": raw["requests"],
            "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "mean_ms": round(raw["mean_us"] / 1000, 2)}


def median_of(rounds: list[dict]) -> dict:
    return {k: round(statistics.median(r[k] for r in rounds), 2)
            for k in ("rps", "p50_ms", "p99_ms", "mean_ms")} | {
        "rounds": [{k: r[k] for k in ("rps", "p50_ms", "p99_ms")} for r in rounds],
        "server_cpu_ms_per_request": round(statistics.median(
            r["server_cpu_ms_per_request"] for r in rounds), 3)}


def measure(endpoints: dict[str, Endpoint], hub: Server, anchor: Server, args) -> dict:
    """Per endpoint, `args.rounds` rounds of hub then anchor (the order swapped every round,
    so neither always runs on a machine the other just warmed or loaded)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-api-") as directory:
        for name, endpoint in endpoints.items():
            script = endpoint.write_lua(directory, name)
            for server in (hub, anchor):  # warm-up: pools filled, statements prepared
                run_wrk(server.base_url, script, args.connections, WARMUP_S)
            figures: dict[str, list[dict]] = {"hub": [], "anchor": []}
            for round_ in range(args.rounds):
                pair = [("hub", hub), ("anchor", anchor)]
                for side, server in pair if round_ % 2 == 0 else reversed(pair):
                    cpu = server.cpu_seconds()
                    figure = run_wrk(server.base_url, script, args.connections, args.duration)
                    figure["server_cpu_ms_per_request"] = (
                        (server.cpu_seconds() - cpu) / figure["requests"] * 1000)
                    figures[side].append(figure)
            h, a = median_of(figures["hub"]), median_of(figures["anchor"])
            results[name] = {"hub": h, "anchor": a,
                             "rps_ratio": round(h["rps"] / a["rps"], 3),
                             "p99_ratio": round(h["p99_ms"] / a["p99_ms"], 2)}
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


def learner_endpoint(path: str, learners: list[str], tokens: Tokens) -> Endpoint:
    """A learner reading their own data (`user_id` given explicitly)."""
    return Endpoint([(path, {"user_id": u}, tokens.header(u, "learner")) for u in learners])


def cohort_endpoint(cohorts: list[str], tokens: Tokens) -> Endpoint:
    return Endpoint(
        [(f"/api/v1/profiler/admin/cohorts/{c}/analytics", {},
          tokens.header(f"admin-{c}", "cohort_admin", cohort_ids=[c])) for c in cohorts])


def enterprise_endpoint(enterprises: list[str], tokens: Tokens) -> Endpoint:
    return Endpoint(
        [("/api/v1/profiler/admin/enterprise/analytics", {"enterprise_id": e},
          tokens.header(f"admin-{e}", "enterprise_admin", enterprise_id=e)) for e in enterprises])


def plan(subjects: Subjects, secret: str, count: int, seed: int = 7) -> dict[str, Endpoint]:
    rng = random.Random(seed)
    tokens = Tokens(secret)
    learners = spread(subjects.learners, count, rng)
    pairs = spread(subjects.mentorships, count, rng)
    searches = spread([(e, t) for e in subjects.enterprises for t in TALENT_TERMS], count, rng)
    return {
        "difficulty": learner_endpoint(
            "/api/v1/missions/difficulty", learners, tokens),
        "recommendations": learner_endpoint(
            "/api/v1/recipes/profiler-recommendations", learners, tokens),
        "value_statement": learner_endpoint(
            "/api/v1/profiler/value-statement", learners, tokens),
        "portfolio_items": learner_endpoint(
            "/api/v1/portfolio/items", learners, tokens),
        "leadership_identity": learner_endpoint(
            "/api/v1/leadership/identity", learners, tokens),
        "mentee_results": Endpoint(
            [(f"/api/v1/profiler/mentees/{mentee}/results", {},
              tokens.header(mentor, "mentor")) for mentor, mentee in pairs]),
        "talent_matches": Endpoint(
            [("/api/v1/marketplace/talent-matches/profiler",
              {"skill": [f"{s1}:{m1}", f"{s2}:{m2}"]},
              tokens.header(f"admin-{e}", "enterprise_admin", enterprise_id=e))
             for e, (s1, m1, s2, m2) in searches]),
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
    wrk_binary()  # before minutes of setup
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
        if args.only:
            endpoints = {k: v for k, v in endpoints.items() if k in args.only.split(",")}
        with hub_server(bench, args.workers) as hub, anchor_server(bench, args.workers) as anchor:
            results = measure(endpoints, hub, anchor, args)
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
        "load": {"generator": "wrk", "threads": 1, "connections": args.connections,
                 "duration_s": args.duration, "rounds": args.rounds,
                 "distinct_requests": args.requests},
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "endpoints": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--cohorts", type=int, default=12)
    parser.add_argument("--requests", type=int, default=1000,
                        help="distinct requests per endpoint, cycled over by wrk")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="processes of each server")
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    args = parser.parse_args()

    from hub.stack.api import ensure_stack_up

    ensure_stack_up()
    print(json.dumps(run(Settings(), args)))


if __name__ == "__main__":
    main()
