"""pytest plugin: verdicts in tiers for the contract suites (``medimock.verdict``).

Loaded by ``contracts/conftest.py``. It

- adds ``--medimock-strict`` (also ``MEDIMOCK_STRICT=1``): conventions fail like document violations;
- lets ``ConventionWarning`` through as a warning even where warnings are errors (``-W error`` on the
  command line still wins: then every convention fails, as in strict mode);
- writes each test's findings into its JUnit ``<properties>`` (``medimock-tier``,
  ``medimock-convention``), so CI tools that read JUnit see the warnings of passing tests;
- turns a crash deep in a test on an unreadable reply (``KeyError``, ``JSONDecodeError``, a bare
  ``assert``...) into a failure that names the last exchange: operation, status, content type,
  first bytes and curl. The suites read replies through ``json_body``/``field``, so this net should
  never be needed; its failures start with ``[unreadable reply]`` so tests can prove it was not;
- prints one line of verdict counts, in pytest's own words, at the end of the run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import verdict
from .resources import contracts_dir

PLUGIN_NAME = "medimock-verdict"
UNREADABLE = "[unreadable reply]"
CONTRACTS = contracts_dir()
_CRASHES = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("medimock", "medimock contract suites")
    group.addoption(
        "--medimock-strict",
        action="store_true",
        default=False,
        dest="medimock_strict",
        help="fail on medimock's conventions too, not only on what the vendor document states (also MEDIMOCK_STRICT=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("medimock_strict", default=False):
        verdict.set_strict(True)
    config.addinivalue_line("filterwarnings", "always::medimock.verdict.ConventionWarning")
    if config.pluginmanager.get_plugin(PLUGIN_NAME) is None:
        config.pluginmanager.register(VerdictPlugin(), PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(plugin, VerdictPlugin):
        verdict.remove_listener(plugin.on_finding)
        config.pluginmanager.unregister(plugin, PLUGIN_NAME)
    verdict.set_strict(None)


_last = threading.local()


def watch(session: Any) -> None:
    """Remember the last reply ``session`` received (per thread), for the crash net."""

    def remember(response: Any, *args: Any, **kwargs: Any) -> None:
        _last.response = response

    session.hooks["response"].append(remember)


def last_response() -> Any:
    return getattr(_last, "response", None)


def _is_contract(item: pytest.Item) -> bool:
    try:
        Path(str(getattr(item, "path", ""))).resolve().relative_to(CONTRACTS)
    except ValueError:
        return False
    return True


def _is_bare_assert(error: BaseException) -> bool:
    if isinstance(error, verdict.ContractViolation) or type(error).__module__.startswith("schemathesis"):
        return False
    if isinstance(error, BaseExceptionGroup):
        return False
    text = str(error).strip()
    return not text or text.startswith("assert ")


class VerdictPlugin:
    def __init__(self) -> None:
        self.item: pytest.Item | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        verdict.add_listener(self.on_finding)

    def on_finding(self, finding: verdict.Finding) -> None:
        self.counts[(finding.tier, "failure" if finding.fails else "warning")] += 1
        item = self.item
        if item is not None:
            name = "medimock-tier" if finding.fails else "medimock-convention"
            item.user_properties.append((name, f"{finding.source.label}: {finding.operation or ''} {finding.message}"[:2000]))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        self.item = item
        verdict.begin_test()
        _last.response = None
        try:
            yield
        finally:
            self.item = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        error = call.excinfo.value if call.excinfo is not None else None
        if error is None or not report.failed or not _is_contract(item):
            return
        crash = isinstance(error, _CRASHES) or (isinstance(error, AssertionError) and _is_bare_assert(error))
        if not crash:
            return
        response = last_response()
        lines = [f"{UNREADABLE} the suite could not read a reply as it expected: {type(error).__name__}: {error}"]
        if response is not None:
            _, operation, reply, curl = verdict.describe(response)
            lines += [f"  last exchange: {operation}", f"  reply: {reply}"]
            if curl:
                lines.append("  reproduce:\n" + "\n".join("    " + line for line in curl.splitlines()))
        report.longrepr = "\n".join(lines) + "\n\n" + str(report.longrepr)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self.counts:
            return
        mode = (
            "strict: conventions fail too"
            if verdict.strict()
            else "conventions warn (--medimock-strict or MEDIMOCK_STRICT=1 makes them fail)"
        )
        parts = [f"{count} {tier} {kind}{'s' if count != 1 else ''}" for (tier, kind), count in sorted(self.counts.items())]
        terminalreporter.write_sep("=", "medimock verdict")
        terminalreporter.write_line(f"{', '.join(parts)}; {mode}")
