"""A short headless run of the Clarius research scenario (loadtests/clarius_research.py) against the mock."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ("token-auth", "rawdata /exams/rawdata/[id]", "raw_image [link]", "dicom /exams/dicom/[id]", "dicom download [link]")


def test_research_run_within_thresholds_passes(tmp_path):
    command = [
        *(sys.executable, "-m", "loadtests.run", "--api", "clarius-research", "--reports", str(tmp_path)),
        *("--users", "3", "--spawn-rate", "3", "--duration", "4s"),
        *("--thresholds", str(ROOT / "loadtests" / "thresholds-clarius-research.yaml")),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    summary = (tmp_path / "load-clarius-research.txt").read_text() if (tmp_path / "load-clarius-research.txt").exists() else ""
    mock_log = tmp_path / "load-clarius-research-mock.log"
    errors = [line for line in mock_log.read_text().splitlines() if "Traceback" in line or "Error" in line] if mock_log.exists() else []
    assert result.returncode == 0, (
        summary
        + result.stdout[-3000:]
        + result.stderr[-3000:]
        + "\nthe mock's log:\n"
        + (mock_log.read_text()[-6000:] if errors else "(no errors)")
    )
    assert mock_log.exists(), "the embedded mock's log is kept beside the reports"
    assert "result: PASS" in summary and "BREACHED" not in summary
    with open(tmp_path / "load-clarius-research_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    for name in REQUESTS:
        assert int(rows[name]["Request Count"]) > 0, f"the scenario exercised {name}"
        assert int(rows[name]["Failure Count"]) == 0, name
    assert int(rows["token-auth"]["Request Count"]) == 1, "the token is fetched once"
    requested, downloaded = (int(rows[name]["Request Count"]) for name in ("dicom /exams/dicom/[id]", "dicom download [link]"))
    assert requested - 3 <= downloaded <= requested, "every DICOM request is downloaded (but those the end of the run cut short)"
