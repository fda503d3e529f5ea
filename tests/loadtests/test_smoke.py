"""Headless Locust runs against the mock: they run, report, and their thresholds pass and fail a run."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from medimock.target import EmbeddedMock

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--users", "3", "--spawn-rate", "3", "--duration", "4s"]


def run(tmp_path: Path, *args: str, api: str = "clarius") -> tuple[subprocess.CompletedProcess[str], str]:
    command = [sys.executable, "-m", "medimock.loadtests.run", "--api", api, "--reports", str(tmp_path), *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    summary_file = tmp_path / f"load-{api}.txt"
    return result, summary_file.read_text() if summary_file.exists() else ""


def stats(tmp_path: Path, api: str = "clarius") -> dict[str, dict[str, str]]:
    with open(tmp_path / f"load-{api}_stats.csv", newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def test_clarius_run_within_thresholds_passes(tmp_path):
    result, summary = run(tmp_path, *SHORT, "--thresholds", str(ROOT / "loadtests" / "thresholds.yaml"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "result: PASS" in summary and "BREACHED" not in summary
    assert (tmp_path / "load-clarius.html").stat().st_size > 1000
    rows = stats(tmp_path)
    for name in (
        "poll /exams/accessible/",
        "download /exams/download-requests/[uuid]/data/",
        "capture /media/clarius/captures/[uuid]/[file]",
    ):
        assert int(rows[name]["Request Count"]) > 0, f"the scenario exercised {name}"
        assert int(rows[name]["Failure Count"]) == 0


AMBRA_REQUESTS = ("session/login", "study/list [filter+sort]", "study/list page walk", "study/get")


def test_ambra_run_within_thresholds_passes(tmp_path):
    result, summary = run(tmp_path, *SHORT, "--thresholds", str(ROOT / "loadtests" / "thresholds-ambra.yaml"), api="ambra")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "result: PASS" in summary and "BREACHED" not in summary
    assert (tmp_path / "load-ambra.html").stat().st_size > 1000
    rows = stats(tmp_path, "ambra")
    for name in AMBRA_REQUESTS:
        assert int(rows[name]["Request Count"]) > 0, f"the scenario exercised {name}"
        assert int(rows[name]["Failure Count"]) == 0, name
        assert f"POST {name}" in summary
    assert int(rows["session/login"]["Request Count"]) <= 3, "each user logs in once at most"
    rounds = int(rows["study/list [filter+sort]"]["Request Count"]) / 2  # two filtered lists a round
    assert int(rows["study/list page walk"]["Request Count"]) > rounds, "walks go past the first page"


def test_ambra_wrong_answers_fail_the_run(tmp_path):
    """The scenario checks what it gets: a mock that ignores list filters fails the run."""
    mock = EmbeddedMock(["--api", "ambra", "--defect", "ambra.filter_ignored"], strict=False)
    url = mock.start()
    try:
        result, summary = run(tmp_path, *SHORT, "--target", url, api="ambra")
    finally:
        mock.stop()
    assert result.returncode == 1 and "BREACHED all requests: failure ratio" in summary, summary
    rows = stats(tmp_path, "ambra")
    assert int(rows["study/list [filter+sort]"]["Failure Count"]) > 0
    assert int(rows["study/list page walk"]["Failure Count"]) > 0
    assert int(rows["study/get"]["Failure Count"]) == 0
    with open(tmp_path / "load-ambra_failures.csv", newline="") as handle:
        assert any("do not match filter." in row["Error"] for row in csv.DictReader(handle))


def test_ambra_users_share_sessions_under_the_per_user_cap(tmp_path):
    """Ambra drops a user's oldest session beyond 10: 12 users on 2 local workers open 8 and keep them all."""
    result, summary = run(tmp_path, "--users", "12", "--spawn-rate", "12", "--duration", "4s", "--workers", "2", api="ambra")
    assert result.returncode == 0, summary + result.stderr[-3000:]
    rows = stats(tmp_path, "ambra")
    assert int(rows["session/login"]["Request Count"]) == 8
    assert int(rows["Aggregated"]["Failure Count"]) == 0


def test_breached_thresholds_fail_the_run_and_each_is_named(tmp_path):
    """Two thresholds no run can meet, in one run: it fails, and the summary names each breach on its own line."""
    result, summary = run(tmp_path, *SHORT, "--min-rps", "1000000", "--max-p95-ms", "0.001")
    assert result.returncode == 1, summary
    assert "result: FAIL" in summary
    breaches = [line.strip() for line in summary.splitlines() if line.strip().startswith("BREACHED")]
    for breached in ("requests/s >= 1000000", "p95 "):
        assert any(breached in line for line in breaches), summary


def test_failed_requests_fail_the_run_unless_allowed(tmp_path):
    mock = EmbeddedMock(["--api", "clarius"])
    url = mock.start()
    try:
        rule = {"api": "clarius", "operation_id": "downloadExamData", "status": 503, "probability": 0.5}
        assert requests.put(url + "/__mock__/faults", json=[rule], timeout=10).status_code == 200
        result, summary = run(tmp_path, *SHORT, "--target", url)
        assert result.returncode == 1 and "BREACHED all requests: failure ratio" in summary, summary
        allowed, summary = run(tmp_path, *SHORT, "--target", url, "--max-failure-ratio", "0.9")
        assert allowed.returncode == 0, summary
    finally:
        mock.stop()


def test_distributed_run_with_two_workers(tmp_path):
    result, summary = run(tmp_path, *SHORT, "--workers", "2", "--min-rps", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "local_workers=2" in summary
    assert int(stats(tmp_path)["Aggregated"]["Request Count"]) > 0, "the workers' requests reach the master's statistics"


def test_bad_thresholds_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("p99_ms: 5\n")
    result, _ = run(tmp_path, "--thresholds", str(bad))
    assert result.returncode == 2 and "unknown keys" in result.stderr


def test_remote_targets_are_refused(tmp_path):
    result, _ = run(tmp_path, "--target", "http://198.51.100.7")
    assert result.returncode == 2 and "loopback" in result.stderr
