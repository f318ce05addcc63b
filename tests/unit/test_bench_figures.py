"""The pure parts of the benchmarks: how latencies are derived and how the report judges them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import e2e_latency  # noqa: E402
import report  # noqa: E402

T = "bench.profiler.events"


def test_percentiles_are_nearest_rank_in_milliseconds():
    figures = e2e_latency.percentiles([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert figures == {"count": 100, "p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0,
                       "max_ms": 100.0, "mean_ms": 50.5}
    assert e2e_latency.percentiles([]) == {"count": 0}


def test_a_record_is_committed_when_its_partitions_next_offset_first_passes_it():
    sends = {(T, 0): [(10, 1.0), (11, 1.1), (12, 1.2)], ("other", 0): [(0, 1.0)]}
    # next offset 11 seen at 1.5 (offset 10 committed), 13 seen at 2.0 (11 and 12)
    changes = {(T, 0): [(10, 0.5), (11, 1.5), (13, 2.0)]}
    latencies, missing = e2e_latency.committed_latencies(sends, [T], changes)
    assert latencies == pytest.approx([0.5, 0.9, 0.8])
    assert missing == 0


def test_a_record_never_seen_committed_is_missing_not_dropped_silently():
    sends = {(T, 0): [(10, 1.0), (11, 1.1)], (T, 1): [(0, 1.0)]}
    changes = {(T, 0): [(11, 1.5)]}
    latencies, missing = e2e_latency.committed_latencies(sends, [T], changes)
    assert latencies == pytest.approx([0.5])
    assert missing == 2


def test_raw_latency_is_receive_time_minus_send_time():
    sends = {(T, 0): [(0, 1.0), (1, 1.1)]}
    latencies, missing = e2e_latency.received_latencies(sends, [(T, 0, 0, 1.25)])
    assert latencies == pytest.approx([0.25])
    assert missing == 1


def test_the_report_takes_the_last_json_line_of_a_scripts_output():
    assert report.last_json_line('noise\n{"a": 1}\n{"b": 2}\n') == {"b": 2}
    assert report.last_json_line("no figures\n") is None


def replay_result(ratio_alone: float, ratio_all: float) -> dict:
    return {"raw_aiokafka": {"events_per_s": 80_000},
            "alone": {"missions": {"events": 1000, "events_per_s": 80_000 * ratio_alone,
                                   "ratio_to_raw": ratio_alone}},
            "all": {"events": 1000, "events_per_s": 80_000 * ratio_all,
                    "ratio_to_raw": ratio_all}}


def test_replay_rows_judge_the_ratio_against_half_of_raw():
    rows = report.replay_rows(replay_result(0.5, 0.1))
    assert [row[-1] for row in rows] == ["met", "**missed**"]
    assert "80,000 ev/s raw" in rows[0][3]


def test_e2e_rows_judge_the_p99_gap_against_the_commit_window():
    result = {"raw_aiokafka": {"p50_ms": 5.0, "p99_ms": 20.0}, "commit_window_s": 0.2,
              "rate_per_s": 500, "seconds": 40,
              "projections": {"missions": {"p50_ms": 100.0, "p99_ms": 250.0,
                                           "p99_gap_ms": 230.0, "met": False}}}
    [row] = report.e2e_rows(result)
    assert row[4] == "p99 gap +230.0 ms"
    assert row[5] == "gap ≤ 200 ms (commit window)"
    assert row[6] == "**missed**"


def test_e2e_rows_judge_the_gap_and_the_cpu_per_event():
    result = {"raw_aiokafka": {"p50_ms": 5.0, "p99_ms": 20.0}, "goal_gap_s": 0.1,
              "rate_per_s": 500, "seconds": 40,
              "projections": {"missions": {"p50_ms": 30.0, "p99_ms": 90.0, "p99_gap_ms": 70.0,
                                           "worker_cpu_us_per_event": 120.0,
                                           "goal_cpu_us_per_event": 150.0, "met": True}}}
    [row] = report.e2e_rows(result)
    assert row[2] == "p50 30.0 / p99 90.0 ms, 120 µs CPU/event"
    assert row[5] == "gap ≤ 100 ms, ≤ 150 µs CPU/event"
    assert row[6] == "met"


def test_the_rebuild_goal_is_judged_only_at_a_million_events():
    def result(events: int, wall: float) -> dict:
        goal = 180 if events >= 1_000_000 else None
        return {"events": events, "mode": "concurrent processes",
                "raw_aiokafka": {"wall_s": 10.0, "events_per_s": 100_000},
                "publish": {"publish_events_per_s": 50_000},
                "projections": {},
                "all": {"wall_s": wall, "events_per_s": events / wall, "ratio_to_raw": 0.1,
                        "goal_s": goal, "met": wall <= 180 if goal else None}}

    assert report.rebuild_rows(result(100_000, 50.0))[0][-1] == "—"
    assert report.rebuild_rows(result(1_000_000, 170.0))[0][-1] == "met"
    assert report.rebuild_rows(result(1_000_000, 200.0))[0][-1] == "**missed**"


def test_write_path_rows_take_the_lead_scripts_keys():
    rows = report.write_path_rows({"write_path": {"missions": {
        "hub_rows_per_s": 7000, "raw_rows_per_s": 10000, "ratio": 0.7}}})
    assert rows == [("write path", "missions, whole apply", "7,000 rows/s",
                     "10,000 rows/s raw asyncpg", "0.700×", "≥ 0.7×", "met")]


def test_a_skipped_benchmark_is_a_note_in_the_report_not_a_row():
    entry = {"script": "bench/write_path.py", "measured_at": "2026-01-01T00:00:00+00:00",
             "git_commit": "abc", "skipped": "bench/write_path.py is not there yet"}
    table = report.render({"machine": {"cpus": 2, "cpu_model": "x"},
                           "benchmarks": {"write_path": entry}})
    assert "- `bench/write_path.py`: bench/write_path.py is not there yet" in table
    assert "| write path |" not in table


def test_figures_of_an_unexpected_shape_are_a_note_not_a_crash():
    entry = {"script": "bench/write_path.py", "measured_at": "t", "git_commit": "abc",
             "args": [], "wall_s": 1.0, "loadavg_before": [1.0], "loadavg_after": [1.0],
             "result": {"write_path": {"missions": "fast"}}}
    table = report.render({"machine": {"cpus": 2, "cpu_model": "x"},
                           "benchmarks": {"write_path": entry}})
    assert "figures not understood" in table


def test_api_goals_hold_single_learner_reads_to_rate_and_tail_lists_to_rate_only():
    fast = {"rps_ratio": 0.8, "p99_ratio": 1.5}
    slow_tail = {"rps_ratio": 0.8, "p99_ratio": 2.5}
    half = {"rps_ratio": 0.55, "p99_ratio": 4.0}
    assert report.api_verdict("difficulty", fast)[1] is True
    assert report.api_verdict("difficulty", slow_tail)[1] is False
    assert report.api_verdict("mentee_results", half)[1] is False
    assert report.api_verdict("cohort_analytics", half)[1] is True
    assert report.api_verdict("talent_matches", {"rps_ratio": 0.4, "p99_ratio": 1.0})[1] is False
