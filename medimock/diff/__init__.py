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
import copy
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
    parser.add_argument(
        "--b",
        required=True,
        action="append",
        metavar="URL",
        help="root of target B; repeatable: the same scenario against several Bs at once (the workflows run once against A, "
        "each request mirrored to every B), each B's report in DIR/b1, DIR/b2... (--b-auth and --b-credentials apply to every B)",
    )
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
    parser.add_argument(
        "--data",
        choices=("auto", "same", "own"),
        default="auto",
        help="same: both sides hold the same data (two medimocks with one seed and profile, freshly started or reset; a "
        "server loaded with the mock's fixtures): every value is compared, lists item by item; own: each side its own data: "
        "values compared only for what the scenario wrote and reads back, seeded objects paired by role; auto (default): "
        "same when both sides are medimocks reporting the same seed and profile, else own",
    )
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
    bs = list(args.b)
    for name, url in (("A", args.a), *((f"B{n}" if len(bs) > 1 else "B", b) for n, b in enumerate(bs, 1))):
        why = unreachable(url)
        if why:
            print(f"medimock diff: {name} ({url}) cannot be reached: {why}", file=sys.stderr)
            return 2
    try:
        load_rules(args.api, args.rules)
        a_side = side_settings("A", args.a, auth=args.a_auth, credentials=_credentials(args.a_credentials), api=args.api)
        b_credentials = _credentials(args.b_credentials)
        b_sides = [side_settings("B", b, auth=args.b_auth, credentials=b_credentials, api=args.api) for b in bs]
    except (RulesError, ValueError, OSError) as exc:
        print(f"medimock diff: {exc}", file=sys.stderr)
        return 2
    modes = [data_mode(args.data, a_side, b) for b in b_sides]
    paired, suite_a = _pair_every_b(args.api, a_side, b_sides, [mode == "same" for mode, _ in modes])
    runs = [
        ({"api": args.api, "rules": args.rules, "a": a, "b": b, "data": mode}, [why, *notes])
        for (a, b, notes), (mode, why) in zip(paired, modes, strict=True)
    ]
    results: list[tuple[list[dict[str, Any]], list[str]]] = [([], notes) for _, notes in runs]
    try:
        for scenario in scenarios:
            if scenario == "workflows":
                found = run_workflows({**runs[0][0], "a": suite_a, "bs": [settings for settings, _ in runs]}, args.api, select=args.select)
                for (steps, notes), (more_steps, more_notes) in zip(results, found, strict=True):
                    steps += more_steps
                    notes += more_notes
                continue
            for (settings, _), (steps, notes) in zip(runs, results, strict=True):
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
    gating = False
    for number, (b, (steps, notes)) in enumerate(zip(bs, results, strict=True), 1):
        report = reporting.build(args.api, args.a, b, scenarios, steps, notes, fail_on)
        written = reporting.write(report, args.report if len(bs) == 1 else Path(args.report) / f"b{number}")
        print(reporting.markdown(report).split("\n## 1.", 1)[0])
        print(f"report: {', '.join(str(p) for p in written)}")
        gating = gating or bool(report["gating"])
    return 1 if gating else 0


def data_mode(choice: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str]:
    """Whether the two sides hold the same data ("same") or each its own ("own"), and the report's note saying why."""
    if choice != "auto":
        return choice, f"data: {'the same on both sides' if choice == 'same' else 'each side its own'} (--data {choice})"
    first, second = _health(a.get("control")), _health(b.get("control"))
    if (
        first
        and second
        and first.get("seed") is not None
        and (first["seed"], first.get("profile")) == (second["seed"], second.get("profile"))
    ):
        why = f"two medimocks with seed {first['seed']}, profile {first.get('profile')}"
        if first.get("seed_time") and first.get("seed_time") == second.get("seed_time"):
            why += f", seed time {first['seed_time']}"
        else:
            why += (
                "; their data's times are relative to the moment each was seeded: a step that filters on such a time may "
                "select other objects (start both with one --seed-time)"
            )
        return "same", (
            f"data: the same on both sides ({why}): every value is compared, lists item by item (reset both first when "
            "either has served other clients)"
        )
    return "own", (
        "data: each side its own (not two medimocks with one seed and profile; --data same to override): values are compared "
        "for what the scenario wrote and reads back, seeded objects paired by role"
    )


def _health(control: str | None) -> dict[str, Any] | None:
    if not control:
        return None
    import requests

    try:
        reply = requests.get(control.rstrip("/") + "/__mock__/health", timeout=10)
        body = reply.json() if reply.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _pair_every_b(
    api: str, a: dict[str, Any], bs: list[dict[str, Any]], same: list[bool]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any], list[str]]], dict[str, Any]]:
    """Each B's own data paired by role with A's (roles.py; not a B holding A's very data). With several Bs, A's inputs
    are what every pairing kept (the workflows run once against A): a first pass narrows A, a second pairs each B with
    that A. Returns, per B, the A and B settings as paired and the pairing notes, and the A the workflows run against."""
    from .roles import pair_by_role

    suite_a = copy.deepcopy(a)
    if len(bs) > 1:
        for b, alike in zip(bs, same, strict=True):
            if not alike:
                pair_by_role(api, suite_a, copy.deepcopy(b))
    runs = []
    for b, alike in zip(bs, same, strict=True):
        paired_a = copy.deepcopy(suite_a)
        notes = [] if alike else [f"pairing: {note}" for note in pair_by_role(api, paired_a, b)]
        if paired_a["credentials"] != suite_a["credentials"]:
            notes.append("pairing: this B left out more of A's objects than the others: the workflows use what the others kept")
        runs.append((paired_a, b, notes))
    if len(bs) == 1:
        suite_a = runs[0][0]
    return runs, suite_a


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medimock diff")
    add_arguments(parser)
    return run(parser.parse_args(argv))
