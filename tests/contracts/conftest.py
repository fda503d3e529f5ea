"""Running a contract suite against a server that is not the mock, and reading its verdict.

``serve("tscharts_django.py", "--mode", "x")`` starts one of the test servers of ``servers/`` (a
subprocess on a free loopback port, stopped after); ``run_suite(api, env)`` runs that API's suite
in a subprocess as a user would, with JUnit XML, and returns a ``Verdict``: per test its outcome,
its failure text and its tier properties, so a test can assert which checks failed by the document,
which only warned, and that nothing crashed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERS = Path(__file__).resolve().parent / "servers"
# what a suite must never end in: an exception from deep inside a test instead of a verdict (JUnit's message:
# the exception's type and text; "failed on setup with ..." for a fixture), or the crash net's marker
CRASHES = re.compile(
    r'^(?:failed on (?:setup|teardown) with ")?(?:[\w.]*\.)?(?:JSONDecodeError|KeyError|IndexError|TypeError|AttributeError|UnicodeDecodeError|ValueError)\b'
    r"|^(?:failed on (?:setup|teardown) with \")?AssertionError: assert |\[unreadable reply\]"
)


@dataclass
class Case:
    name: str  # "test_workflows.py::test_image_lifecycle" (the node id below contracts/<api>/)
    outcome: str  # passed, failed, error, skipped
    text: str = ""
    message: str = ""  # JUnit's message: the exception's type and first line
    properties: list[tuple[str, str]] = field(default_factory=list)

    @property
    def conventions(self) -> list[str]:
        return [value for name, value in self.properties if name == "medimock-convention"]

    @property
    def tiers(self) -> list[str]:
        return [value for name, value in self.properties if name == "medimock-tier"]


@dataclass
class Verdict:
    returncode: int
    cases: dict[str, Case]
    stdout: str

    def named(self, outcome: str) -> set[str]:
        return {name for name, case in self.cases.items() if case.outcome == outcome}

    def crashes(self) -> list[str]:
        return [
            f"{name}: {case.text[:600]}"
            for name, case in self.cases.items()
            if case.outcome in ("failed", "error") and CRASHES.search(case.text)
        ]

    def warned(self, key: str) -> set[str]:
        return {name for name, case in self.cases.items() if any(f"convention: {key}:" in value for value in case.conventions)}

    def assert_strict_verdicts(
        self, document_failures: set[str], conventions: Iterable[str], kept: str | None = None, leftover: str | None = None
    ) -> set[str]:
        """A strict run against a server with other habits: every document failure fails (and ``kept``, the test of the
        object the target kept), the named ``conventions`` (test ids) fail too, every other failure is a convention's in
        strict mode, nothing crashes, and the run's end names the one object the target kept (``leftover``: what it is,
        e.g. "group") or none. Returns the failures of strict mode alone (neither the document's nor the leftover's)."""
        failed = self.named("failed") | self.named("error")
        kept_tests = {kept} if kept else set()
        assert failed >= document_failures | kept_tests, sorted(document_failures | kept_tests - failed)
        leftovers = [case.text for case in self.cases.values() if "LeftoverError" in case.text]
        strict_only = {name for name in failed - document_failures - kept_tests if "LeftoverError" not in self.cases[name].text}
        assert set(conventions) <= strict_only, sorted(strict_only)
        for name in strict_only:
            assert "[convention (strict mode)]" in self.cases[name].text, self.cases[name].text[:1500]
        assert not self.crashes(), "\n\n".join(self.crashes())
        if leftover is None:
            assert not leftovers and "did not leave the target" not in self.stdout, leftovers or self.stdout[-3000:]
        else:
            assert len(leftovers) == 1, leftovers
            named = f"the suite did not leave the target as it found it: 1 object(s) the suite created are still there: {leftover} "
            assert named in leftovers[0], leftovers[0][:2000]
        return strict_only

    def assert_ends_in_verdicts(self, api: str, mode: str) -> None:
        """A run against a garbage server (servers/garbage.py --mode MODE) ends in verdicts, never in a crash: a 404 for
        every request is one message naming the base URL (exit 2); otherwise each failure or error is tiered."""
        assert self.returncode in (1, 2), self.stdout[-2000:]
        if self.returncode == 2:
            assert mode == "empty-404" and f"is TARGET {api}'s base URL?" in self.stdout, self.stdout[-2000:]
            return
        assert not self.crashes(), "\n\n".join(self.crashes())
        for name in self.named("failed") | self.named("error"):
            text = self.cases[name].text
            assert "[document]" in text or "[convention" in text, f"{name} failed without a verdict:\n{text[:1500]}"


def parse_junit(path: Path, api: str) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for testcase in ET.parse(path).iter("testcase"):
        module = (testcase.get("classname") or "").rsplit(".", 1)[-1]
        name = f"{module}.py::{testcase.get('name')}"
        outcome, text, message = "passed", "", ""
        for child in testcase:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message") or ""
                text = message + "\n" + (child.text or "")
        properties = [(p.get("name") or "", p.get("value") or "") for p in testcase.iter("property")]
        if name in cases and outcome == "passed":  # a teardown error is a second testcase of the same name
            cases[name].properties += properties
            continue
        cases[name] = Case(name, outcome, text, message, properties)
    return cases


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a test server script of servers/ (with arguments); returns its base URL."""
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> str:
        process = subprocess.Popen(
            [sys.executable, str(SERVERS / script), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        started.append(process)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else ""), daemon=True)
        reader.start()
        reader.join(20)
        if not line or "listening on " not in line[0]:
            raise RuntimeError(f"{script} did not start: {line}")
        return line[0].split("listening on ", 1)[1].strip()

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def run_suite(tmp_path: Path) -> Callable[..., Verdict]:
    """Run ``contracts/<api>`` against a target (``env``), as a user would; the verdict from its JUnit XML."""
    runs = iter(range(1000))

    def run(api: str, env: dict[str, str], *args: str, timeout: float = 600) -> Verdict:
        index = next(runs)
        junit = tmp_path / f"junit-{api}-{index}.xml"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIMOCK_", "CLARIUS_", "TSCHARTS_", "RADIOLOGY_", "AMBRA_"))}
        environ.update(MEDIMOCK_CONFORMANCE_REPORT=str(tmp_path / f"conformance-{api}-{index}"), **env)
        command = [
            sys.executable,
            "-m",
            "pytest",
            f"contracts/{api}",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            *args,
        ]
        result = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout)
        if not junit.exists():
            raise AssertionError(
                f"the suite wrote no JUnit XML (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
            )
        return Verdict(result.returncode, parse_junit(junit, api), result.stdout)

    return run
