"""``medimock diff``: one scenario against two targets in lockstep, every difference explained.

    medimock diff --api tscharts --a URL --b URL [--scenario workflows|recording|property ...]
                  [--recording FILE] [--report DIR] [--fail-on status,shape,...]
    (``make diff API=.. A=.. B=..``)

A and B are roots serving the API at medimock's mounts (the mock itself, a proxy, a real
deployment). Design: ``engine.py`` (lockstep, identity mapping, safety), ``compare.py``
(normalisation and classification), ``rules.py`` + ``rules/<api>.yaml`` (what is an identity, what
is volatile, which lists keep their order), ``sources.py`` (the three scenarios), ``mirror.py`` (the
workflows' pytest plugin), ``tiers.py`` (who decides: the document or a convention), ``report.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

KINDS = ("status", "content-type", "body-presence", "shape", "value", "order", "header")
SCENARIOS = ("workflows", "recording", "property")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mockserver.config import ALL_APIS

    parser.description = (
        "Play one scenario against two targets in lockstep (identities each side creates mapped, credentials per side), "
        "compare every pair of replies after normalisation, and report each difference once: its kind, both curls, both "
        "replies, the step, and whether the vendor document decides who is right (a cited line) or it is a convention."
    )
    parser.epilog = (
        "exit codes: 0 no difference of a --fail-on kind, 1 such differences, 2 a usage error or a target that cannot be reached"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--api", required=True, choices=ALL_APIS, help="the API to compare")
    parser.add_argument("--a", required=True, metavar="URL", help="root of target A (serving the API at medimock's mounts)")
    parser.add_argument("--b", required=True, metavar="URL", help="root of target B")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="workflows (the contract suite's workflows, sent to A and mirrored to B), recording (--recording FILE), "
        "property (seeded schemathesis cases of the read-only operations); repeatable; default workflows "
        "(recording when --recording is given)",
    )
    parser.add_argument("--recording", metavar="FILE", help="a recording of `medimock proxy --record` or medimock.intercept")
    parser.add_argument("--a-auth", metavar="VALUE", help="Authorization header value for A (e.g. 'Token abc')")
    parser.add_argument("--b-auth", metavar="VALUE", help="Authorization header value for B")
    parser.add_argument(
        "--a-credentials", metavar="JSON|FILE", help="A's credentials (the names of medimock.target.CREDENTIAL_ENV) over its control API's"
    )
    parser.add_argument("--b-credentials", metavar="JSON|FILE", help="B's credentials, likewise")
    parser.add_argument("--rules", metavar="FILE", help="normalisation rules (default: the API's medimock/diff/rules/<api>.yaml)")
    parser.add_argument("--seed", type=int, default=0, help="the property scenario's seed (default 0)")
    parser.add_argument("--examples", type=int, default=3, help="property cases per operation and mode (default 3)")
    parser.add_argument("--max-operations", type=int, help="property: at most this many operations (Ambra has hundreds)")
    parser.add_argument("-k", dest="select", metavar="EXPR", help="workflows: only the tests pytest's -k EXPR selects")
    parser.add_argument("--report", metavar="DIR", default="reports/diff", help="where diff.md/.html/.json and diff-junit.xml go")
    parser.add_argument(
        "--fail-on", default="status,content-type,body-presence,shape,value,order,header", help="kinds that make the exit code 1"
    )


def _credentials(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    text = Path(value).read_text() if not value.lstrip().startswith("{") else value
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("credentials: a JSON object expected")
    return data


def run(args: argparse.Namespace) -> int:
    from medimock.contract import unreachable

    from . import report as reporting
    from .roles import pair_by_role
    from .rules import RulesError, load_rules
    from .setup import build_lockstep, side_settings
    from .sources import SourceError, run_property, run_recording, run_workflows

    fail_on = {kind.strip() for kind in args.fail_on.split(",") if kind.strip()}
    if fail_on - set(KINDS):
        print(f"medimock diff: --fail-on: unknown kind {sorted(fail_on - set(KINDS))[0]!r} (known: {', '.join(KINDS)})", file=sys.stderr)
        return 2
    scenarios = args.scenario or (["recording"] if args.recording else ["workflows"])
    if "recording" in scenarios and not args.recording:
        print("medimock diff: --scenario recording needs --recording FILE", file=sys.stderr)
        return 2
    for name, url in (("A", args.a), ("B", args.b)):
        why = unreachable(url)
        if why:
            print(f"medimock diff: {name} ({url}) cannot be reached: {why}", file=sys.stderr)
            return 2
    try:
        load_rules(args.api, args.rules)
        settings = {
            "api": args.api,
            "rules": args.rules,
            "a": side_settings("A", args.a, auth=args.a_auth, credentials=_credentials(args.a_credentials), api=args.api),
            "b": side_settings("B", args.b, auth=args.b_auth, credentials=_credentials(args.b_credentials), api=args.api),
        }
    except (RulesError, ValueError, OSError) as exc:
        print(f"medimock diff: {exc}", file=sys.stderr)
        return 2
    steps: list[dict[str, Any]] = []
    notes: list[str] = [f"pairing: {note}" for note in pair_by_role(args.api, settings["a"], settings["b"])]
    try:
        for scenario in scenarios:
            if scenario == "workflows":
                found, more = run_workflows(settings, args.api, select=args.select)
                steps += found
                notes += more
                continue
            lockstep = build_lockstep(settings, reference_is_a=False)
            if scenario == "recording":
                notes += run_recording(lockstep, args.recording, args.api)
            else:
                notes += run_property(lockstep, args.api, seed=args.seed, examples=args.examples, max_operations=args.max_operations)
            notes += [f"{scenario}: cleanup: {line}" for line in lockstep.cleanup_report()]
            offset = len(steps)
            for result in lockstep.results:
                result.index += offset
                result.label = f"{scenario}: {result.label}"
                steps.append(reporting.result_record(result))
    except SourceError as exc:
        print(f"medimock diff: {exc}", file=sys.stderr)
        return 2
    report = reporting.build(args.api, args.a, args.b, scenarios, steps, notes, fail_on)
    written = reporting.write(report, args.report)
    print(reporting.markdown(report).split("\n## 1.", 1)[0])
    print(f"report: {', '.join(str(p) for p in written)}")
    return 1 if report["gating"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medimock diff")
    add_arguments(parser)
    return run(parser.parse_args(argv))
