"""pytest plugin (loaded by contracts/conftest.py): the progress line counts schemathesis's per-operation subtests.

When its lazily loaded schema test runs, schemathesis adds one collected test per API operation
(``session.testscollected += len(operations)``), but in a quiet run it reports a passing operation
with no letter, and pytest's progress counts only reports that show one: a passing Clarius run
stopped at ``[ 68%]`` (37 of 54; schemathesis issue #636). Here a passing operation shows a ``,``
(the letter of pytest-subtests), so a finished run reads 100% and the summary line counts the
operations as "subtests passed", as a verbose run already did.

Under pytest-xdist the operations are added to the count of a worker's session, not to the
controller's, which prints the progress: there each operation's report (``test[METHOD /path]``)
adds one to the controller's count when it arrives, so a finished run reads 100% there too.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import pytest

_SUBTEST = re.compile(r"\[[A-Z]+ /[^\]]*\]$")  # schemathesis's per-operation node id: test[GET /path]
_session: list[pytest.Session] = []
_counted: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _session[:] = [session]
    _counted.clear()


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Generator[None, Any, Any]:
    status = yield
    if report.when == "call" and _SUBTEST.search(report.nodeid) and _is_xdist_controller(config) and report.nodeid not in _counted:
        _counted.add(report.nodeid)
        if _session:
            _session[0].testscollected += 1
    if status == ("", "", "") and report.when == "call" and report.passed:  # only schemathesis hides a passing call
        return "subtests passed", ",", "SUBPASSED"
    return status


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and config.pluginmanager.has_plugin("dsession")
