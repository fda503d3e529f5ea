"""The ``medimock`` pytest fixture, as users get it: pytest runs in a subprocess with the plugin
loaded (through the ``pytest11`` entry point once installed, ``-p medimock.pytest_plugin`` until then),
on ``plugin_cases.py`` and on the documented example, ``examples/test_clarius_client.py``."""

from __future__ import annotations

import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def plugin_args() -> list[str]:
    installed = any(ep.name == "medimock" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "medimock.pytest_plugin"]


def run_pytest(target: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, ET.Element]]:
    junit = tmp_path / "junit.xml"
    command = [sys.executable, "-m", "pytest", target, *plugin_args(), "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    cases = {case.get("name", ""): case for case in ET.parse(junit).getroot().iter("testcase")} if junit.exists() else {}
    return done, cases


def test_the_fixture_gives_each_test_a_fresh_mock(tmp_path):
    done, cases = run_pytest("tests/intercept/plugin_cases.py", tmp_path)
    failed = {name: case for name, case in cases.items() if case.find("failure") is not None or case.find("error") is not None}
    assert set(failed) == {"test_unknown_options_are_a_usage_error"}, done.stdout[-6000:]
    error = failed["test_unknown_options_are_a_usage_error"].find("error")
    assert error is not None and "unknown medimock option(s): colour" in (error.get("message") or "")
    assert len(cases) == 32 and "31 passed, 1 error" in done.stdout

    # The cost of the fixture for a test on a reused mock: restore a snapshot, patch and unpatch requests.
    costs = [float(case.get("time", "0")) for name, case in cases.items() if name.startswith("test_cost_of_the_fixture")]
    assert len(costs) == 20 and statistics.median(costs) < 0.25, costs  # building a mock takes about a second
    print(f"fixture cost per test: median {statistics.median(costs) * 1000:.1f} ms, max {max(costs) * 1000:.1f} ms")


def test_the_plugin_imports_nothing_heavy():
    probe = (
        "import sys, medimock.pytest_plugin, medimock; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mockserver', 'flask', 'werkzeug', 'responses', 'requests', 'jsonschema', 'faker', 'yaml', 'sqlite3'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_example_runs(tmp_path):
    done, cases = run_pytest("examples/test_clarius_client.py", tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert len(cases) == 8 and all(case.find("failure") is None and case.find("error") is None for case in cases.values())
