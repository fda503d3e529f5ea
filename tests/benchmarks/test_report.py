"""The benchmark's own arithmetic and report: server CPU per request, the targets, the Ambra facts."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

# benchmarks/ is a directory of the checkout, not an installed package: load its script by path.
_SPEC = importlib.util.spec_from_file_location("medimock_benchmarks_run", Path(__file__).resolve().parents[2] / "benchmarks" / "run.py")
assert _SPEC is not None and _SPEC.loader is not None
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench  # dataclasses look their module up
_SPEC.loader.exec_module(bench)
Measurement, Scenario, render, server_cpu_seconds = bench.Measurement, bench.Scenario, bench.render, bench.server_cpu_seconds


def test_server_cpu_counts_the_process_and_grows_with_work() -> None:
    before = server_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        sum(range(10_000))
    spent = server_cpu_seconds(os.getpid()) - before
    assert 0.2 <= spent <= 5, spent


def test_report_states_targets_cpu_and_the_large_profile() -> None:
    args = argparse.Namespace(duration=10, connections=16, rounds=2, workers=2)
    rows = [
        (
            Scenario("ambra_study_list", "Ambra study/list over 10,200 studies", []),
            Measurement(6000, 2, 15, 0, 0.28),
            Measurement(1800, 6, 40, 0, 0.86),
            0.3,
        ),
        (Scenario("clarius_poll", "Clarius poll", []), Measurement(5000, 2, 15, 0, 0.27), Measurement(3500, 4, 30, 0, 0.5), 0.7),
    ]
    report = render(args, "wrk", 2.0, 0.9, rows, [131.0, 139.0], {"ambra_studies": 10_200, "large_start": 3.9})
    assert "| 0.30 | >= 0.4 NOT met |" in report and "| 0.70 | >= 0.6 met |" in report
    assert "0.28 / 0.86" in report
    assert "Ambra studies in the large profile (study/count): 10,200 (at least 10,000: yes)" in report
    assert "spawn to first answer: 3.9 s" in report and "131 MB, 139 MB (target < 200 MB: met)" in report
    assert "not measured" not in report
    small = render(args, "wrk", 2.0, 0.9, rows[1:], [250.0], {"ambra_studies": 300})
    assert "at least 10,000: NO" in small and "target < 200 MB: NOT met" in small and "Ambra scenarios: not measured" in small


def test_report_adds_the_prism_peer_beside_the_mocks_ratio() -> None:
    args = argparse.Namespace(duration=10, connections=16, rounds=2, workers=2)
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
    report = render(args, "wrk", 2.0, 0.9, rows, [131.0], {"prism": "@stoplight/prism-cli 5.16.0"}, peers)
    assert "## Peer: Prism (@stoplight/prism-cli 5.16.0)" in report
    assert (
        "| Clarius poll | 0.70 | 2500 | 0.50 | 1000 | 0.20 | 5.0 / 20.0 | 12.0 / 60.0 | 0 / 3 | 98,765 / 723 / 1,500 | 0.80 / 2.10 |"
        in report
    )
    assert "Peer" not in render(args, "wrk", 2.0, 0.9, rows, [131.0])
    unavailable = render(args, "wrk", 2.0, 0.9, rows, [131.0], {"prism": "not measured: npm is not installed"})
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
