"""A short headless Locust run against the embedded mock: it runs, reports, and passes."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_clarius_smoke_run(tmp_path):
    command = [
        sys.executable,
        "-m",
        "loadtests.run",
        "--api",
        "clarius",
        "--users",
        "3",
        "--spawn-rate",
        "3",
        "--duration",
        "4s",
        "--reports",
        str(tmp_path),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (tmp_path / "load-clarius.txt").read_text()
    assert "result: PASS" in summary
    assert (tmp_path / "load-clarius.html").stat().st_size > 1000
    with open(tmp_path / "load-clarius_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    for name in (
        "poll /exams/accessible/",
        "download /exams/download-requests/[uuid]/data/",
        "capture /media/clarius/captures/[uuid]/[file]",
    ):
        assert int(rows[name]["Request Count"]) > 0, f"the scenario exercised {name}"
        assert int(rows[name]["Failure Count"]) == 0


def test_remote_targets_are_refused(tmp_path):
    command = [sys.executable, "-m", "loadtests.run", "--api", "clarius", "--target", "http://198.51.100.7", "--reports", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "loopback" in result.stderr
