"""medimock diff against targets with known differences: each planted difference reported once, correctly
classified, nothing else; two mocks with different seeds report nothing.

Each test starts its own servers on loopback ports (the mock as a subprocess, with one deliberate
defect on B; the Django-style tscharts of tests/contracts/servers) and runs ``medimock diff`` on a
narrow slice of a scenario (one workflow with -k, or a few property cases) to stay fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medimock.target import EmbeddedMock

SERVERS = Path(__file__).resolve().parents[1] / "contracts" / "servers"


@pytest.fixture
def mocks() -> Iterator[Any]:
    started: list[EmbeddedMock] = []

    def start(*args: str) -> str:
        mock = EmbeddedMock(list(args), strict=False)
        started.append(mock)
        return mock.start()

    yield start
    for mock in started:
        mock.stop()


def diff(tmp_path: Path, api: str, a: str, b: str, *args: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "diff", "--api", api, "--a", a, "--b", b, "--report", str(report), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (report / "diff.json").exists(), result.stdout + result.stderr
    return result.returncode, json.loads((report / "diff.json").read_text())


def found(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((d["kind"], d["operation"], d["where"]) for d in report["differences"])


DEFECTS = [
    ("tscharts", "tscharts.get_missing_type", "test_image_lifecycle", [("shape", "GET /tscharts/v1/image/{id}/", "$.type")]),
    ("tscharts", "tscharts.sort_ascending", "test_image_lifecycle", [("order", "GET /tscharts/v1/image/", "$[]")]),
    ("tscharts", "tscharts.login_id_integer", "test_login", [("shape", "POST /tscharts/v1/login/", "$.id")]),
    (
        "radiology",
        "radiology.expires_in_string",
        "test_expired_token_is_rejected",
        [("shape", "GET /radiology/oauth2/token", "$.expires_in")],
    ),
    ("ambra", "ambra.study_get_drops_study_uid", "test_study_lifecycle", [("shape", "POST /api/v3/study/get", "$.study_uid")]),
]


@pytest.mark.parametrize(("api", "defect", "workflow", "expected"), DEFECTS, ids=[d[1] for d in DEFECTS])
def test_mock_against_a_defect_variant(tmp_path: Path, mocks: Any, api: str, defect: str, workflow: str, expected: list[Any]) -> None:
    a = mocks("--api", api)
    b = mocks("--api", api, "--defect", defect)
    code, report = diff(tmp_path, api, a, b, "-k", workflow)
    assert found(report) == sorted(expected), json.dumps(report["differences"], indent=1)[:3000]
    assert all(d["occurrences"] >= 1 and d["a_side"]["curl"].startswith("curl ") for d in report["differences"])
    assert code == 1
    assert (tmp_path / "report" / "diff-junit.xml").read_text().count("<failure") == len(expected)


def test_fail_on_gates_only_the_chosen_kinds(tmp_path: Path, mocks: Any) -> None:
    a = mocks("--api", "tscharts")
    b = mocks("--api", "tscharts", "--defect", "tscharts.get_missing_type")
    code, report = diff(tmp_path, "tscharts", a, b, "-k", "test_image_lifecycle", "--fail-on", "status")
    assert [d["kind"] for d in report["differences"]] == ["shape"]
    assert report["gating"] == [] and code == 0


@pytest.mark.parametrize("api", ["tscharts", "clarius", "radiology"])
def test_two_mocks_with_different_seeds_report_nothing(tmp_path: Path, mocks: Any, api: str) -> None:
    a = mocks("--api", api, "--seed", "1")
    b = mocks("--api", api, "--seed", "2")
    code, report = diff(tmp_path, api, a, b, "--scenario", "property", "--examples", "3", "--seed", "7")
    assert report["compared"] > 10
    assert report["differences"] == [], json.dumps(report["differences"], indent=1)[:3000]
    assert code == 0
