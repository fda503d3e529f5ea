"""The conformance report of real contract runs (a subprocess pytest over contracts/tscharts).

Against the mock as it is, the report names every operation and marks what ran as passed;
against a mock whose GET /image/{id}/ drops the required ``type`` (strict mode off, so the
suite must catch it), the cell of ``response_schema_conformance`` and the workflows column
of that operation are failed, each with the request as a curl command; and a run whose
target cannot be used still leaves a report saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "367b1e83656af0d7917ce22e826860d194a4a4b9"  # the seeded tscharts token: must never reach a report


def run_contracts(tmp_path: Path, select: str, **env_overrides: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MEDIMOCK_") or k.startswith("TSCHARTS_"))}
    env.update(MEDIMOCK_CONTRACT_EXAMPLES="3", **env_overrides)
    junit = tmp_path / "junit-e2e.xml"
    command = [sys.executable, "-m", "pytest", "contracts/tscharts", "-q", "-k", select, f"--junitxml={junit}"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return result, tmp_path / "conformance-e2e"


def load(stem: Path) -> tuple[str, str, dict]:
    html = stem.with_name(stem.name + ".html").read_text()
    markdown = stem.with_name(stem.name + ".md").read_text()
    data = json.loads(stem.with_name(stem.name + ".json").read_text())
    return html, markdown, data


def operations(data: dict) -> dict[str, dict]:
    (api,) = data["apis"]
    return {op["operationId"]: op for op in api["operations"]}


def test_a_contract_run_writes_the_report_beside_its_junit_xml(tmp_path):
    result, stem = run_contracts(tmp_path, "test_operation_honours_contract or test_login_gives_a_working_token")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    html, markdown, data = load(stem)

    for text in (html, markdown):
        for name in ("listImageIds", "createImage", "getImage", "deleteImage", "login", "/tscharts/v1/image/{id}/"):
            assert name in text, f"{name} missing from the report"
    ops = operations(data)
    assert set(ops) == {"listImageIds", "createImage", "getImage", "deleteImage", "login"}
    assert all(op["exercised"] for op in ops.values()), "every operation ran in the property test"
    assert all(op["checks"]["not_a_server_error"]["state"] == "passed" for op in ops.values())
    assert ops["login"]["workflows"]["state"] == "passed"
    assert ops["login"]["workflows"]["passed"] == ["contracts/tscharts/test_workflows.py::test_login_gives_a_working_token"]
    assert ops["deleteImage"]["workflows"]["state"] == "not exercised", "no selected workflow deletes an image"
    api = data["apis"][0]
    assert api["coverage"]["operations"] == {"done": 5, "total": 5, "percent": 100.0}
    assert api["base_url"].startswith("http://127.0.0.1:")
    assert data["meta"]["targets"] == {"tscharts": api["base_url"]}
    assert "started by the run" in data["meta"]["embedded"]

    summary = result.stdout[result.stdout.index("medimock conformance") :]
    assert "tscharts  ok" in summary and "operations covered 5/5 (100%)" in summary, summary
    assert "failed checks 0, failed workflows 0" in summary
    assert f"report: {stem}.html" in summary


def test_a_broken_mock_shows_failed_cells_with_curl_commands(tmp_path):
    result, stem = run_contracts(
        tmp_path,
        "test_operation_honours_contract or test_base64_forms_round_trip",
        MEDIMOCK_EMBEDDED_ARGS="--api tscharts --defect tscharts.get_missing_type",
        MEDIMOCK_EMBEDDED_STRICT="0",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    html, markdown, data = load(stem)
    get_image = operations(data)["getImage"]

    schema_cell = get_image["checks"]["response_schema_conformance"]
    assert schema_cell["state"] == "failed" and schema_cell["failed"] >= 1
    failure = schema_cell["failures"][0]
    assert failure["curl"].splitlines()[-1].startswith("curl -X GET") and "/tscharts/v1/image/" in failure["curl"]
    assert "'type' is a required property" in failure["message"].replace('"', "'")
    assert failure["test"].endswith("[GET /tscharts/v1/image/{id}/]")

    workflows = get_image["workflows"]
    assert workflows["state"] == "failed", "the round-trip test failed on GET /image/{id}/, not on its clean-up DELETE"
    assert all(f["curl"].splitlines()[-1].startswith("curl -X GET") for f in workflows["failed"])
    assert operations(data)["deleteImage"]["workflows"]["state"] != "failed"

    assert "\u2717" in html and 'class="bad"' in html and "curl -X GET" in html
    assert "```sh\n" in markdown and "\ncurl -X GET" in markdown
    for text in (html, markdown, json.dumps(data)):
        assert TOKEN not in text, "the report leaks the tscharts token"
    assert "tscharts  FAILING" in result.stdout and "failed checks 1" in result.stdout


def test_a_run_whose_target_cannot_be_used_still_reports(tmp_path):
    result, stem = run_contracts(tmp_path, "test_login_gives_a_working_token", MEDIMOCK_EMBEDDED_ARGS="--api no-such-api")
    assert result.returncode == 2, result.stdout[-3000:]
    html, markdown, data = load(stem)
    assert "the embedded mock did not start" in data["meta"]["target_error"]
    assert operations(data)["login"]["exercised"] is False
    assert "did not start" in html and "did not start" in markdown
    assert "medimock conformance" in result.stdout
