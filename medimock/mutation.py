"""Mutation testing of the contract suites: does each suite catch each deliberate defect?

    medimock mutation [--api clarius] [--defect NAME] [--examples 10] [--out reports/mutation.md]
    (``make mutation`` writes contracts/MUTATION.md)

For every defect the mock knows (``python -m mockserver defects``), the API's contract
suite runs against the embedded mock with that one defect switched on and strict mode
OFF (so the suite's own checks must find it, not the mock's self-validation). A
defect is *caught* when the suite fails; the report names the first failing test.
A suite that passes against a defect is a gap: it gets a new test, or an explanation
in the report. The run exits 1 when any defect escaped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .contract import child_environment, pytest_command, suites_root
from .mutation_score import section_of

_FAILED = re.compile(r"^(?:SUB)?FAILED (.+?)(?: - (.*))?$", re.MULTILINE)


@dataclass
class Outcome:
    api: str
    name: str
    description: str
    caught: bool
    caught_by: str
    why: str
    seconds: float


def defects(apis: list[str] | None) -> list[dict[str, str]]:
    command = [sys.executable, "-m", "mockserver", "defects"] + [f"--api={api}" for api in apis or []]
    return list(json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout))


def run_contract_suite(
    api: str,
    defect: str,
    *pytest_args: str,
    examples: int = 10,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    strict: bool = True,
) -> subprocess.CompletedProcess[str]:
    """One run of an API's contract suite against the embedded mock with ``defect`` switched on ("": the clean mock).

    The mock's own strict mode is off, so only the suite's own checks can catch the defect. The suite
    runs strict (``MEDIMOCK_STRICT=1``: conventions fail too), since the mock follows every convention:
    a defect that breaks only a convention is caught here and named as such in the report. No configured target
    (``MEDIMOCK_TARGET``, the API's URL, a control URL) is inherited, and the run writes no conformance
    report over the caller's. ``env`` adds variables (e.g. an API's own example budget).
    """
    environ = dict(os.environ)
    environ.update(
        MEDIMOCK_EMBEDDED_ARGS=f"--api {api}" + (f" --defect {defect}" if defect else ""),
        MEDIMOCK_EMBEDDED_STRICT="0",
        MEDIMOCK_CONFORMANCE_REPORT="off",
        MEDIMOCK_CONTRACT_EXAMPLES=str(examples),
        MEDIMOCK_STRICT="1" if strict else "0",
        **(env or {}),
    )
    for variable in ("MEDIMOCK_TARGET", "MEDIMOCK_CONTROL_URL", f"MEDIMOCK_{api.upper()}_URL"):
        environ.pop(variable, None)
    command = pytest_command([api], extra=["-q", "-p", "no:randomly", *pytest_args])
    return subprocess.run(command, cwd=suites_root(), env=child_environment(environ), capture_output=True, text=True, timeout=timeout)


def run_one(defect: dict[str, str], examples: int) -> Outcome:
    """One suite run; ``defect["name"]`` empty runs the clean mock (the baseline, which must pass)."""
    started = time.monotonic()
    result = run_contract_suite(defect["api"], defect["name"], "-x", "--no-header", examples=examples)
    seconds = time.monotonic() - started
    failed = _FAILED.search(result.stdout)
    caught = result.returncode == 1 and failed is not None
    by = failed.group(1) if failed else ""
    why = (failed.group(2) or "").strip() if failed else ""
    if result.returncode not in (0, 1):
        why = f"the suite could not run (exit {result.returncode}): {result.stdout[-300:]} {result.stderr[-300:]}"
    return Outcome(defect["api"], defect["name"], defect["description"], caught, by, why[:160], seconds)


def render(outcomes: list[Outcome], examples: int, baselines: list[Outcome] | None = None) -> str:
    caught = sum(o.caught for o in outcomes)
    clean = ", ".join(
        f"{b.api} {'passes' if not b.caught and not b.why else '**FAILS**: ' + (b.caught_by or b.why)} ({b.seconds:.0f} s)"
        for b in baselines or []
    )
    lines = [
        "# Mutation test of the contract suites",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `make mutation` (`medimock mutation --examples {examples}`)",
        f"- result: **{caught} of {len(outcomes)} defects caught**",
        f"- baseline (each suite against the clean mock, strict mode off; a defect only counts as caught when it passes): {clean or 'not run'}",
        "",
        "Each row is one run of the API's contract suite against the mock with that one defect",
        "switched on and strict mode off.",
        "",
        "| API | defect | what it breaks | caught | first failing test | seconds |",
        "|---|---|---|---|---|---:|",
    ]
    for o in outcomes:
        test = f"`{o.caught_by.split('::', 1)[-1]}`" if o.caught_by else (o.why or "-")
        lines.append(f"| {o.api} | `{o.name}` | {o.description} | {'yes' if o.caught else '**NO**'} | {test} | {o.seconds:.0f} |")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Does each contract suite catch each deliberate defect? Runs the API's suite against medimock's own mock with one "
        "defect at a time switched on (`medimock serve --defect NAME`) and strict mode off, after a baseline run against the "
        "clean mock, and writes a Markdown report."
    )
    parser.epilog = "exit codes: 0 every defect was caught, 1 a defect escaped, 2 a suite fails against the clean mock (or a usage error)"
    parser.add_argument("--api", action="append", help="only this API's defects (repeatable)")
    parser.add_argument("--defect", action="append", help="only this defect (repeatable; `medimock defects` lists them)")
    parser.add_argument("--examples", type=int, default=10, help="schemathesis examples per operation (default 10)")
    parser.add_argument("--out", default="reports/mutation.md", help="the report (default reports/mutation.md)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medimock mutation")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    chosen = [d for d in defects(args.api) if not args.defect or d["name"] in args.defect]
    baselines = []
    for api in sorted({d["api"] for d in chosen}):
        baseline = run_one({"api": api, "name": "", "description": ""}, args.examples)
        baselines.append(baseline)
        print(
            f"{'baseline' if not baseline.caught and not baseline.why else 'BASELINE FAILS'} {api:42} {baseline.seconds:5.0f} s  {baseline.caught_by}"
        )
        if baseline.caught or baseline.why:
            print(f"{api}: the suite fails against the clean mock, so its defects cannot be judged", file=sys.stderr)
            return 2
    outcomes = []
    for defect in chosen:
        outcome = run_one(defect, args.examples)
        outcomes.append(outcome)
        print(f"{'caught ' if outcome.caught else 'ESCAPED'} {outcome.name:50} {outcome.seconds:5.0f} s  {outcome.caught_by}", flush=True)
    report = render(outcomes, args.examples, baselines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    # the independent score's section (medimock mutation-score --record) stays when the planted defects' report is rewritten
    kept = section_of(Path(args.out).read_text()) if Path(args.out).exists() else ""
    Path(args.out).write_text(report + ("\n" + kept + "\n" if kept else ""))
    print(report)
    print(f"report: {args.out}")
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
