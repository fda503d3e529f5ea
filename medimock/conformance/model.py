"""Recording what a contract run did to each documented operation, and adding it up.

The ``Recorder`` is fed by the pytest plugin (``plugin.py``) from three sources:

- every HTTP exchange made through the suites' shared ``requests.Session`` (``exchange``):
  coverage (statuses seen, parameters sent) and, for hand-written tests, the operations a
  test touched;
- every ``Case.call`` of a schemathesis property test (``property_exchange``): coverage;
- every ``Case.validate_response`` (``check_result``): one pass or failure per check.

Workflow attribution: a hand-written test that passes marks every operation it called
(in its setup or body) as passed. A test that fails marks the operation of its *last*
request before the failure as failed (the suites assert on the response they just
received), with that request as a curl command: requests sent while the failure unwinds
(clean-up in ``finally:``) do not count as "last", and a request that got no answer (a
connection error) is the one blamed. The other operations it called count as
"inconclusive" for that test. A skipped test leaves its operations inconclusive too.

Everything here is plain data: no pytest, no schemathesis, so the aggregation is tested
with hand-built inputs (tests/report/).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .curl import SentRequest, curl_with_variables
from .specs import Locator, OperationInfo, Param, SpecIndex, load_index, sent_parameters

# The schemathesis checks the suites run, in the order the report shows them.
STANDARD_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "unsupported_method",
)
WORKFLOWS = "workflows"
MAX_SAMPLES = 3  # distinct failures kept per cell (the count covers every one)
MESSAGE_LIMIT = 1_500

PASSED, FAILED, NOT_EXERCISED, INCONCLUSIVE, WARNED = "passed", "failed", "not exercised", "inconclusive", "warned"


@dataclass
class Failure:
    """One failure shown in the report: what broke, the request that showed it, the test."""

    title: str
    message: str = ""
    curl: str = ""
    test: str = ""
    status: int | None = None
    tier: str = ""  # "document", "convention" (a warning, or a failure in strict mode); "" when the check is not tiered
    source: str = ""  # the cited lines ("document: file.txt:12-14") or the convention's key

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "message": self.message,
            "curl": self.curl,
            "test": self.test,
            "status": self.status,
            "tier": self.tier,
            "source": self.source,
        }


@dataclass
class CheckCell:
    """The results of one check over every response of one operation."""

    passed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)
    warned: int = 0  # responses that differed from a medimock convention (counted among the passed: they did not fail)
    warnings: list[Failure] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.failed:
            return FAILED
        if self.warned:
            return WARNED
        return PASSED if self.passed else NOT_EXERCISED

    def add(self, failure: Failure | None) -> None:
        if failure is None:
            self.passed += 1
            return
        self.failed += 1
        _sample(self.failures, failure)

    def warn(self, warning: Failure) -> None:
        self.warned += 1
        _sample(self.warnings, warning)

    def merge(self, other: CheckCell) -> None:
        """Another worker's results of the same check and operation."""
        self.passed += other.passed
        self.failed += other.failed
        self.warned += other.warned
        for failure in other.failures:
            _sample(self.failures, failure)
        for warning in other.warnings:
            _sample(self.warnings, warning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "passed": self.passed,
            "failed": self.failed,
            "failures": [f.to_dict() for f in self.failures],
            "warned": self.warned,
            "warnings": [f.to_dict() for f in self.warnings],
        }


def _sample(kept: list[Failure], failure: Failure) -> None:
    if len(kept) < MAX_SAMPLES and all(f.title != failure.title for f in kept):
        kept.append(failure)


@dataclass
class WorkflowCell:
    """The hand-written tests that called one operation, and how each ended."""

    passed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)  # conventions the target differs from (not failures)

    def merge(self, other: WorkflowCell) -> None:
        self.passed += [name for name in other.passed if name not in self.passed]
        self.failures += other.failures
        self.inconclusive += [name for name in other.inconclusive if name not in self.inconclusive]
        self.warnings += other.warnings

    @property
    def state(self) -> str:
        if self.failures:
            return FAILED
        if self.warnings and (self.passed or self.inconclusive):
            return WARNED
        if self.passed:
            return PASSED
        return INCONCLUSIVE if self.inconclusive else NOT_EXERCISED

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "passed": list(self.passed),
            "failed": [f.to_dict() for f in self.failures],
            "inconclusive": list(self.inconclusive),
            "warnings": [f.to_dict() for f in self.warnings],
        }


@dataclass
class OperationResult:
    info: OperationInfo
    checks: dict[str, CheckCell] = field(default_factory=dict)
    workflow: WorkflowCell = field(default_factory=WorkflowCell)
    statuses: Counter[int] = field(default_factory=Counter)
    params: set[Param] = field(default_factory=set)
    errors: list[Failure] = field(default_factory=list)  # property-test errors that no check names
    checked: int = 0  # responses a check looked at (a schemathesis validation, or a workflow's expect)
    stopped_after: int | None = None  # the property test of this operation stopped at its first failure after N cases

    def merge(self, other: OperationResult) -> None:
        """Another worker's results for the same operation (one API's tests split across pytest-xdist workers)."""
        for name, cell in other.checks.items():
            self.checks.setdefault(name, CheckCell()).merge(cell)
        self.workflow.merge(other.workflow)
        self.statuses.update(other.statuses)
        self.params |= other.params
        self.errors += other.errors
        self.checked += other.checked
        stops = [n for n in (self.stopped_after, other.stopped_after) if n is not None]
        self.stopped_after = min(stops) if stops else None

    @property
    def exercised(self) -> bool:
        """Requests were sent (and answered)."""
        return bool(self.statuses)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def covered(self) -> bool:
        """Responses of it were validated (a check passed, failed or warned on one): only then is the operation covered."""
        return self.checked > 0 or any(cell.passed or cell.failed or cell.warned for cell in self.checks.values())

    @property
    def warned(self) -> bool:
        return bool(self.workflow.warnings) or any(cell.warned for cell in self.checks.values())

    @property
    def statuses_covered(self) -> set[str]:
        return {key for key in (self.info.status_key(status) for status in self.statuses) if key is not None}

    @property
    def undocumented_statuses(self) -> list[int]:
        return sorted(status for status in self.statuses if self.info.status_key(status) is None)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.workflow.state == FAILED or any(cell.failed for cell in self.checks.values())

    def cell(self, check: str) -> CheckCell:
        return self.checks.get(check) or CheckCell()

    def to_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "method": info.method,
            "path": info.path,
            "operationId": info.operation_id,
            "exercised": self.exercised,
            "covered": self.covered,
            "requests": self.sent,
            "responses_checked": self.checked,
            "stopped_after": self.stopped_after,
            "checks": {name: cell.to_dict() for name, cell in self.checks.items()},
            "workflows": self.workflow.to_dict(),
            "statuses": {
                "documented": list(info.statuses),
                "seen": {str(status): count for status, count in sorted(self.statuses.items())},
                "covered": sorted(self.statuses_covered),
            },
            "parameters": {"documented": [p.label for p in info.params], "sent": sorted(p.label for p in self.params)},
            "errors": [f.to_dict() for f in self.errors],
        }


@dataclass
class Ratio:
    done: int = 0
    total: int = 0

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.done + other.done, self.total + other.total)

    @property
    def percent(self) -> float | None:
        return 100.0 * self.done / self.total if self.total else None

    def __str__(self) -> str:
        percent = self.percent
        return f"{self.done}/{self.total}" + (f" ({percent:.0f}%)" if percent is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "percent": None if self.percent is None else round(self.percent, 1)}


@dataclass
class Coverage:
    operations: Ratio = field(default_factory=Ratio)
    statuses: Ratio = field(default_factory=Ratio)
    parameters: Ratio = field(default_factory=Ratio)

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(self.operations + other.operations, self.statuses + other.statuses, self.parameters + other.parameters)

    @classmethod
    def of(cls, rows: Iterable[OperationResult]) -> Coverage:
        coverage = cls()
        for row in rows:
            coverage.operations += Ratio(int(row.covered), 1)
            coverage.statuses += Ratio(len(row.statuses_covered), len(row.info.statuses))
            coverage.parameters += Ratio(len(row.params), len(row.info.params))
        return coverage

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations.to_dict(), "statuses": self.statuses.to_dict(), "parameters": self.parameters.to_dict()}


@dataclass
class ApiReport:
    api: str
    base_url: str | None
    rows: list[OperationResult]
    checks: list[str]  # the check columns of this API
    tests: Counter[str]  # pytest outcomes of the API's tests
    unattributed: list[Failure]  # failed tests that made no request
    coverage: Coverage = field(default_factory=Coverage)

    def merged(self, other: ApiReport) -> ApiReport:
        """One report of the API from two workers' (each ran some of its tests): rows merged per operation."""
        rows = {(row.info.method, row.info.path): row for row in self.rows}
        for row in other.rows:
            mine = rows.get((row.info.method, row.info.path))
            if mine is None:
                self.rows.append(row)
            else:
                mine.merge(row)
        self.checks += [name for name in other.checks if name not in self.checks]
        self.tests.update(other.tests)
        self.unattributed += other.unattributed
        self.base_url = self.base_url or other.base_url
        self.coverage = Coverage.of(self.rows)
        return self

    @property
    def failed_checks(self) -> int:
        """Failed (operation, check) cells."""
        return sum(1 for row in self.rows for cell in row.checks.values() if cell.failed)

    @property
    def failed_workflows(self) -> int:
        return sum(1 for row in self.rows if row.workflow.state == FAILED)

    @property
    def errors(self) -> int:
        return sum(len(row.errors) for row in self.rows) + len(self.unattributed)

    @property
    def warned_operations(self) -> int:
        """Operations where the target differs from a medimock convention (warnings, not failures)."""
        return sum(1 for row in self.rows if row.warned)

    @property
    def ok(self) -> bool:
        return not (self.failed_checks or self.failed_workflows or self.errors or self.tests.get(FAILED) or self.tests.get("error"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "base_url": self.base_url,
            "coverage": self.coverage.to_dict(),
            "checks": self.checks,
            "tests": dict(self.tests),
            "failed_checks": self.failed_checks,
            "failed_workflows": self.failed_workflows,
            "warned_operations": self.warned_operations,
            "unattributed_failures": [f.to_dict() for f in self.unattributed],
            "operations": [row.to_dict() for row in self.rows],
        }


@dataclass
class Report:
    meta: dict[str, Any]
    apis: list[ApiReport]

    @property
    def coverage(self) -> Coverage:
        total = Coverage()
        for api in self.apis:
            total += api.coverage
        return total

    @property
    def checks(self) -> list[str]:
        names = list(STANDARD_CHECKS)
        for api in self.apis:
            names += [name for name in api.checks if name not in names]
        return names

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "coverage": self.coverage.to_dict(), "apis": [api.to_dict() for api in self.apis]}


@dataclass
class _RunningTest:
    nodeid: str
    api: str | None
    is_property: bool
    phase: str = "setup"
    touched: dict[tuple[str, str, str], None] = field(default_factory=dict)  # an ordered set
    last: tuple[tuple[str, str, str], SentRequest, int | None] | None = None
    failed_checks: set[tuple[str, str, str]] = field(default_factory=set)
    cases: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # property cases sent per operation


class Recorder:
    """Thread-safe accumulator of one contract run (one pytest session)."""

    def __init__(self, index_of: Callable[[str], SpecIndex | None] = load_index) -> None:
        self._index_of = index_of
        self._lock = threading.RLock()
        self._ops: dict[tuple[str, str, str], OperationResult] = {}
        self._locator: Locator | None = None
        self._test: _RunningTest | None = None
        self.bases: dict[str, str] = {}
        self.check_names: dict[str, list[str]] = {}  # api -> checks seen, in order
        self.tests: dict[str, Counter[str]] = {}
        self.unattributed: dict[str, list[Failure]] = {}
        self.active_apis: set[str] = set()
        self._last_request: SentRequest | None = None
        self.dropped = 0  # exchanges that could not be recorded (a bug here must never fail a test)

    # -- where the APIs are ----------------------------------------------------------------
    def set_bases(self, bases: dict[str, str]) -> None:
        with self._lock:
            self.bases = dict(bases)
            self._locator = Locator(self.bases, self._index_of)

    def locate(self, method: str, url: str) -> OperationInfo | None:
        with self._lock:
            return self._locator.locate(method, url) if self._locator is not None else None

    def _result(self, api: str, method: str, path: str) -> OperationResult | None:
        key = (api, method.upper(), path)
        result = self._ops.get(key)
        if result is None:
            index = self._index_of(api)
            info = index.by_key.get((method.upper(), path)) if index is not None else None
            if info is None:
                return None
            result = self._ops[key] = OperationResult(info)
        return result

    def _coverage(self, result: OperationResult, request: SentRequest, status: int) -> None:
        result.statuses[status] += 1
        body = request.body if isinstance(request.body, bytes | str) else None
        sent = sent_parameters(str(request.url or ""), dict(request.headers or {}), body)
        result.params |= result.info.covered_params(sent)
        self.active_apis.add(result.info.api)

    # -- the three sources ---------------------------------------------------------------------
    def exchange(self, request: SentRequest, status: int, unwinding: bool = False) -> OperationInfo | None:
        """A response received through the suites' shared session (workflows and property tests alike).

        ``unwinding``: the request was sent while an exception propagated (a ``finally:`` or
        ``except:`` block cleaning up after a failed assertion); it is not what the test failed on.
        """
        with self._lock:
            if self._locator is None:
                return None
            info = self._locator.locate(str(request.method or "GET"), str(request.url or ""))
            if info is None:
                return None
            result = self._result(info.api, info.method, info.path)
            if result is None:
                return None
            self._coverage(result, request, status)
            self._last_request = request
            test = self._test
            if test is not None and test.phase in ("setup", "call"):
                key = (info.api, info.method, info.path)
                test.touched[key] = None
                if not unwinding:
                    test.last = (key, request, status)
            return info

    def failed_request(self, request: SentRequest) -> None:
        """The running test failed because this request got no response (a connection error, a timeout)."""
        with self._lock:
            info = self._locator.locate(str(request.method or "GET"), str(request.url or "")) if self._locator else None
            test = self._test
            if info is None or test is None or self._result(info.api, info.method, info.path) is None:
                return
            key = (info.api, info.method, info.path)
            test.touched[key] = None
            test.last = (key, request, None)

    def property_exchange(self, api: str, method: str, path: str, request: SentRequest, status: int) -> None:
        """A ``Case.call`` of a property test: its operation is known from the case."""
        with self._lock:
            if self._test is not None:
                self._test.is_property = True
                self._test.cases[(api, method.upper(), path)] += 1
            if request is self._last_request:  # sent through the shared session: exchange() counted it already
                return
            result = self._result(api, method, path)
            if result is not None:
                self._coverage(result, request, status)

    def check_result(self, api: str, method: str, path: str, check: str, failure: Failure | None) -> None:
        with self._lock:
            result = self._result(api, method, path)
            if result is None:
                return
            names = self.check_names.setdefault(api, [])
            if check not in names:
                names.append(check)
            if failure is not None and not failure.test and self._test is not None:
                failure.test = self._test.nodeid
            result.checks.setdefault(check, CheckCell()).add(failure)
            if failure is not None and self._test is not None:
                key = (api, method.upper(), path)
                if key not in self._test.failed_checks and result.stopped_after is None:
                    result.stopped_after = self._test.cases.get(key) or None
                self._test.failed_checks.add(key)

    def checked(self, api: str, method: str, path: str) -> None:
        """A response of this operation was validated (by schemathesis, or by a workflow's ``expect``)."""
        with self._lock:
            result = self._result(api, method, path)
            if result is not None:
                result.checked += 1

    def warning(self, api: str, method: str, path: str, check: str, warning: Failure) -> None:
        """The target differs from a medimock convention on this operation: reported, not failed."""
        with self._lock:
            result = self._result(api, method, path)
            if result is None:
                return
            if warning.test == "" and self._test is not None:
                warning.test = self._test.nodeid
            if check == WORKFLOWS:
                _sample(result.workflow.warnings, warning)
            else:
                names = self.check_names.setdefault(api, [])
                if check not in names:
                    names.append(check)
                result.checks.setdefault(check, CheckCell()).warn(warning)
            self.active_apis.add(api)

    def count(self, api: str, category: str) -> None:
        """One of pytest's outcome categories (passed, failed, error, skipped, warnings, subtests ...) for an API."""
        with self._lock:
            self.tests.setdefault(api, Counter())[category] += 1
            self.active_apis.add(api)

    # -- tests -----------------------------------------------------------------------------
    def begin_test(self, nodeid: str, api: str | None, is_property: bool = False) -> None:
        with self._lock:
            self._test = _RunningTest(nodeid, api, is_property)

    def set_phase(self, phase: str) -> None:
        with self._lock:
            if self._test is not None:
                self._test.phase = phase

    def property_error(self, api: str, method: str, path: str, message: str) -> None:
        """A property test's operation failed without any check failing (an exception, a timeout...)."""
        with self._lock:
            test = self._test
            if test is not None:
                test.is_property = True
                if (api, method.upper(), path) in test.failed_checks:
                    return
            result = self._result(api, method, path)
            if result is not None:
                result.errors.append(Failure("error in the property test", _clip(message), test=test.nodeid if test else ""))

    def end_test(self, outcome: str, message: str = "", verdict: Any = None) -> None:
        """The running test ended: ``outcome`` is passed, failed or skipped.

        ``verdict``: the ``medimock.verdict.Finding`` the test failed on, when it failed through a check:
        its operation is blamed (rather than the last request), with its tier, source and curl.
        """
        with self._lock:
            test, self._test = self._test, None
            if test is None:
                return
            if test.api is not None:
                self.active_apis.add(test.api)
            if test.is_property:
                return
            blamed = test.last[0] if outcome == FAILED and test.last is not None else None
            named = _operation_key(verdict) if outcome == FAILED else None
            if named is not None and self._result(*named) is not None:
                blamed = named
                test.touched[named] = None
            for key in test.touched:
                result = self._ops.get(key)
                if result is None:
                    continue
                cell = result.workflow
                if key == blamed and named is not None:
                    cell.failures.append(
                        Failure(
                            _first_line(message),
                            _clip(message),
                            getattr(verdict, "curl", "") or "",
                            test.nodeid,
                            getattr(verdict, "status", None),
                            getattr(verdict, "tier", ""),
                            getattr(getattr(verdict, "source", None), "label", ""),
                        )
                    )
                elif key == blamed and test.last is not None:
                    _, request, status = test.last
                    cell.failures.append(Failure(_first_line(message), _clip(message), curl_with_variables(request), test.nodeid, status))
                elif outcome == PASSED:
                    cell.passed.append(test.nodeid)
                else:
                    cell.inconclusive.append(test.nodeid)
            if outcome == FAILED and blamed is None and test.api is not None:
                self.unattributed.setdefault(test.api, []).append(Failure(_first_line(message), _clip(message), test=test.nodeid))

    # -- the result ----------------------------------------------------------------------------
    def report(self, apis: Iterable[str] | None = None, meta: dict[str, Any] | None = None) -> Report:
        """Every documented operation of each API (those of the run by default), with what was recorded."""
        with self._lock:
            names = sorted(set(apis) if apis is not None else self.active_apis | {api for api, _, _ in self._ops})
            reports = []
            for api in names:
                index = self._index_of(api)
                if index is None:
                    continue
                rows = [self._ops.get((api, info.method, info.path)) or OperationResult(info) for info in index.operations]
                seen = self.check_names.get(api, [])
                checks = list(STANDARD_CHECKS) + [name for name in seen if name not in STANDARD_CHECKS]
                reports.append(
                    ApiReport(
                        api=api,
                        base_url=self.bases.get(api),
                        rows=rows,
                        checks=checks,
                        tests=Counter(self.tests.get(api, Counter())),
                        unattributed=list(self.unattributed.get(api, [])),
                        coverage=Coverage.of(rows),
                    )
                )
            return Report(dict(meta or {}), reports)


def _operation_key(verdict: Any) -> tuple[str, str, str] | None:
    """(api, METHOD, /template) of a finding, when it names one."""
    api, label = getattr(verdict, "api", None), getattr(verdict, "operation", None)
    if not api or not label or " " not in label:
        return None
    method, path = label.split(" ", 1)
    return (api, method.upper(), path)


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line:
            return line[:200]
    return "the test failed"


def _clip(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "\n..."
