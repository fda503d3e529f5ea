"""pytest plugin (loaded by contracts/conftest.py): the progress line counts schemathesis's per-operation subtests.

When its lazily loaded schema test runs, schemathesis adds one collected test per API operation
(``session.testscollected += len(operations)``), but in a quiet run it reports a passing operation
with no letter, and pytest's progress counts only reports that show one: a passing Clarius run
stopped at ``[ 68%]`` (37 of 54; schemathesis issue #636). Here a passing operation shows a ``,``
(the letter of pytest-subtests), so a finished run reads 100% and the summary line counts the
operations as "subtests passed", as a verbose run already did.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Generator[None, Any, Any]:
    status = yield
    if status == ("", "", "") and report.when == "call" and report.passed:  # only schemathesis hides a passing call
        return "subtests passed", ",", "SUBPASSED"
    return status
