"""The conformance report as HTML, Markdown and JSON, and its summary for the terminal.

HTML: a summary table (one row per API and overall), then one collapsible section per
API with one row per documented operation and one column per check, plus "workflows"
and the operation's status and parameter coverage; failures (with their curl commands)
follow each API's table, linked from the cells. An API with more than ``GROUP_ABOVE``
operations (Ambra: 925) is split into collapsible groups by its first path segment,
closed unless something in them failed; a filter box and an "only exercised or failing"
switch narrow every table (a few lines of inline script; the page needs no network).

Markdown: the same summary, and per API the full table when it has at most
``MARKDOWN_FULL_ROWS`` operations; otherwise only the rows that were exercised or failed,
with the count of the others (the HTML lists them all). Failures follow, with curl.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import (
    FAILED,
    INCONCLUSIVE,
    NOT_EXERCISED,
    PASSED,
    WARNED,
    WORKFLOWS,
    ApiReport,
    CheckCell,
    Coverage,
    Failure,
    OperationResult,
    Report,
)

GROUP_ABOVE = 40
MARKDOWN_FULL_ROWS = 60
SHORT = {
    "not_a_server_error": "no 5xx",
    "status_code_conformance": "status",
    "content_type_conformance": "content type",
    "response_schema_conformance": "schema",
    "response_headers_conformance": "headers",
    "negative_data_rejection": "negative",
    "ignored_auth": "auth",
    "unsupported_method": "method",
    WORKFLOWS: "workflows",
}


def short(check: str) -> str:
    return SHORT.get(check, check)


@dataclass
class _Numbering:
    """Failures are numbered F1, F2... (warnings W1, W2...) across the whole report, in the order of the tables."""

    by_id: dict[int, int] = field(default_factory=dict)
    listed: list[tuple[ApiReport, OperationResult, str, Failure]] = field(default_factory=list)
    prefix: str = "F"

    def number(self, api: ApiReport, row: OperationResult, column: str, failure: Failure) -> int:
        key = id(failure)
        if key not in self.by_id:
            self.listed.append((api, row, column, failure))
            self.by_id[key] = len(self.listed)
        return self.by_id[key]

    def of_api(self, api: ApiReport) -> list[tuple[int, OperationResult, str, Failure]]:
        return [(self.by_id[id(f)], row, column, f) for a, row, column, f in self.listed if a is api]


def _failures_of(row: OperationResult, checks: list[str]) -> list[tuple[str, Failure]]:
    found = [(check, failure) for check in checks for failure in row.cell(check).failures]
    found += [(WORKFLOWS, failure) for failure in row.workflow.failures]
    found += [("error", failure) for failure in row.errors]
    return found


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


# pytest's order of outcomes in its summary line (terminal.py KNOWN_TYPES), then any other category
_PYTEST_ORDER = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "error")


def tests_line(counts: Any) -> str:
    """Outcome counts in pytest's words and order: "14 failed, 39 passed, 2 skipped, 20 warnings, 2 subtests passed"."""
    keys = [k for k in _PYTEST_ORDER if counts.get(k)] + sorted(k for k in counts if k not in _PYTEST_ORDER and counts[k])
    words = {"error": "errors"}
    return ", ".join(f"{counts[k]} {words.get(k, k) if counts[k] != 1 or k != 'error' else 'error'}" for k in keys) or "none run"


def tier_label(failure: Failure) -> str:
    """``document: file.txt:12`` / ``convention: key`` (``convention (strict): key`` when it failed)."""
    if not failure.tier:
        return ""
    return failure.source or failure.tier


# -- terminal ----------------------------------------------------------------------------------


def summary_lines(report: Report, paths: Iterable[str] = ()) -> list[str]:
    """A few lines per API for the end of the run."""
    lines = []
    width = max([len(api.api) for api in report.apis] + [7])
    for api in report.apis:
        cov = api.coverage
        verdict = "ok" if api.ok else "FAILING"
        lines.append(
            f"{api.api:<{width}}  {verdict:<7}  operations covered {cov.operations}; "
            f"failed checks {api.failed_checks}, failed workflows {api.failed_workflows}"
            + (f", errors {api.errors}" if api.errors else "")
            + (f", conventions differing on {api.warned_operations} operations" if api.warned_operations else "")
            + f"; tests: {tests_line(api.tests)}"
        )
        lines.append(f"{'':<{width}}           coverage: documented statuses seen {cov.statuses}, parameters sent {cov.parameters}")
        stopped = [row for row in api.rows if row.stopped_after is not None]
        if stopped:
            lines.append(
                f"{'':<{width}}           property tests stopped at their first failure on {len(stopped)} operations "
                f"(after {min(r.stopped_after or 0 for r in stopped)}-{max(r.stopped_after or 0 for r in stopped)} cases)"
            )
    if len(report.apis) > 1:
        cov = report.coverage
        lines.append(
            f"{'overall':<{width}}  {'ok' if all(a.ok for a in report.apis) else 'FAILING':<7}  operations covered {cov.operations}; "
            f"statuses {cov.statuses}, parameters {cov.parameters}"
        )
    if report.meta.get("target_error"):
        lines.append(f"target: {report.meta['target_error']}")
    for path in paths:
        lines.append(f"report: {path}")
    return lines


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --dim: #8c959f; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; padding: 1.2rem 2rem; max-width: 1600px; color: #1f2328; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { font-size: 1.25rem; margin: 0; display: inline; } h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.meta { color: #57606a; margin: 0 0 1rem; } .meta dt { font-weight: 600; float: left; clear: left; width: 11rem; } .meta dd { margin: 0 0 .15rem 11rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; } th, td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; } thead th { position: sticky; top: 0; z-index: 1; }
table.ops th.check { font-size: 11px; max-width: 7.5rem; word-break: break-word; } table.ops th.wf { word-break: normal; }
td.ok { color: var(--ok); } td.bad { color: var(--bad); background: #ffebe9; font-weight: 600; } td.na { color: var(--dim); text-align: center; }
td.inc { color: var(--warn); } td.warnc { color: var(--warn); background: #fff8c5; } .tier { font-size: 12px; color: #57606a; } td.num { text-align: right; white-space: nowrap; } td.path code { white-space: nowrap; }
td.bad a { color: var(--bad); } .opid { color: #57606a; font-size: 12px; } .method { font-weight: 600; font-size: 12px; }
tr.failed td.path { border-left: 4px solid var(--bad); }
.verdict-ok { color: var(--ok); font-weight: 600; } .verdict-bad { color: var(--bad); font-weight: 600; }
section.api { border: 1px solid var(--line); border-radius: 6px; margin: 1rem 0; padding: .6rem 1rem; }
section.api > details > summary { cursor: pointer; } section.api .headline { color: #57606a; margin-left: .6rem; }
details.group { margin: .2rem 0 .2rem 1rem; } details.group > summary { cursor: pointer; padding: .15rem 0; }
.failure { border-left: 4px solid var(--bad); background: #fff8f8; padding: .4rem .8rem; margin: .6rem 0; }
.failure h4 { margin: 0 0 .3rem; font-size: 14px; } .failure pre { background: #fff; border: 1px solid var(--line); padding: .4rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.tools { position: sticky; top: 0; background: #fff; padding: .4rem 0; z-index: 2; border-bottom: 1px solid var(--line); }
[id] { scroll-margin-top: 3.5rem; } /* a followed link (#f3, #api-x) lands below the sticky filter bar, not under it */
.tools input[type=search] { width: 24rem; padding: .25rem .4rem; }
.legend { color: #57606a; font-size: 13px; } .warn { color: var(--warn); }
"""

_SCRIPT = """
(function () {
  var box = document.getElementById('filter'), only = document.getElementById('only');
  function apply() {
    var text = box.value.trim().toLowerCase(), busy = only.checked;
    document.querySelectorAll('tr.op').forEach(function (row) {
      var show = (!text || row.dataset.key.indexOf(text) >= 0) && (!busy || row.classList.contains('used'));
      row.style.display = show ? '' : 'none';
    });
    document.querySelectorAll('details.group').forEach(function (group) {
      var visible = group.querySelectorAll('tr.op:not([style*="none"])').length;
      group.style.display = visible ? '' : 'none';
      if (text || busy) { group.open = visible > 0; }
    });
  }
  box.addEventListener('input', apply); only.addEventListener('change', apply);
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _check_header(check: str) -> str:
    return f'<th class="check" title="{_e(check)}">{_e(check).replace("_", "_<wbr>")}</th>'


def _check_cell(cell: CheckCell, refs: list[int], warn_refs: list[int] = ()) -> str:  # type: ignore[assignment]
    if cell.state == FAILED:
        links = " ".join(f'<a href="#f{n}">F{n}</a>' for n in refs)
        total = cell.passed + cell.failed
        return f'<td class="bad" title="{cell.failed} of {total} responses failed this check">✗ {cell.failed}/{total} {links}</td>'
    if cell.state == WARNED:
        links = " ".join(f'<a href="#w{n}">W{n}</a>' for n in warn_refs)
        title = f"{cell.warned} of {cell.passed} responses differ from a medimock convention (not the document): a warning"
        return f'<td class="warnc" title="{title}">⚠ {cell.warned}/{cell.passed} {links}</td>'
    if cell.state == PASSED:
        return f'<td class="ok" title="{cell.passed} responses passed this check">✓ {cell.passed}</td>'
    return '<td class="na">\u2013</td>'


def _workflow_cell(row: OperationResult, refs: list[int], warn_refs: list[int] = ()) -> str:  # type: ignore[assignment]
    cell = row.workflow
    names = "\n".join(cell.passed[:15]) + ("\n..." if len(cell.passed) > 15 else "")
    if cell.state == FAILED:
        links = " ".join(f'<a href="#f{n}">F{n}</a>' for n in refs)
        extra = f" (+{len(cell.passed)} ✓)" if cell.passed else ""
        return f'<td class="bad" title="{len(cell.failures)} workflow test(s) failed on this operation">✗ {links}{extra}</td>'
    if cell.state == WARNED:
        links = " ".join(f'<a href="#w{n}">W{n}</a>' for n in warn_refs)
        return f'<td class="warnc" title="the target differs from a medimock convention here (a warning)">⚠ {len(cell.passed)} {links}</td>'
    if cell.state == PASSED:
        return f'<td class="ok" title="passing workflow tests:\n{_e(names)}">✓ {len(cell.passed)}</td>'
    if cell.state == INCONCLUSIVE:
        who = "\n".join(cell.inconclusive[:15])
        return f'<td class="inc" title="called only by tests that failed on another operation or were skipped:\n{_e(who)}">~ {len(cell.inconclusive)}</td>'
    return '<td class="na">\u2013</td>'


def _status_cell(row: OperationResult) -> str:
    info = row.info
    if not row.exercised:
        return f'<td class="num na" title="documented: {_e(", ".join(info.statuses))}">0/{len(info.statuses)}</td>'
    covered = row.statuses_covered
    seen = ", ".join(f"{status} x{count}" for status, count in sorted(row.statuses.items())) or "none"
    missing = ", ".join(s for s in info.statuses if s not in covered) or "none"
    odd = row.undocumented_statuses
    title = f"documented: {', '.join(info.statuses)}\nseen: {seen}\nnot seen: {missing}"
    flag = ""
    if odd:
        title += f"\nundocumented statuses seen: {', '.join(map(str, odd))}"
        flag = f' <span class="warn">+{",".join(map(str, odd))}</span>'
    css = "num" if row.exercised else "num na"
    return f'<td class="{css}" title="{_e(title)}">{len(covered)}/{len(info.statuses)}{flag}</td>'


def _checked_cell(row: OperationResult) -> str:
    if not row.exercised:
        return '<td class="num na">0</td>'
    stopped = f' <span class="warn">stopped at first failure after {row.stopped_after} cases</span>' if row.stopped_after else ""
    css = "num" if row.covered else "num na"
    title = f"{row.checked} responses checked of {row.sent} requests answered"
    return f'<td class="{css}" title="{_e(title)}">{row.checked}/{row.sent}{stopped}</td>'


def _param_cell(row: OperationResult) -> str:
    params = row.info.params
    if not params:
        return '<td class="num na" title="no documented parameters">\u2013</td>'
    if not row.exercised:
        return f'<td class="num na">0/{len(params)}</td>'
    missing = [p.label for p in params if p not in row.params]
    title = "not sent: " + (", ".join(missing) if missing else "none")
    return f'<td class="num" title="{_e(title)}">{len(row.params)}/{len(params)}</td>'


def _row(api: ApiReport, row: OperationResult, numbering: _Numbering, warnings: _Numbering | None = None) -> str:
    info = row.info
    used = row.exercised or row.failed
    css = "op" + (" used" if used else "") + (" failed" if row.failed else "")
    key = f"{info.method} {info.path} {info.operation_id}".lower()
    cells = [
        f'<td class="method">{_e(info.method)}</td>',
        f'<td class="path"><code>{_e(info.path)}</code><br><span class="opid">{_e(info.operation_id)}'
        + (" (deprecated)" if info.deprecated else "")
        + "</span></td>",
    ]
    warnings = warnings if warnings is not None else _Numbering(prefix="W")
    for check in api.checks:
        cell = row.cell(check)
        refs = [numbering.number(api, row, check, failure) for failure in cell.failures]
        cells.append(_check_cell(cell, refs, [warnings.number(api, row, check, w) for w in cell.warnings]))
    refs = [numbering.number(api, row, WORKFLOWS, failure) for failure in row.workflow.failures]
    cells.append(_workflow_cell(row, refs, [warnings.number(api, row, WORKFLOWS, w) for w in row.workflow.warnings]))
    if row.errors:
        refs = [numbering.number(api, row, "error", failure) for failure in row.errors]
        cells[-1] = cells[-1][:-5] + " " + " ".join(f'<a href="#f{n}" class="warn">E{n}</a>' for n in refs) + "</td>"
    cells.append(_checked_cell(row))
    cells.append(_status_cell(row))
    cells.append(_param_cell(row))
    return f'<tr class="{css}" data-key="{_e(key)}">' + "".join(cells) + "</tr>"


def _table(api: ApiReport, rows: list[OperationResult], numbering: _Numbering, warnings: _Numbering | None = None) -> str:
    head = (
        "<thead><tr><th>method</th><th>path / operationId</th>"
        + "".join(_check_header(check) for check in api.checks)
        + '<th class="check wf" title="hand-written workflow tests">workflows</th>'
        + '<th title="responses checked / requests answered (an operation is covered when responses of it were checked)">checked</th>'
        + '<th title="documented response statuses seen / documented">statuses</th>'
        + '<th title="documented parameters sent / documented">params</th></tr></thead>'
    )
    return '<table class="ops">' + head + "<tbody>" + "".join(_row(api, row, numbering, warnings) for row in rows) + "</tbody></table>"


def group_key(path: str, common: int) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[: common + 1]) if parts else "/"


def _common_depth(paths: list[str]) -> int:
    split = [[p for p in path.split("/") if p] for path in paths]
    depth = 0
    while split and all(len(parts) > depth + 1 for parts in split) and len({tuple(parts[: depth + 1]) for parts in split}) == 1:
        depth += 1
    return depth


def _api_section(api: ApiReport, numbering: _Numbering, warnings: _Numbering | None = None) -> str:
    warnings = warnings if warnings is not None else _Numbering(prefix="W")
    cov = api.coverage
    verdict = '<span class="verdict-ok">ok</span>' if api.ok else '<span class="verdict-bad">failing</span>'
    headline = (
        f"{verdict} · operations covered {cov.operations} · statuses {cov.statuses} · parameters {cov.parameters}"
        f" · failed checks {api.failed_checks} · failed workflows {api.failed_workflows}"
        + (f" · conventions differ on {api.warned_operations} operations" if api.warned_operations else "")
        + f" · tests: {_e(tests_line(api.tests))}"
    )
    parts = [
        f'<section class="api" id="api-{_e(api.api)}"><details open><summary><h2>{_e(api.api)}</h2>'
        f'<span class="headline">{headline}</span></summary>',
        f"<p>base URL: <code>{_e(api.base_url or 'unknown')}</code></p>",
    ]
    if len(api.rows) > GROUP_ABOVE:
        groups = _groups(api)
        parts.append(
            f"<p class='legend'>{len(api.rows)} operations in {len(groups)} groups; groups open when something in them failed.</p>"
        )
        for name, rows in groups.items():
            cov = Coverage.of(rows)
            failing = sum(row.failed for row in rows)
            label = (
                f"<code>{_e(name)}</code> \u2014 {len(rows)} operations, {cov.operations.done} covered"
                + (f', <span class="verdict-bad">{failing} failing</span>' if failing else "")
                + f' <span class="headline">statuses {cov.statuses} · parameters {cov.parameters}</span>'
            )
            parts.append(
                f'<details class="group"{" open" if failing else ""}><summary>{label}</summary>'
                f"{_table(api, rows, numbering, warnings)}</details>"
            )
    else:
        parts.append(_table(api, api.rows, numbering, warnings))
    failures = numbering.of_api(api)
    if failures or api.unattributed:
        parts.append("<h3>Failures</h3>")
    for number, row, column, failure in failures:
        parts.append(_failure_block(number, api, row, column, failure))
    for failure in api.unattributed:
        parts.append(f'<div class="failure"><h4>{_e(failure.test)} (made no request)</h4><pre>{_e(failure.message)}</pre></div>')
    warned = warnings.of_api(api)
    if warned:
        parts.append(
            "<h3>Warnings: where the target differs from medimock's conventions</h3>"
            "<p class='legend'>The vendor document does not decide these; they fail only in strict mode (--medimock-strict).</p>"
        )
        for number, row, column, warning in warned:
            parts.append(_failure_block(number, api, row, column, warning, prefix="W"))
    parts.append("</details></section>")
    return "\n".join(parts)


def _failure_block(number: int, api: ApiReport, row: OperationResult, column: str, failure: Failure, prefix: str = "F") -> str:
    what = {WORKFLOWS: "workflow test", "error": "property test error"}.get(column, column)
    status = f" → {failure.status}" if failure.status is not None else ""
    tier = f' · <span class="tier">{_e(tier_label(failure))}</span>' if failure.tier else ""
    return (
        f'<div class="failure" id="{prefix.lower()}{number}"><h4>{prefix}{number} · {_e(api.api)} · {_e(row.info.label)}{_e(status)}'
        f" · {_e(what)}{tier}</h4>"
        f"<p><strong>{_e(failure.title)}</strong></p>"
        + (f'<pre class="curl">{_e(failure.curl)}</pre>' if failure.curl else "<p>(no request to show)</p>")
        + _message_html(failure)
        + (f"<p>test: <code>{_e(failure.test)}</code></p>" if failure.test else "")
        + "</div>"
    )


def _message_html(failure: Failure) -> str:
    message = failure.message.strip()
    if not message or message == failure.title:
        return ""
    if message.count("\n") < 12:
        return f"<pre>{_e(message)}</pre>"
    return f"<details><summary>details ({message.count(chr(10)) + 1} lines)</summary><pre>{_e(message)}</pre></details>"


def _meta_html(meta: dict[str, Any]) -> str:
    items = [("date", meta.get("date", "")), ("duration", meta.get("duration", ""))]
    for api, url in (meta.get("targets") or {}).items():
        items.append((f"target: {api}", url))
    for key in ("embedded", "control", "command", "examples", "exit status", "versions", "target_error", "notes"):
        if meta.get(key):
            items.append((key.replace("_", " "), meta[key]))
    cells = [f"<dt>{_e(k)}</dt><dd>{_meta_value(v)}</dd>" for k, v in items if v != ""]
    return '<dl class="meta">' + "".join(cells) + "</dl>"


def _meta_value(value: Any) -> str:
    text = str(value)
    return f"<pre>{_e(text.strip())}</pre>" if "\n" in text else _e(text)


def _summary_table(report: Report) -> str:
    head = (
        "<tr><th>API</th><th>result</th><th>operations covered</th><th>documented statuses seen</th>"
        "<th>documented parameters sent</th><th>failed checks</th><th>failed workflows</th><th>errors</th><th>tests</th></tr>"
    )
    rows = []
    for api in report.apis:
        cov = api.coverage
        tests = tests_line(api.tests)
        verdict = '<td class="ok">ok</td>' if api.ok else '<td class="bad">failing</td>'
        rows.append(
            f'<tr><td><a href="#api-{_e(api.api)}">{_e(api.api)}</a></td>{verdict}<td class="num">{cov.operations}</td>'
            f'<td class="num">{cov.statuses}</td><td class="num">{cov.parameters}</td><td class="num">{api.failed_checks}</td>'
            f'<td class="num">{api.failed_workflows}</td><td class="num">{api.errors}</td><td>{_e(tests)}</td></tr>'
        )
    cov = report.coverage
    ok = all(api.ok for api in report.apis)
    rows.append(
        f"<tr><th>overall</th>{'<td class=ok>ok</td>' if ok else '<td class=bad>failing</td>'}<th class='num'>{cov.operations}</th>"
        f"<th class='num'>{cov.statuses}</th><th class='num'>{cov.parameters}</th>"
        f"<th class='num'>{sum(a.failed_checks for a in report.apis)}</th><th class='num'>{sum(a.failed_workflows for a in report.apis)}</th>"
        f"<th class='num'>{sum(a.errors for a in report.apis)}</th><th></th></tr>"
    )
    return '<table class="summary">' + head + "".join(rows) + "</table>"


_LEGEND = (
    "✓ n: passed (n responses checked; for workflows, n tests) · ✗ a/b: a of b responses failed, F<i>n</i> links the failure "
    "with its curl command · ⚠ a/b: a of b responses differ from a medimock convention the vendor document does not decide "
    "(a warning; W<i>n</i> links it; it fails only in strict mode) · "
    "~: called only by workflow tests that failed on another operation or were skipped · "
    "\u2013: not exercised (for a check: it never applied, e.g. <code>ignored_auth</code> needs a 2xx of a secured operation) · "
    "E<i>n</i>: the property test of that operation failed outside any check. A failing workflow test is blamed on the "
    "operation its failed check names (else its last request). Checked: responses a check looked at / requests answered; "
    "an operation counts as covered only when some of its responses were checked. Statuses: documented response codes seen / documented (+n: an undocumented status seen). "
    "Params: documented parameters sent / documented (path, query, header, cookie, and top-level body fields). "
    "Credentials in curl commands are shell variables (${CLARIUS_API_KEY}, ...), set as each command's comment says."
)


def render_html(report: Report) -> str:
    numbering, warnings = _Numbering(), _Numbering(prefix="W")
    sections = [_api_section(api, numbering, warnings) for api in report.apis]
    title = f"Contract conformance — {', '.join(a.api for a in report.apis) or 'no API'} — {report.meta.get('date', '')}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>Contract conformance</h1>\n{_meta_html(report.meta)}\n"
        f"<h2>Summary</h2>\n{_summary_table(report)}\n<p class='legend'>{_LEGEND}</p>\n"
        '<div class="tools"><input type="search" id="filter" placeholder="filter operations: method, path or operationId"> '
        '<label><input type="checkbox" id="only"> only exercised or failing</label></div>\n'
        + "\n".join(sections)
        + (f"<p>No API was tested. {_e(report.meta.get('target_error', ''))}</p>" if not report.apis else "")
        + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


# -- Markdown ----------------------------------------------------------------------------------


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_check(cell: CheckCell, refs: list[int], warn_refs: list[int] = ()) -> str:  # type: ignore[assignment]
    if cell.state == FAILED:
        return f"✗ {cell.failed}/{cell.passed + cell.failed} " + " ".join(f"[F{n}](#f{n})" for n in refs)
    if cell.state == WARNED:
        return f"⚠ {cell.warned}/{cell.passed} " + " ".join(f"[W{n}](#w{n})" for n in warn_refs)
    return f"✓ {cell.passed}" if cell.state == PASSED else "\u2013"


def _md_workflow(row: OperationResult, refs: list[int], warn_refs: list[int] = ()) -> str:  # type: ignore[assignment]
    cell = row.workflow
    if cell.state == FAILED:
        return "✗ " + " ".join(f"[F{n}](#f{n})" for n in refs)
    if cell.state == WARNED:
        return f"⚠ {len(cell.passed)} " + " ".join(f"[W{n}](#w{n})" for n in warn_refs)
    return {PASSED: f"✓ {len(cell.passed)}", INCONCLUSIVE: f"~ {len(cell.inconclusive)}", NOT_EXERCISED: "\u2013"}[cell.state]


def _groups(api: ApiReport) -> dict[str, list[OperationResult]]:
    depth = _common_depth([row.info.path for row in api.rows])
    groups: dict[str, list[OperationResult]] = {}
    for row in api.rows:
        groups.setdefault(group_key(row.info.path, depth), []).append(row)
    return groups


def _markdown_groups(api: ApiReport, listed: int) -> list[str]:
    """A huge API in Markdown: one line per group, then only the operations that need a look."""
    groups = _groups(api)
    out = [
        f"{len(api.rows)} operations in {len(groups)} groups (the HTML report has every operation and check):",
        "",
        "| group | operations | covered | failing | documented statuses seen | documented parameters sent |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in groups.items():
        cov = Coverage.of(rows)
        failing = sum(row.failed for row in rows)
        out.append(
            f"| `{name}` | {len(rows)} | {cov.operations.done} | {f'**{failing}**' if failing else 0} | {cov.statuses} | {cov.parameters} |"
        )
    out += ["", f"Operations that failed, or were called only by tests that failed elsewhere: {listed}.", ""]
    return out


def render_markdown(report: Report) -> str:
    numbering, warnings = _Numbering(), _Numbering(prefix="W")
    meta = report.meta
    out = ["# Contract conformance", ""]
    out.append(f"- date: {meta.get('date', '')}" + (f" ({meta['duration']})" if meta.get("duration") else ""))
    for api, url in (meta.get("targets") or {}).items():
        out.append(f"- target {api}: `{url}`")
    for key in ("embedded", "control", "command", "examples", "exit status", "versions", "target_error", "notes"):
        value = str(meta.get(key) or "")
        if "\n" in value:
            out += [f"- {key.replace('_', ' ')}:", "", "  ```text", *(f"  {line}" for line in value.strip().splitlines()), "  ```"]
        elif value:
            out.append(f"- {key.replace('_', ' ')}: {value}")
    out += ["", "## Summary", ""]
    out.append(
        "| API | result | operations covered | documented statuses seen | documented parameters sent | failed checks | failed workflows | errors | tests |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for api in report.apis:
        cov = api.coverage
        tests = tests_line(api.tests)
        out.append(
            f"| [{api.api}](#{api.api}) | {'ok' if api.ok else '**failing**'} | {cov.operations} | {cov.statuses} | {cov.parameters} | "
            f"{api.failed_checks} | {api.failed_workflows} | {api.errors} | {tests} |"
        )
    cov = report.coverage
    out.append(
        f"| **overall** | {'ok' if all(a.ok for a in report.apis) else '**failing**'} | {cov.operations} | {cov.statuses} | {cov.parameters} | "
        f"{sum(a.failed_checks for a in report.apis)} | {sum(a.failed_workflows for a in report.apis)} | {sum(a.errors for a in report.apis)} | |"
    )
    out += [
        "",
        "Columns: "
        + ", ".join(f"{short(check)} = `{check}`" for check in report.checks)
        + ". ✓ n passed (responses; for workflows, tests) · ✗ a/b failed (Fn below, with curl) · ⚠ a/b differ from a medimock "
        "convention (Wn below: a warning, not the document's rule; fails only in strict mode) · ~ only in tests that failed "
        "elsewhere or were skipped · \u2013 not exercised. checked: responses checked / requests answered (covered when > 0). "
        "statuses/params: documented ones seen or sent / documented.",
        "",
    ]
    for api in report.apis:
        out += [f"## {api.api}", "", f"base URL: `{api.base_url or 'unknown'}`", ""]
        rows = api.rows
        if len(rows) > MARKDOWN_FULL_ROWS:
            rows = [row for row in rows if row.failed or row.workflow.state == INCONCLUSIVE]
            out += _markdown_groups(api, len(rows))
        header = ["method", "path", "operationId", *[short(c) for c in api.checks], "workflows", "checked", "statuses", "params"]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for row in rows:
            info = row.info
            cells = [info.method, f"`{_md(info.path)}`", _md(info.operation_id)]
            for check in api.checks:
                cell = row.cell(check)
                cells.append(
                    _md_check(
                        cell,
                        [numbering.number(api, row, check, f) for f in cell.failures],
                        [warnings.number(api, row, check, w) for w in cell.warnings],
                    )
                )
            workflow = _md_workflow(
                row,
                [numbering.number(api, row, WORKFLOWS, f) for f in row.workflow.failures],
                [warnings.number(api, row, WORKFLOWS, w) for w in row.workflow.warnings],
            )
            if row.errors:
                workflow += " " + " ".join(
                    f"[E{numbering.number(api, row, 'error', f)}](#f{numbering.number(api, row, 'error', f)})" for f in row.errors
                )
            cells.append(workflow)
            cells.append(f"{row.checked}/{row.sent}" + (f" (stopped after {row.stopped_after})" if row.stopped_after else ""))
            odd = row.undocumented_statuses
            cells.append(f"{len(row.statuses_covered)}/{len(info.statuses)}" + (f" (+{','.join(map(str, odd))})" if odd else ""))
            cells.append(f"{len(row.params)}/{len(info.params)}" if info.params else "\u2013")
            out.append("| " + " | ".join(cells) + " |")
        if not rows:
            out.append("| " + " | ".join(["\u2013"] * len(header)) + " |")
        out.append("")
        failures = numbering.of_api(api)
        if failures or api.unattributed:
            out += [f"### Failures ({api.api})", ""]
        for number, row, column, failure in failures:
            out += _md_failure("F", number, row, column, failure)
        for failure in api.unattributed:
            out += [f"- `{failure.test}` failed before making any request: {_md(failure.title)}", ""]
        warned = warnings.of_api(api)
        if warned:
            out += [
                f"### Warnings: where the target differs from medimock's conventions ({api.api})",
                "",
                "The vendor document does not decide these; they fail only in strict mode (`--medimock-strict`).",
                "",
            ]
        for number, row, column, warning in warned:
            out += _md_failure("W", number, row, column, warning)
    if not report.apis:
        out += ["No API was tested.", ""]
    return "\n".join(out).rstrip() + "\n"


def _md_failure(prefix: str, number: int, row: OperationResult, column: str, failure: Failure) -> list[str]:
    what = {WORKFLOWS: "workflow test", "error": "property test error"}.get(column, f"`{column}`")
    status = f" → {failure.status}" if failure.status is not None else ""
    tier = f" · {_md(tier_label(failure))}" if failure.tier else ""
    out = [
        f'<a id="{prefix.lower()}{number}"></a>**{prefix}{number}** · `{row.info.label}`{status} · {what}{tier}: {_md(failure.title)}',
        "",
    ]
    if failure.message and failure.message != failure.title:
        out += ["```text", failure.message.strip(), "```", ""]
    if failure.curl:
        out += ["```sh", failure.curl, "```", ""]
    if failure.test:
        out += [f"test: `{failure.test}`", ""]
    return out


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
