"""pytest plugin: record every contract run and write the conformance report beside its JUnit XML.

Loaded by ``contracts/conftest.py`` (``pytest_plugins``), so every suite under ``contracts/``
is reported without touching its tests. It observes:

- the shared ``requests.Session`` of the suites (the ``http`` fixture calls ``attach``): a
  response hook maps each request to a spec operation (``mockserver.router``, imported
  lazily) and attributes it to the running test;
- schemathesis, through two *global* hooks: ``after_call`` (every ``Case.call``) and
  ``after_validate`` (every ``Case.validate_response``, with one result per check that
  applied, and the failing case as a curl command);
- pytest's own reports: each test's outcome, and the per-operation subtest reports of
  schemathesis's lazy schemas (a property test that fails outside any check).

Files: ``<dir>/conformance<suffix>.{html,md,json}`` where ``--junitxml=<dir>/junit<suffix>.xml``
(``reports/junit-contract-clarius.xml`` -> ``reports/conformance-contract-clarius.html``), or
``reports/conformance.*`` under the rootdir without ``--junitxml``. ``--conformance-report=PATH``
(or ``MEDIMOCK_CONFORMANCE_REPORT``) sets the path without its extension; ``off`` disables
recording entirely. Under pytest-xdist (``-n``) each worker records what it runs and hands its report to the
controller, which writes one report of them all (each API's tests run on one worker: ``contracts/conftest.py``).
"""

from __future__ import annotations

import os
import pickle
import platform
import re
import sys
import time
import weakref
from collections.abc import Generator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from ..resources import contracts_dir
from . import PLUGIN_NAME
from .curl import curl_with_variables
from .model import FAILED, PASSED, ApiReport, Failure, Recorder, Report
from .render import render_html, render_json, render_markdown, summary_lines
from .specs import api_of_spec_location, known_apis

OFF = frozenset({"0", "off", "no", "false", "none"})
WORKER_OUTPUT = "medimock_conformance"  # a pytest-xdist worker's report, pickled, in its workeroutput
_SUBTEST_LABEL = re.compile(r"\[([A-Z]+) (/[^\]]*)\]$")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("medimock", "medimock contract suites")
    group.addoption(
        "--conformance-report",
        dest="conformance_report",
        default=None,
        metavar="PATH|off",
        help="where to write the conformance report (PATH.html, PATH.md, PATH.json; default: beside --junitxml, "
        "else reports/conformance); 'off' disables it. Environment: MEDIMOCK_CONFORMANCE_REPORT.",
    )


def pytest_configure(config: pytest.Config) -> None:
    setting = config.getoption("conformance_report", default=None) or os.environ.get("MEDIMOCK_CONFORMANCE_REPORT") or None
    if setting is not None and setting.strip().lower() in OFF:
        return
    if config.pluginmanager.get_plugin(PLUGIN_NAME) is None:
        config.pluginmanager.register(ConformancePlugin(config, setting), PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(plugin, ConformancePlugin):
        plugin.close()
        config.pluginmanager.unregister(plugin, PLUGIN_NAME)


# -- the plugin --------------------------------------------------------------------------------


def report_stem(config: pytest.Config, setting: str | None) -> Path:
    """The report's path without extension: from the setting, beside --junitxml, or reports/conformance."""
    base = config.invocation_params.dir
    if setting:
        path = Path(setting)
        path = path if path.is_absolute() else base / path
        if setting.endswith(("/", os.sep)) or path.is_dir():
            return path / "conformance"
        return path.with_suffix("") if path.suffix in (".html", ".md", ".json") else path
    xml = getattr(config.option, "xmlpath", None)
    if xml:
        xml_path = Path(os.path.expanduser(str(xml)))
        xml_path = xml_path if xml_path.is_absolute() else base / xml_path
        stem = xml_path.stem
        name = "conformance" + stem[len("junit") :] if stem.startswith("junit") else f"{stem}-conformance"
        return xml_path.parent / name
    return config.rootpath / "reports" / "conformance"


CONTRACTS = contracts_dir()


def _item_api(item: pytest.Item) -> str | None:
    """``contracts/<api>/...`` -> ``<api>`` (None for anything else, such as the mock's own tests)."""
    return _api_of_path(str(getattr(item, "path", "") or ""))


@lru_cache(maxsize=256)
def _api_of_path(path: str) -> str | None:
    try:
        api = Path(path).resolve().relative_to(CONTRACTS).parts[0]
    except (ValueError, IndexError):
        return None
    return api if api in known_apis() else None


def _exit_status(exitstatus: int) -> str:
    try:
        name = pytest.ExitCode(int(exitstatus)).name.lower().replace("_", " ")
    except ValueError:
        return str(int(exitstatus))
    return f"{int(exitstatus)} ({name})"


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (file, line, reason)
        return str(report.longrepr[2])
    text = str(report.longreprtext or "")
    return "\n".join(text.strip().splitlines()[-15:])


def applies(check: str, case: Any, response: Any) -> bool:
    """Whether a check that passed had anything to check.

    schemathesis counts a check as passed whenever it raised nothing, and three of the suites'
    checks pass vacuously on most responses: ``negative_data_rejection`` (only negative cases
    are its business), ``unsupported_method`` (only requests with a method the operation does
    not have) and ``ignored_auth`` (only 2xx answers of operations that declare security). Their
    passes are counted only where they apply, so "passed" in the report means "checked".
    """
    try:
        if check == "negative_data_rejection":
            return bool(case.meta is not None and case.meta.generation.mode.is_negative)
        if check == "unsupported_method":
            return str(case.method).upper() != case.operation.method.upper()
        if check == "ignored_auth":
            raw = case.operation.definition.raw
            security = raw.get("security", (getattr(case.operation.schema, "raw_schema", None) or {}).get("security"))
            return bool(security) and 200 <= int(response.status_code) < 300
    except (AttributeError, TypeError, ValueError):
        return True
    return True


class ConformancePlugin:
    def __init__(self, config: pytest.Config, setting: str | None) -> None:
        self.config = config
        self.setting = setting
        self.recorder = Recorder()
        self.started = time.monotonic()
        self.scope: set[str] = set()
        self.target: Any = None
        self.target_error: str | None = None
        self.paths: list[Path] = []
        self.write_error: str | None = None
        self._summary: list[str] = []
        self._item: pytest.Item | None = None
        self._reports: list[pytest.TestReport] = []
        self._apis_by_location: dict[str, str | None] = {}
        # a pytest-xdist worker records and writes a report of its own (named after it); the controller sees no exchanges
        self._worker: str | None = (getattr(config, "workerinput", None) or {}).get("workerid")
        self._worker_reports: list[bytes] = []  # the controller's: each worker's pickled Report
        self._xdist = self._worker is None and (
            bool(getattr(config.option, "numprocesses", None)) or bool(getattr(config.option, "dist", "no") not in ("no", None))
        )
        # Bound methods, kept so that unregistering removes these very objects.
        self._after_call = self.after_call
        self._after_validate = self.after_validate
        self._dispatcher: Any = None
        self._counted: weakref.WeakSet[Any] = weakref.WeakSet()  # replies already counted as checked
        self._failing: dict[tuple[str, str, str], Any] = {}  # (api, operation, check) -> the Finding it failed on
        self._verdict: Any = None  # the Finding the running test failed on
        from .. import verdict

        self._on_finding = self.on_finding
        self._on_checked = self.on_checked
        verdict.add_listener(self._on_finding)
        verdict.add_checked_listener(self._on_checked)
        try:
            from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
        except ImportError:  # pragma: no cover - schemathesis is a test dependency
            return
        self._dispatcher = GLOBAL_HOOK_DISPATCHER
        GLOBAL_HOOK_DISPATCHER.register_hook_with_name(self._after_call, "after_call")
        GLOBAL_HOOK_DISPATCHER.register_hook_with_name(self._after_validate, "after_validate")

    def close(self) -> None:
        from .. import verdict

        verdict.remove_listener(self._on_finding)
        verdict.remove_checked_listener(self._on_checked)
        if self._dispatcher is not None:
            self._dispatcher.unregister(self._after_call)
            self._dispatcher.unregister(self._after_validate)
            self._dispatcher = None

    # -- the target ----------------------------------------------------------------------------
    def note_target(self, target: Any, error: str | None) -> None:
        self.target_error = error
        if target is not None:
            self.target = target
            self.recorder.set_bases({name: api.base_url for name, api in target.apis.items()})

    # -- requests.Session response hook ------------------------------------------------------------
    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        try:
            # sys.exc_info() is set while a finally:/except: block runs: clean-up after a failure.
            self.recorder.exchange(response.request, int(response.status_code), unwinding=sys.exc_info()[0] is not None)
        except Exception:  # noqa: BLE001 - recording must never fail a test; the report counts what it dropped
            self.recorder.dropped += 1

    # -- verdicts (medimock.verdict) -------------------------------------------------------------
    def on_checked(self, response: Any) -> None:
        """A workflow's ``expect`` looked at this reply: its operation counts as covered."""
        try:
            if response in self._counted:
                return
            self._counted.add(response)
            request = response.request
            info = self.recorder.locate(str(request.method), str(request.url))
            if info is not None:
                self.recorder.checked(info.api, info.method, info.path)
        except Exception:  # noqa: BLE001 - see on_response
            self.recorder.dropped += 1

    def on_finding(self, finding: Any) -> None:
        """A check failed: a warning goes into the report now; a failure is remembered for its test's outcome."""
        try:
            key = (finding.api or "", finding.operation or "", finding.check)
            if finding.fails:
                self._failing[key] = finding
                return
            api = finding.api or (_item_api(self._item) if self._item is not None else None)
            if api is None or not finding.operation or " " not in finding.operation:
                return
            method, path = finding.operation.split(" ", 1)
            warning = Failure(
                title=finding.text.splitlines()[0][:200],
                message=finding.text,
                curl=finding.curl,
                test=self._item.nodeid if self._item is not None else "",
                status=finding.status,
                tier=finding.tier,
                source=finding.source.label,
            )
            self.recorder.warning(api, method.upper(), path, finding.check, warning)
        except Exception:  # noqa: BLE001 - see on_response
            self.recorder.dropped += 1

    # -- schemathesis hooks ----------------------------------------------------------------------
    def _case_api(self, case: Any, response: Any) -> str | None:
        schema = case.operation.schema
        location = str(getattr(schema, "location", "") or "")
        if location not in self._apis_by_location:
            self._apis_by_location[location] = api_of_spec_location(location)
        api = self._apis_by_location[location]
        if api is None:
            request = getattr(response, "request", None)
            info = self.recorder.locate(str(request.method), str(request.url)) if request is not None else None
            api = info.api if info is not None else (_item_api(self._item) if self._item is not None else None)
        return api

    def after_call(self, context: Any, case: Any, response: Any) -> None:
        try:
            api = self._case_api(case, response)
            # A coverage-phase case may use a method the operation does not have (for unsupported_method):
            # that request is not a call of the operation, so it counts for neither statuses nor parameters.
            if api is not None and str(case.method).upper() == case.operation.method.upper():
                method, path = case.operation.method.upper(), case.operation.path
                self.recorder.property_exchange(api, method, path, response.request, int(response.status_code))
        except Exception:  # noqa: BLE001 - see on_response
            self.recorder.dropped += 1

    def after_validate(self, context: Any, case: Any, response: Any, results: Any) -> None:
        try:
            api = self._case_api(case, response)
            if api is None:
                return
            method, path = case.operation.method.upper(), case.operation.path
            test = self._item.nodeid if self._item is not None else ""
            if str(case.method).upper() == method:  # as in after_call: another method's probe is no call of the operation
                self.recorder.checked(api, method, path)
            for result in results:
                failure = None
                if result.failure is None and not applies(str(result.name), case, response):
                    continue
                if result.failure is not None:
                    finding = self._failing.pop((api, str(case.operation.label), str(result.name)), None)
                    failure = Failure(
                        title=str(result.failure.title),
                        message=str(result.failure.message or ""),
                        curl=curl_with_variables(response.request),
                        test=test,
                        status=int(response.status_code),
                        tier=getattr(finding, "tier", ""),
                        source=getattr(getattr(finding, "source", None), "label", ""),
                    )
                self.recorder.check_result(api, method, path, str(result.name), failure)
        except Exception:  # noqa: BLE001 - see on_response
            self.recorder.dropped += 1

    # -- pytest hooks ---------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self._worker is not None:
            return  # an xdist worker collects every test but runs some: its report covers the APIs of those it ran
        for item in session.items:
            api = _item_api(item)
            if api is not None:
                self.scope.add(api)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        api = _item_api(item)
        is_property = bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False))
        self._item, self._reports, self._verdict = item, [], None
        self._failing.clear()
        if api is not None and self._worker is not None:
            self.scope.add(api)
        self.recorder.begin_test(item.nodeid, api, is_property)
        try:
            yield
        finally:
            outcome, message = self._outcome()
            self.recorder.end_test(outcome, message, self._verdict if outcome == FAILED else None)
            self._item, self._reports, self._verdict = None, [], None

    def _outcome(self) -> tuple[str, str]:
        for report in self._reports:
            if report.when in ("setup", "call") and report.failed:
                return FAILED, _message(report)
        for report in self._reports:
            if report.skipped:
                return "skipped", _message(report)
        return PASSED, ""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
        # A test that failed on a request without an answer: blame that request, not the previous one.
        error = call.excinfo.value if call.excinfo is not None else None
        if getattr(error, "finding", None) is not None and call.when in ("setup", "call"):  # a ContractViolation
            self._verdict = error.finding  # type: ignore[union-attr]
        request = getattr(error, "request", None)
        if request is not None and getattr(error, "response", None) is None and type(error).__module__.startswith("requests"):
            try:
                self.recorder.failed_request(request)
            except Exception:  # noqa: BLE001 - see on_response
                self.recorder.dropped += 1
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self.recorder.set_phase("setup")
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        self.recorder.set_phase("call")
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        self.recorder.set_phase("teardown")
        yield

    def _count(self, nodeid: str, category: str) -> None:
        api = _api_of_path(str(self.config.rootpath / nodeid.split("::", 1)[0])) if nodeid else None
        if api is not None:
            self.recorder.count(api, category)

    def pytest_warning_recorded(self, warning_message: Any, when: str, nodeid: str, location: Any) -> None:
        self._count(nodeid, "warnings")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # the category pytest's own summary line counts this report under ("passed", "failed", "error", "skipped",
        # "subtests passed"...): the report's counts are pytest's and JUnit's
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = status[0] if isinstance(status, tuple) and status else ""
        if category:
            self._count(report.nodeid, str(category))
        if getattr(report, "_schemathesis_subtest", False) or type(report).__name__ == "SubtestReport":
            if report.failed and self._item is not None:
                label = _SUBTEST_LABEL.search(report.nodeid)
                api = _item_api(self._item)
                if label and api:
                    self.recorder.property_error(api, label.group(1), label.group(2), _message(report))
            return
        self._reports.append(report)

    # -- the report ------------------------------------------------------------------------------
    def _meta(self, exitstatus: int) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "duration": f"{time.monotonic() - self.started:.1f} s",
            "targets": dict(self.recorder.bases),
            "command": "pytest " + " ".join(str(arg) for arg in self.config.invocation_params.args),
            "examples": os.environ.get("MEDIMOCK_CONTRACT_EXAMPLES", "25") + " per operation (MEDIMOCK_CONTRACT_EXAMPLES)",
            "exit status": _exit_status(exitstatus),
        }
        target = self.target
        if target is not None:
            if getattr(target, "embedded", False):
                args = os.environ.get("MEDIMOCK_EMBEDDED_ARGS", "").strip()
                strict = os.environ.get("MEDIMOCK_EMBEDDED_STRICT", "1") != "0"
                meta["embedded"] = (
                    "medimock's mock, started by the run" + (f" with {args}" if args else "") + ("" if strict else ", strict mode off")
                )
            if getattr(target, "control_url", None):
                meta["control"] = f"{target.control_url}/__mock__"
        versions = [f"python {platform.python_version()}", f"pytest {pytest.__version__}"]
        schemathesis = sys.modules.get("schemathesis")
        if schemathesis is not None:
            versions.append(f"schemathesis {getattr(schemathesis, '__version__', '?')}")
        meta["versions"] = ", ".join(versions)
        if self.target_error:
            meta["target_error"] = self.target_error
        if self.recorder.dropped:
            meta["notes"] = f"{self.recorder.dropped} exchanges could not be recorded"
        return meta

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.config.getoption("collectonly", default=False):
            return
        try:
            if self._xdist:
                report = self._merged(exitstatus)
            else:
                # an xdist worker reports the APIs whose tests it ran (the controller merges one worker's per API)
                scope = self.scope if self._worker is not None else self.scope | self.recorder.active_apis
                if not scope:
                    return
                meta = self._meta(exitstatus)
                meta["targets"] = {api: url for api, url in meta["targets"].items() if api in scope}
                report = self.recorder.report(sorted(scope), meta)
                if self._worker is not None:  # the controller merges the workers' reports and writes one
                    self.config.workeroutput[WORKER_OUTPUT] = pickle.dumps(report)  # type: ignore[attr-defined]
                    return
            if report is None:
                return
            stem = report_stem(self.config, self.setting)
            stem.parent.mkdir(parents=True, exist_ok=True)
            outputs = {".html": render_html(report), ".md": render_markdown(report), ".json": render_json(report)}
            self.paths = []
            for suffix, text in outputs.items():
                path = stem.with_name(stem.name + suffix)
                path.write_text(text, encoding="utf-8")
                self.paths.append(path)
            self._summary = summary_lines(report, [self._shown(self.paths[0]) + " (also .md, .json)"])
        except Exception as exc:  # noqa: BLE001 - a report problem must not hide the run's own result
            self.write_error = f"{type(exc).__name__}: {exc}"

    def _merged(self, exitstatus: int) -> Report | None:
        """One report of the workers' (pytest-xdist's controller): each API's rows merged from the workers that ran
        its tests (usually one; a part of Ambra's property run goes beside the other suites, contracts/conftest.py).
        """
        reports: list[Report] = [pickle.loads(data) for data in self._worker_reports]  # noqa: S301 - our own workers' bytes
        if not reports:
            return None
        apis: dict[str, ApiReport] = {}
        for report in reports:
            for api in report.apis:
                apis[api.api] = apis[api.api].merged(api) if api.api in apis else api
        meta = dict(reports[0].meta)
        own = self._meta(exitstatus)
        for key in ("date", "duration", "command", "exit status"):
            meta[key] = own[key]
        meta["targets"] = {name: url for report in reports for name, url in report.meta.get("targets", {}).items()}
        notes = [str(report.meta["notes"]) for report in reports if report.meta.get("notes")]
        if notes:
            meta["notes"] = "; ".join(notes)
        meta["workers"] = f"{len(reports)} pytest-xdist workers"
        return Report(meta, [apis[name] for name in sorted(apis)])

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist's controller: a worker finished (its report, if it ran contract tests, is in its output)."""
        data = (getattr(node, "workeroutput", None) or {}).get(WORKER_OUTPUT)
        if isinstance(data, bytes):
            self._worker_reports.append(data)

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(path)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.write_error:
            terminalreporter.write_sep("=", "medimock conformance", red=True)
            terminalreporter.write_line(f"the conformance report could not be written: {self.write_error}")
            return
        if not self._summary:
            return
        terminalreporter.write_sep("=", "medimock conformance")
        for line in self._summary:
            terminalreporter.write_line(line)
