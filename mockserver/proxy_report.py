"""The validating proxy's report: per operation, the requests seen and the violations by kind, with examples.

Kept in memory while the proxy runs (bounded: one example and a few distinct messages per
operation and kind, at most ``MAX_UNDOCUMENTED`` undocumented paths), rendered as Markdown,
HTML or JSON on demand (``GET /__mock__/proxy/report``) and on shutdown (``--report FILE``).
Self-contained on purpose: it depends on nothing but the spec.

This module imports no Flask.
"""

from __future__ import annotations

import html
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .recording import timestamp
from .spec import ApiSpec, Operation

MAX_UNDOCUMENTED = 200  # distinct undocumented "METHOD /path" keys kept; the rest are counted together
MAX_MESSAGES = 20  # distinct messages kept per operation and kind
SHOWN_MESSAGES = 5

KIND_DESCRIPTIONS = {
    "undocumented_operation": "the spec has no operation for this method and path (forwarded anyway)",
    "invalid_request": "a parameter or body field breaks the operation's schema",
    "unsupported_media_type": "the request body's content type is not one the operation accepts",
    "malformed_body": "the request body cannot be decoded as its content type says",
    "missing_credentials": "the request carries none of the credentials the operation's security requires",
    "undocumented_status": "the upstream answered a status code the operation does not document",
    "undocumented_content_type": "the upstream answered a content type the status does not document",
    "response_schema": "the upstream's body breaks the documented schema",
    "malformed_response_body": "the upstream's body is not valid in its declared content type",
    "missing_body": "the status documents a body, but the upstream sent none",
    "unexpected_body": "the status documents no body, but the upstream sent one",
    "auth_not_enforced": "the upstream answered 2xx to a request without the required credentials",
}

_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(?=[^/]*\d)[A-Za-z0-9_.~=%-]{16,})$"
)
_INDEX = re.compile(r"(?<=/)\d+(?=/|$)|^\d+(?=/|$)")


def undocumented_key(method: str, path: str) -> str:
    """``GET /api/x/123/`` -> ``GET /api/x/{id}/``: ids in undocumented paths do not make new rows."""
    segments = ["{id}" if segment and _ID_SEGMENT.match(segment) else segment for segment in path.split("/")]
    return f"{method} {'/'.join(segments)}"


@dataclass
class KindStats:
    count: int = 0
    requests: int = 0
    example: dict[str, Any] | None = None
    messages: Counter[str] = field(default_factory=Counter)


@dataclass
class OperationStats:
    key: str  # operationId, or "METHOD /path" when undocumented
    documented: bool
    method: str
    path: str  # the spec's template, or the (normalised) path
    requests: int = 0
    violating: int = 0
    upstream_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: dict[str, KindStats] = field(default_factory=dict)


class ProxyReport:
    def __init__(self, spec: ApiSpec, *, mount: str, upstream: str) -> None:
        self.spec = spec
        self.mount = mount
        self.upstream = upstream
        self.started = time.time()
        self._operations: dict[str, OperationStats] = {}
        self._lock = threading.Lock()

    def add(
        self,
        *,
        operation: Operation | None,
        method: str,
        path: str,
        query: str,
        status: int,
        violations: list[dict[str, Any]],
        upstream_error: str | None = None,
    ) -> None:
        """Count one exchange (``query`` already redacted; ``violations`` already scrubbed)."""
        with self._lock:
            stats = self._stats(operation, method, path)
            stats.requests += 1
            stats.statuses[status] += 1
            if upstream_error:
                stats.upstream_errors += 1
            if violations:
                stats.violating += 1
            seen_kinds = set()
            for violation in violations:
                kind = stats.kinds.setdefault(violation["kind"], KindStats())
                kind.count += 1
                if violation["kind"] not in seen_kinds:
                    kind.requests += 1
                    seen_kinds.add(violation["kind"])
                message = _message(violation)
                if message in kind.messages or len(kind.messages) < MAX_MESSAGES:
                    kind.messages[message] += 1
                if kind.example is None:
                    kind.example = {
                        "request": f"{method} {path}" + (f"?{query}" if query else ""),
                        "status": status,
                        "where": violation.get("where"),
                        "field": violation.get("field") or None,
                        "message": violation["message"],
                    }

    def _stats(self, operation: Operation | None, method: str, path: str) -> OperationStats:
        if operation is not None:
            key, documented, shown_path = operation.operation_id, True, self.mount + operation.path
            method = operation.method
        else:
            key, documented, shown_path = undocumented_key(method, path), False, undocumented_key(method, path).split(" ", 1)[1]
            undocumented = sum(1 for s in self._operations.values() if not s.documented)
            if key not in self._operations and undocumented >= MAX_UNDOCUMENTED:
                key, shown_path, method = "(other undocumented paths)", "*", "*"
        if key not in self._operations:
            self._operations[key] = OperationStats(key, documented, method, shown_path)
        return self._operations[key]

    # -- views ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The report as JSON: totals, then one entry per operation seen (spec order, undocumented last)."""
        with self._lock:
            order = {op.operation_id: index for index, op in enumerate(self.spec.operations)}
            operations = sorted(self._operations.values(), key=lambda s: (not s.documented, order.get(s.key, 0), s.key))
            out_ops = []
            totals: Counter[str] = Counter()
            kind_totals: Counter[str] = Counter()
            for stats in operations:
                totals["requests"] += stats.requests
                totals["violating_requests"] += stats.violating
                totals["upstream_errors"] += stats.upstream_errors
                for name, kind in stats.kinds.items():
                    totals["violations"] += kind.count
                    kind_totals[name] += kind.count
                out_ops.append(
                    {
                        "operation": stats.key,
                        "documented": stats.documented,
                        "method": stats.method,
                        "path": stats.path,
                        "requests": stats.requests,
                        "violating_requests": stats.violating,
                        "upstream_errors": stats.upstream_errors,
                        "statuses": {str(code): count for code, count in sorted(stats.statuses.items())},
                        "violations": {
                            name: {
                                "count": kind.count,
                                "requests": kind.requests,
                                "example": kind.example,
                                "messages": [{"message": m, "count": c} for m, c in kind.messages.most_common(SHOWN_MESSAGES)],
                            }
                            for name, kind in sorted(stats.kinds.items())
                        },
                    }
                )
            seen = {s.key for s in operations if s.documented}
            return {
                "api": self.spec.name,
                "upstream": self.upstream,
                "mount": self.mount or "/",
                "spec": str(self.spec.path),
                "started": timestamp(self.started),
                "generated": timestamp(),
                "totals": {
                    "requests": totals["requests"],
                    "violating_requests": totals["violating_requests"],
                    "violations": totals["violations"],
                    "upstream_errors": totals["upstream_errors"],
                    "documented_operations": len(self.spec.operations),
                    "operations_exercised": len(seen),
                },
                "violations_by_kind": dict(sorted(kind_totals.items())),
                "operations": out_ops,
                "not_exercised": [op.operation_id for op in self.spec.operations if op.operation_id not in seen],
            }

    def markdown(self) -> str:
        return render_markdown(self.snapshot())

    def html(self) -> str:
        return render_html(self.snapshot())

    def render(self, fmt: str) -> str:
        if fmt == "html":
            return self.html()
        if fmt == "json":
            import json

            return json.dumps(self.snapshot(), indent=2) + "\n"
        return self.markdown()

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report (HTML for ``.html``/``.htm``, JSON for ``.json``, Markdown otherwise), atomically."""
        target = Path(path)
        suffix = target.suffix.lower()
        fmt = "html" if suffix in (".html", ".htm") else "json" if suffix == ".json" else "markdown"
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(self.render(fmt), encoding="utf-8")
        os.replace(temporary, target)
        return target


def _message(violation: dict[str, Any]) -> str:
    """A violation's message, with array indices in its field folded (``results/*/download_url``)."""
    where = violation.get("field") or ""
    folded = _INDEX.sub("*", where) if where else ""
    return f"{folded}: {violation['message']}" if folded else str(violation["message"])


# -- Markdown ---------------------------------------------------------------------------------
def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: Any) -> str:
    value = " ".join(str(text).split())
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}" if fence == "`" else f"{fence} {value} {fence}"


def _statuses(statuses: dict[str, int]) -> str:
    return ", ".join(f"{code} x{count}" if count > 1 else code for code, count in statuses.items())


def render_markdown(report: dict[str, Any]) -> str:
    totals = report["totals"]
    lines = [
        f"# medimock proxy report: {report['api']}",
        "",
        f"Upstream {_code(report['upstream'])} at mount {_code(report['mount'])}, spec {_code(report['spec'])}; "
        f"from {report['started']} to {report['generated']}.",
        "",
        f"**{totals['requests']} requests, {totals['violating_requests']} with violations "
        f"({totals['violations']} violations), {totals['upstream_errors']} upstream errors.** "
        f"{totals['operations_exercised']} of {totals['documented_operations']} documented operations exercised.",
        "",
    ]
    if report["violations_by_kind"]:
        lines += ["| kind | violations | meaning |", "|---|---:|---|"]
        lines += [
            f"| `{kind}` | {count} | {_cell(KIND_DESCRIPTIONS.get(kind, ''))} |" for kind, count in report["violations_by_kind"].items()
        ]
        lines.append("")
    else:
        lines += ["No violations: every request and response seen agrees with the spec.", ""]
    if report["operations"]:
        lines += [
            "## Operations",
            "",
            "| operation | method and path | requests | statuses | violating requests | violations by kind | upstream errors |",
            "|---|---|---:|---|---:|---|---:|",
        ]
        for op in report["operations"]:
            name = f"`{op['operation']}`" if op["documented"] else "*undocumented*"
            kinds = ", ".join(f"{kind} x{v['count']}" for kind, v in op["violations"].items()) or "—"
            lines.append(
                f"| {name} | {_cell(op['method'])} {_code(op['path'])} | {op['requests']} | {_statuses(op['statuses'])} | "
                f"{op['violating_requests']} | {_cell(kinds)} | {op['upstream_errors']} |"
            )
        lines.append("")
    violating = [op for op in report["operations"] if op["violations"]]
    if violating:
        lines += ["## Violations", ""]
        for op in violating:
            title = (
                f"`{op['operation']}` — {op['method']} {_code(op['path'])}"
                if op["documented"]
                else f"undocumented: {_code(op['method'] + ' ' + op['path'])}"
            )
            lines += [f"### {title}", ""]
            for kind, stats in op["violations"].items():
                example = stats["example"] or {}
                lines.append(
                    f"- **{kind}**: {stats['count']} in {stats['requests']} of {op['requests']} requests. Example: {_code(example.get('request', ''))} → {example.get('status')}: {_cell(_example_text(example))}"
                )
                for entry in stats["messages"]:
                    lines.append(f"  - {entry['count']}x {_cell(entry['message'])}")
            lines.append("")
    if report["not_exercised"]:
        names = ", ".join(f"`{name}`" for name in report["not_exercised"])
        lines += [f"## Not exercised ({len(report['not_exercised'])})", ""]
        lines += (
            [names, ""]
            if len(report["not_exercised"]) <= 30
            else ["<details><summary>operations</summary>", "", names, "", "</details>", ""]
        )
    return "\n".join(lines)


def _example_text(example: dict[str, Any]) -> str:
    where = f"{example['field']}: " if example.get("field") else ""
    return f"{where}{example.get('message', '')}"


# -- HTML -------------------------------------------------------------------------------------
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}code{background:#f6f6f6;padding:0 .2em}
.bad{color:#a40000}.ok{color:#096b00}details{margin:.5em 0}
"""


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    totals = report["totals"]
    verdict = (
        '<p class="ok">No violations: every request and response seen agrees with the spec.</p>' if not report["violations_by_kind"] else ""
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>medimock proxy report: {e(report['api'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>medimock proxy report: {e(report['api'])}</h1>",
        f"<p>Upstream <code>{e(report['upstream'])}</code> at mount <code>{e(report['mount'])}</code>, spec "
        f"<code>{e(report['spec'])}</code>; from {e(report['started'])} to {e(report['generated'])}.</p>",
        f"<p><strong>{totals['requests']} requests, {totals['violating_requests']} with violations "
        f"({totals['violations']} violations), {totals['upstream_errors']} upstream errors.</strong> "
        f"{totals['operations_exercised']} of {totals['documented_operations']} documented operations exercised.</p>",
        verdict,
    ]
    if report["violations_by_kind"]:
        parts.append("<table><tr><th>kind</th><th>violations</th><th>meaning</th></tr>")
        for kind, count in report["violations_by_kind"].items():
            parts.append(f'<tr><td><code>{e(kind)}</code></td><td class="n">{count}</td><td>{e(KIND_DESCRIPTIONS.get(kind, ""))}</td></tr>')
        parts.append("</table>")
    if report["operations"]:
        parts.append(
            "<h2>Operations</h2><table><tr><th>operation</th><th>method and path</th><th>requests</th><th>statuses</th>"
            "<th>violating requests</th><th>violations by kind</th><th>upstream errors</th></tr>"
        )
        for op in report["operations"]:
            name = f"<code>{e(op['operation'])}</code>" if op["documented"] else "<em>undocumented</em>"
            kinds = ", ".join(f"{e(kind)} x{v['count']}" for kind, v in op["violations"].items()) or "—"
            css = ' class="bad"' if op["violations"] else ""
            parts.append(
                f'<tr{css}><td>{name}</td><td>{e(op["method"])} <code>{e(op["path"])}</code></td><td class="n">{op["requests"]}</td>'
                f'<td>{e(_statuses(op["statuses"]))}</td><td class="n">{op["violating_requests"]}</td><td>{kinds}</td>'
                f'<td class="n">{op["upstream_errors"]}</td></tr>'
            )
        parts.append("</table>")
    violating = [op for op in report["operations"] if op["violations"]]
    if violating:
        parts.append("<h2>Violations</h2>")
        for op in violating:
            title = (
                f"<code>{e(op['operation'])}</code> — {e(op['method'])} <code>{e(op['path'])}</code>"
                if op["documented"]
                else f"undocumented: <code>{e(op['method'] + ' ' + op['path'])}</code>"
            )
            parts.append(f"<h3>{title}</h3><ul>")
            for kind, stats in op["violations"].items():
                example = stats["example"] or {}
                messages = "".join(f"<li>{entry['count']}x {e(entry['message'])}</li>" for entry in stats["messages"])
                parts.append(
                    f"<li><strong>{e(kind)}</strong>: {stats['count']} in {stats['requests']} of {op['requests']} requests. "
                    f"Example: <code>{e(example.get('request', ''))}</code> → {e(str(example.get('status')))}: {e(_example_text(example))}"
                    f"<ul>{messages}</ul></li>"
                )
            parts.append("</ul>")
    if report["not_exercised"]:
        names = ", ".join(f"<code>{e(name)}</code>" for name in report["not_exercised"])
        parts.append(f"<details><summary>Not exercised ({len(report['not_exercised'])})</summary><p>{names}</p></details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
