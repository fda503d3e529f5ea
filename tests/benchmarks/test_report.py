"""The benchmark's own logic, without timing anything: which load generators a run uses, wrk's report parsed,
server CPU and worker memory read from a /proc tree written here, the targets judged, both generators' ratios
side by side, the huge profile's rows, the Prism peer."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import pytest

# benchmarks/ is a directory of the checkout, not an installed package: load its script by path.
_SPEC = importlib.util.spec_from_file_location("medimock_benchmarks_run", Path(__file__).resolve().parents[2] / "benchmarks" / "run.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)
Measurement, Scenario, render = bench.Measurement, bench.Scenario, bench.render

ARGS = argparse.Namespace(duration=10, connections=16, rounds=2, workers=2, huge_studies=1_000_000)
WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40123
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.12ms    2.01ms  40.11ms   80.00%
    Req/Sec     2.01k   150.00     2.40k    70.00%
  Latency Distribution
     50%  812.00us
     75%    4.80ms
     90%    6.10ms
     99%    1.20s
  40123 requests in 10.01s, 1.20GB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   4008.29
Transfer/sec:    122.90MB
"""


def test_wrk_and_the_python_client_both_run_when_wrk_is_installed() -> None:
    assert bench.generators("auto", have_wrk=True) == ["wrk", "python"]
    assert bench.generators("auto", have_wrk=False) == ["python"]
    assert bench.generators("python", have_wrk=True) == ["python"]
    assert bench.generators("wrk", have_wrk=True) == ["wrk"]
    with pytest.raises(SystemExit, match="wrk is not installed"):
        bench.generators("wrk", have_wrk=False)


def test_wrks_report_is_read_with_its_units_and_errors() -> None:
    measured = bench.parse_wrk(WRK_OUTPUT)
    assert (measured.rps, measured.p50_ms, measured.p99_ms, measured.errors) == (4008.29, 0.812, 1200.0, 12)
    assert bench.parse_wrk(WRK_OUTPUT.replace("     99%    1.20s\n", "")).p99_ms != bench.parse_wrk(WRK_OUTPUT).p99_ms
    with pytest.raises(RuntimeError, match="no Requests/sec"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def _process(proc: Path, pid: int, ppid: int, utime: int, stime: int, rss_kb: int) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    # /proc/<pid>/stat: fields after the command's closing parenthesis; ppid is the 2nd, utime and stime the 12th and 13th
    rest = ["S", str(ppid), *["0"] * 9, str(utime), str(stime), *["0"] * 10]
    (folder / "stat").write_text(f"{pid} (python (x)) {' '.join(rest)}\n")
    (folder / "status").write_text(f"Name:\tpython\nPPid:\t{ppid}\nVmRSS:\t{rss_kb} kB\n")


def test_server_cpu_and_worker_memory_are_read_for_the_master_and_its_workers(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    _process(tmp_path, 100, 1, 2 * ticks, ticks, 50_000)  # the master
    _process(tmp_path, 101, 100, ticks, 0, 150 * 1024)  # its workers
    _process(tmp_path, 102, 100, 0, ticks, 210 * 1024)
    _process(tmp_path, 200, 1, 50 * ticks, 0, 999_999)  # someone else
    assert bench.server_cpu_seconds(100, tmp_path) == pytest.approx(5.0)
    assert bench.worker_rss_mb(100, tmp_path) == [150.0, 210.0]
    assert bench.worker_rss_mb(101, tmp_path) == []


def test_reaped_cpu_is_what_the_process_waited_for(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    folder = tmp_path / "300"
    folder.mkdir()
    # after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    (folder / "stat").write_text(f"300 (python) S 1 0 0 0 0 0 0 0 0 0 {ticks} {ticks} {40 * ticks} {2 * ticks} 0 0\n")
    assert bench.reaped_cpu_seconds(300, tmp_path) == pytest.approx(42.0)


def test_each_server_keeps_its_best_round_and_its_least_tail() -> None:
    class Server:
        pid = os.getpid()

    rounds = iter([(100, 9.0), (300, 5.0), (200, 30.0), (250, 4.0)])  # ceiling, mock, ceiling, mock

    def load(base: str, scenario: object, connections: int, duration: int) -> object:
        rps, p99 = next(rounds)
        return Measurement(rps, 1.0, p99)

    scenario = Scenario("clarius_poll", "poll", ["/"])
    servers = [("ceiling", "http://c", Server(), scenario), ("mock", "http://m", Server(), scenario)]
    best = bench.measure(servers, load, 2, 16, 10)
    assert (best["ceiling"].rps, best["ceiling"].p99_ms, best["ceiling"].least_p99_ms) == (200, 30.0, 9.0)
    assert (best["mock"].rps, best["mock"].p99_ms, best["mock"].least_p99_ms) == (300, 5.0, 4.0)


def _rows(list_ratio: float, poll_ratio: float, list_p99: float = 40.0) -> list[tuple[object, ...]]:
    return [
        (
            Scenario("ambra_study_list", "Ambra study/list over 10,200 studies", []),
            Measurement(6000, 2, 15, 0, 0.28),
            Measurement(6000 * list_ratio, 6, list_p99 * 3, 0, 0.86, least_p99_ms=list_p99),
            list_ratio,
        ),
        (
            Scenario("clarius_poll", "Clarius poll", []),
            Measurement(5000, 2, 15, 0, 0.27),
            Measurement(5000 * poll_ratio, 4, 30, 0, 0.5),
            poll_ratio,
        ),
    ]


def test_report_judges_targets_with_the_first_generator_and_shows_both_ratios() -> None:
    results = {"wrk": _rows(0.3, 0.7), "python": _rows(0.55, 0.8)}
    report = render(
        ARGS, ["wrk", "python"], 2.0, 0.9, results, [131.0, 139.0], {"ambra_studies": 10_200, "large_start": 3.9, "wrk": "4.1.0"}
    )
    assert "## Measured with wrk 4.1.0 (C, 2 threads)" in report and "## Measured with the Python client" in report
    assert "the targets are judged with wrk" in report
    assert "| 0.30 | >= 0.4 NOT met |" in report and "| 0.70 | >= 0.6 met |" in report and "| 0.55 | >= 0.4 met |" in report
    assert "| scenario | wrk | python |" in report and "| Ambra study/list over 10,200 studies | 0.30 | 0.55 |" in report
    assert "0.28 / 0.86" in report and "the same settings for both (`mockserver.serving.gunicorn_settings`" in report
    assert "Ambra studies in the large profile (study/count): 10,200 (at least 10,000: yes)" in report
    assert "spawn to first answer: 3.9 s" in report and "131 MB, 139 MB (target < 200 MB: met)" in report
    assert "shared with other work" in report and "huge profile" not in report and "not measured" not in report
    one = render(ARGS, ["python"], 2.0, 0.9, {"python": _rows(0.55, 0.8)[1:]}, [250.0], {"ambra_studies": 300})
    assert "Ratios by generator" not in one and "the targets are judged with python" in one
    assert "at least 10,000: NO" in one and "target < 200 MB: NOT met" in one and "Ambra scenarios: not measured" in one


def test_the_huge_profiles_rows_compare_its_list_with_the_ceiling_and_the_large_profile() -> None:
    def results(huge_ratio: float, huge_p99: float) -> list[tuple[object, ...]]:
        huge = (
            Scenario("ambra_study_list_huge", "Ambra study/list over 1,000,000 studies (huge profile)", [], server="mock huge"),
            Measurement(5000, 2, 10, 0, 0.3),
            Measurement(5000 * huge_ratio, 5, huge_p99 * 3, 0, 0.9, least_p99_ms=huge_p99),
            huge_ratio,
        )
        return [*_rows(0.6, 0.7, list_p99=40.0), huge]

    facts = {"huge_start": 48.2, "huge_seed_cpu": 71.5, "huge_db_mb": 2600.0, "huge_studies": 1_000_000, "huge_rss": [180.0, 190.0]}
    report = render(ARGS, ["wrk", "python"], 2.0, 0.9, {"wrk": results(0.55, 70.0), "python": results(0.45, 90.0)}, [131.0], facts)
    assert "## The huge profile: 1,000,000 Ambra studies" in report
    assert "spawn to first answer): 48.2 s (target <= 60 s: met), CPU time of the seeding processes" in report
    assert "(user + system, all of them): 71.5 s; database file 2.5 GiB" in report
    assert "the least of the rounds for each profile" in report
    assert "180 MB, 190 MB (target <= 300 MB: met)" in report and "at least 1,000,000 studies (study/count): yes" in report
    assert "| wrk | 0.55 | >= 0.5 met | 70.0 | 40.0 | 1.75 | <= 2 met |" in report
    assert "| python | 0.45 | >= 0.5 NOT met | 90.0 | 40.0 | 2.25 | <= 2 NOT met |" in report
    slow = render(ARGS, ["wrk"], 2.0, 0.9, {"wrk": results(0.55, 70.0)}, [131.0], {**facts, "huge_start": 75.0, "huge_rss": [320.0]})
    assert "(target <= 60 s: NOT met)" in slow and "320 MB (target <= 300 MB: NOT met)" in slow


def test_report_adds_the_prism_peer_beside_the_mocks_ratio() -> None:
    poll = Scenario("clarius_poll", "Clarius poll", ["/api/public/v0/exams/accessible/?limit=100"])
    rows = [(poll, Measurement(5000, 2, 15, 0, 0.27), Measurement(3500, 4, 30, 0, 0.5), 0.7)]
    peers = {
        "clarius_poll": {
            "mock_bytes": 98_765,
            "prism static": Measurement(2500, 5, 20, 0, 0.8),
            "prism dynamic": Measurement(1000, 12, 60, 3, 2.1),
            "prism static bytes": 723,
            "prism dynamic bytes": 1_500,
        }
    }
    report = render(ARGS, ["wrk"], 2.0, 0.9, {"wrk": rows}, [131.0], {"prism": "@stoplight/prism-cli 5.16.0"}, peers)
    assert "## Peer: Prism (@stoplight/prism-cli 5.16.0)" in report
    assert (
        "| Clarius poll | 0.70 | 2500 | 0.50 | 1000 | 0.20 | 5.0 / 20.0 | 12.0 / 60.0 | 0 / 3 | 98,765 / 723 / 1,500 | 0.80 / 2.10 |"
        in report
    )
    assert "Peer" not in render(ARGS, ["wrk"], 2.0, 0.9, {"wrk": rows}, [131.0])
    unavailable = render(ARGS, ["wrk"], 2.0, 0.9, {"wrk": rows}, [131.0], {"prism": "not measured: npm is not installed"})
    assert "Prism (peer): not measured: npm is not installed." in unavailable


def test_prism_serves_the_specs_paths_at_its_root() -> None:
    listing = Scenario("ambra_study_list", "list", ["/api/v3/study/list?sid=x&page.rows=100"])
    assert listing.api == "ambra" and bench.for_prism(listing).paths == ["/study/list?sid=x&page.rows=100"]
    poll = Scenario("clarius_poll", "poll", ["/api/public/v0/exams/accessible/?limit=100"], {"Authorization": "k"})
    assert bench.for_prism(poll).paths == poll.paths and bench.for_prism(poll).headers == {"Authorization": "k"}


def test_rewriting_the_results_keeps_the_time_to_verdict(tmp_path):
    kept_sections = bench.kept_sections
    results = tmp_path / "RESULTS.md"
    assert kept_sections(results) == ""  # no file yet
    results.write_text("# Benchmark results\n\n| old table |\n\n## Time to verdict\n\n| suite | before | after |\n")
    assert kept_sections(results) == "\n## Time to verdict\n\n| suite | before | after |\n"
    results.write_text("# Benchmark results\n\n| old table |\n")
    assert kept_sections(results) == ""
