"""The diff report: every difference once, with both curls, both replies (trimmed), the step and the tier.

A difference is reported once however many steps show it: the key is (kind, method, path template,
where, detail without values); the first step is shown with its requests and replies, the number of
further steps is counted. Markdown, HTML, JSON and a JUnit file (one test case per difference; those
of a ``--fail-on`` kind are failures, the others skipped-with-message), in the conformance report's
family (``medimock.conformance.render`` is for one target, this is for two).
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .engine import StepResult, curl


def result_record(result: StepResult) -> dict[str, Any]:
    def side(exchange: Any) -> dict[str, Any]:
        reply = exchange.reply
        return {
            "curl": curl(exchange),
            "status": reply.status if reply else None,
            "content_type": reply.content_type if reply else None,
            "body": reply.preview() if reply else "",
            "error": exchange.error,
            "skipped": exchange.skipped,
        }

    return {
        "index": result.index,
        "label": result.label,
        "method": result.method,
        "template": result.template,
        "operation_id": result.operation_id,
        "tier": result.tier,
        "source": result.source,
        "a": side(result.a),
        "b": side(result.b),
        "differences": [asdict(d) for d in result.differences],
    }


def aggregate(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Differences, once each, in the order first seen."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for step in steps:
        for difference in step["differences"]:
            detail = difference["detail"]
            key = (difference["kind"], step["method"], step["template"], difference["where"], detail)
            if key in found:
                found[key]["occurrences"] += 1
                continue
            found[key] = {
                **difference,
                "method": step["method"],
                "operation": f"{step['method']} {step['template']}",
                "operation_id": step["operation_id"],
                "step": step["index"],
                "label": step["label"],
                "tier": difference.get("tier") or step["tier"],
                "source": difference.get("source") or step["source"],
                "a_side": step["a"],
                "b_side": step["b"],
                "occurrences": 1,
            }
    return list(found.values())


def build(
    api: str, a: str, b: str, scenarios: list[str], steps: list[dict[str, Any]], notes: list[str], fail_on: set[str]
) -> dict[str, Any]:
    differences = aggregate(steps)
    skipped = [f"step {s['index']} ({s['label']}): {s[x]['skipped']}" for s in steps for x in ("a", "b") if s[x]["skipped"]]
    errors = [f"step {s['index']} ({s['label']}): {x.upper()}: {s[x]['error']}" for s in steps for x in ("a", "b") if s[x]["error"]]
    return {
        "api": api,
        "a": a,
        "b": b,
        "scenarios": scenarios,
        "steps": len(steps),
        "compared": sum(1 for s in steps if s["a"]["status"] is not None and s["b"]["status"] is not None),
        "differences": differences,
        "gating": [d for d in differences if d["kind"] in fail_on],
        "fail_on": sorted(fail_on),
        "notes": notes + skipped + errors,
        "log": [_log_entry(s) for s in steps],
    }


def _log_entry(step: dict[str, Any]) -> dict[str, Any]:
    """One line per step in the JSON report: what was sent to each side and what came back."""
    return {
        "step": step["index"],
        "label": step["label"],
        "a": {"curl": step["a"]["curl"], "status": step["a"]["status"], "skipped": step["a"]["skipped"]},
        "b": {"curl": step["b"]["curl"], "status": step["b"]["status"], "skipped": step["b"]["skipped"]},
        "differences": len(step["differences"]),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# medimock diff: {report['api']}",
        "",
        f"- A: {report['a']}",
        f"- B: {report['b']}",
        f"- scenarios: {', '.join(report['scenarios'])}; {report['steps']} steps, {report['compared']} compared",
        f"- **{len(report['differences'])} differences** ({_count(report['differences'])}); "
        f"gating on {', '.join(report['fail_on']) or 'nothing'}: {len(report['gating'])}",
        "",
    ]
    if report["differences"]:
        lines += ["| # | kind | operation | where | A | B | who decides | steps |", "|---:|---|---|---|---|---|---|---:|"]
        for number, d in enumerate(report["differences"], 1):
            lines.append(
                f"| {number} | {d['kind']} | `{d['operation']}` | {_cell(d['where'] or '-')} | {_cell(d['a'])} | {_cell(d['b'])} | "
                f"{d['tier']}: {_cell(d['source'])} | {d['occurrences']} |"
            )
        lines.append("")
    for number, d in enumerate(report["differences"], 1):
        lines += [
            f"## {number}. {d['kind']}: {d['operation']} {d['where']}".rstrip(),
            "",
            f"{d['detail']} (first at step {d['step']}: {d['label']}; {d['occurrences']} step(s)). Who decides: **{d['tier']}**, {d['source']}.",
            "",
        ]
        for side in ("a", "b"):
            entry = d[f"{side}_side"]
            lines += [
                f"{side.upper()}: `{entry['status']}` {entry['content_type'] or ''}",
                "",
                "```",
                entry["curl"],
                "```",
                "",
                "```",
                entry["body"] or "(empty body)",
                "```",
                "",
            ]
    if report["notes"]:
        lines += ["## Notes", "", *[f"- {note}" for note in report["notes"]], ""]
    return "\n".join(lines)


def _count(differences: list[dict[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for d in differences:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    return ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"


def _cell(text: str) -> str:
    text = str(text).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:80] + "..."


def html_page(report: dict[str, Any]) -> str:
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(value))}</td>"
            for value in (
                number,
                d["kind"],
                d["operation"],
                d["where"],
                d["detail"],
                d["a"],
                d["b"],
                f"{d['tier']}: {d['source']}",
                d["occurrences"],
            )
        )
        + "</tr>"
        for number, d in enumerate(report["differences"], 1)
    )
    details = "".join(
        f"<section><h2>{number}. {html.escape(d['kind'])}: {html.escape(d['operation'])} {html.escape(d['where'])}</h2>"
        f"<p>{html.escape(d['detail'])} (step {d['step']}: {html.escape(d['label'])})</p>"
        + "".join(
            f"<h3>{side.upper()}: {d[side + '_side']['status']}</h3><pre>{html.escape(d[side + '_side']['curl'])}</pre>"
            f"<pre>{html.escape(d[side + '_side']['body'] or '(empty body)')}</pre>"
            for side in ("a", "b")
        )
        + "</section>"
        for number, d in enumerate(report["differences"], 1)
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"])
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>medimock diff: {html.escape(report['api'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px}"
        "pre{background:#f6f6f6;padding:6px;white-space:pre-wrap}</style></head><body>"
        f"<h1>medimock diff: {html.escape(report['api'])}</h1><p>A: {html.escape(report['a'])}<br>B: {html.escape(report['b'])}<br>"
        f"{report['steps']} steps, {len(report['differences'])} differences, {len(report['gating'])} gating</p>"
        "<table><tr><th>#</th><th>kind</th><th>operation</th><th>where</th><th>detail</th><th>A</th><th>B</th><th>who decides</th><th>steps</th></tr>"
        f"{rows}</table>{details}<h2>Notes</h2><ul>{notes}</ul></body></html>"
    )


def junit(report: dict[str, Any]) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"medimock diff {report['api']}",
        tests=str(max(1, len(report["differences"]))),
        failures=str(len(report["gating"])),
        skipped=str(len(report["differences"]) - len(report["gating"])),
    )
    if not report["differences"]:
        ET.SubElement(suite, "testcase", classname=f"diff.{report['api']}", name="no differences")
    for d in report["differences"]:
        case = ET.SubElement(
            suite, "testcase", classname=f"diff.{report['api']}.{d['kind']}", name=f"{d['operation']} {d['where']}".strip()
        )
        text = f"{d['detail']}\nA: {d['a']}\nB: {d['b']}\nwho decides: {d['tier']}: {d['source']}\n\n{d['a_side']['curl']}\n{d['b_side']['curl']}"
        if d["kind"] in report["fail_on"]:
            ET.SubElement(case, "failure", message=f"{d['kind']}: {d['detail']}").text = text
        else:
            ET.SubElement(case, "skipped", message=f"{d['kind']} (not gating): {d['detail']}").text = text
    return ET.tostring(ET.Element("testsuites", {}), encoding="unicode").replace(
        "<testsuites />", "<testsuites>" + ET.tostring(suite, encoding="unicode") + "</testsuites>"
    )


def write(report: dict[str, Any], folder: str | Path) -> list[Path]:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "diff.md": markdown(report),
        "diff.html": html_page(report),
        "diff.json": json.dumps(report, indent=2),
        "diff-junit.xml": '<?xml version="1.0" encoding="utf-8"?>\n' + junit(report),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    return [out / name for name in files]
