"""``medimock load``: run a Locust scenario headless, judge it against thresholds, write its reports.

    medimock load --api clarius|clarius-research|ambra [--target URL] [--users 10] [--spawn-rate 5] [--duration 30s]
        [--max-p95-ms 500] [--max-failure-ratio 0] [--min-rps 50] [--thresholds [FILE]]
        [--workers N] [--remote-workers M --master-bind-host 0.0.0.0] [--reports reports]

(``make load`` calls it; so does ``python -m medimock.loadtests.run``.) Without --target the
embedded mock is started on a free loopback port and stopped afterwards. Output, under
--reports: load-<api>_stats.csv (and the other Locust CSVs), load-<api>.html and load-<api>.txt
(a short summary with every threshold and its verdict); the last lines printed say where.

Thresholds (command line, or a YAML file; the command line wins) apply to the aggregate of all
requests, and a file may also set them per request name under ``requests:``. ``--thresholds``
without a file takes the scenario's own (thresholds.yaml for clarius, thresholds-<scenario>.yaml
for the others, shipped beside the scenarios). The exit code is 0 when every threshold holds, 1 when one is
breached or Locust failed, 2 for a usage error or a target that cannot be reached. The failure
ratio defaults to 0: any failed request fails the run.

``--workers N`` runs a Locust master and N local worker processes; with
``--remote-workers M`` the master also waits for M workers started on other hosts
(``locust -f <medimock>/loadtests/<api>.py --worker --master-host <this host>``; ``medimock load
--scenario-path`` prints the file).

Scenarios: ``clarius`` (clarius.py), ``clarius-research`` (clarius_research.py: the Research API of the
same mock) and ``ambra`` (ambra.py). Ambra keeps at most 10 sessions per user, so the Ambra users share
sessions: the Locust processes started here get AMBRA_SESSIONS (sessions per process) so that together
they open 8; give remote workers AMBRA_SESSIONS yourself (default 2 each).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
import yaml

from medimock.target import EmbeddedMock

SCENARIOS = {
    "clarius": Path(__file__).with_name("clarius.py"),
    "clarius-research": Path(__file__).with_name("clarius_research.py"),
    "ambra": Path(__file__).with_name("ambra.py"),
}
MOCK_API = {"clarius-research": "clarius"}  # the API of the mock a scenario needs, when its name is not one
# each scenario's own thresholds (what `--thresholds` without a file takes): thresholds-<scenario>.yaml, Clarius's thresholds.yaml
THRESHOLDS = {name: Path(__file__).with_name("thresholds.yaml" if name == "clarius" else f"thresholds-{name}.yaml") for name in SCENARIOS}
FINAL_STATS = Path(__file__).with_name("final_stats.py")  # a Locust plugin file loaded beside each scenario
BUILTIN = "<the scenario's own>"
AMBRA_SESSION_BUDGET = 8  # Ambra drops a user's oldest session beyond 10: the Locust processes share 8
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Load-test a server with a Locust scenario (headless), judge the run against thresholds, write reports."
    parser.epilog = (
        "exit codes: 0 every threshold holds, 1 a threshold is breached (or Locust failed), "
        "2 a usage error or a target that cannot be reached"
    )
    parser.add_argument("--api", required=True, choices=sorted(SCENARIOS), help="the scenario (one per API)")
    parser.add_argument(
        "--target", metavar="URL", help="the server's base URL, a root with medimock's mounts (default: start the embedded mock)"
    )
    parser.add_argument("--users", type=int, default=10, help="concurrent users (default 10)")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second (default 5)")
    parser.add_argument("--duration", default="30s", help="run time: 30s, 2m, 1h30m (default 30s)")
    parser.add_argument("--reports", default="reports", metavar="DIR", help="where the reports go (default reports/)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a target that is not on loopback (your own servers only)")
    parser.add_argument("--max-p95-ms", type=float, help="fail when the aggregate p95 latency exceeds this")
    parser.add_argument("--max-failure-ratio", type=float, help="fail when failed/total exceeds this (default 0)")
    parser.add_argument("--min-rps", type=float, help="fail when the aggregate throughput is below this")
    parser.add_argument(
        "--thresholds",
        nargs="?",
        const=BUILTIN,
        metavar="FILE",
        help="YAML file of thresholds (aggregate and per request name); without FILE, the scenario's own",
    )
    parser.add_argument("--workers", type=int, default=0, help="run distributed: a master and N local workers")
    parser.add_argument("--remote-workers", type=int, default=0, help="also wait for M workers on other hosts")
    parser.add_argument("--master-bind-host", default="127.0.0.1", help="interface the master listens on for workers")
    parser.add_argument(
        "--master-bind-port", type=int, help="port for workers (default: Locust's 5557 with remote workers, else a free one)"
    )
    parser.add_argument("--scenario-path", action="store_true", help="print the scenario's Locust file (for remote workers) and exit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medimock load")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    if args.scenario_path:
        print(SCENARIOS[args.api])
        return 0
    try:
        thresholds = load_thresholds(args)
    except (OSError, ValueError) as exc:
        print(f"thresholds: {exc}", file=sys.stderr)
        return 2
    if args.target:
        host = urlparse(args.target).hostname or ""
        if host not in LOOPBACK and not host.startswith("127.") and not args.allow_remote:
            print(
                f"refusing to load-test {args.target}: not a loopback address (pass --allow-remote for your own servers)", file=sys.stderr
            )
            return 2
        problem = unreachable(args.target)
        if problem:
            print(f"medimock load: cannot reach {args.target}: {problem}", file=sys.stderr)
            return 2

    embedded = None
    target = args.target
    if target is None:
        embedded = EmbeddedMock(["--api", MOCK_API.get(args.api, args.api)])
        target = embedded.start()
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    prefix = reports / f"load-{args.api}"
    locust = [sys.executable, "-m", "locust", "-f", f"{SCENARIOS[args.api]},{FINAL_STATS}"]
    command = [
        *locust,
        "--headless",
        *("--host", target, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.duration),
        *("--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", "--stop-timeout", "10"),
        *("--exit-code-on-error", "0"),  # failed requests are judged by the failure-ratio threshold
    ]
    workers: list[subprocess.Popen[bytes]] = []
    expected = args.workers + args.remote_workers
    env = scenario_env(args.api, expected)
    port = args.master_bind_port or (5557 if args.remote_workers else free_port())
    if expected:
        command += ["--master", "--expect-workers", str(expected), "--master-bind-host", args.master_bind_host]
        command += ["--master-bind-port", str(port)]
    try:
        master = subprocess.Popen(command, env=env)
        for _ in range(args.workers):
            workers.append(subprocess.Popen([*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)], env=env))
        code = master.wait()
    finally:
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if embedded is not None:
            keep_mock_log(embedded, Path(f"{prefix}-mock.log"))
            embedded.stop()
    verdicts = judge(Path(f"{prefix}_stats.csv"), thresholds)
    if code == 0 and not all(ok for _, ok in verdicts):
        code = 1
    summary = summarise(Path(f"{prefix}_stats.csv"), args, target, code, verdicts)
    Path(f"{prefix}.txt").write_text(summary)
    print(summary)
    print(
        f"reports: {prefix}.html (Locust's report), {prefix}_stats.csv (and _stats_history, _failures, _exceptions), {prefix}.txt (this summary)"
        + (f", {prefix}-mock.log (the embedded mock's log)" if embedded is not None else "")
    )
    return code


def keep_mock_log(embedded: EmbeddedMock, path: Path) -> None:
    """The embedded mock's log beside the reports (its own folder goes when it stops): a 500 there has its traceback."""
    try:
        shutil.copyfile(embedded.log_path, path)
    except OSError:
        pass


def unreachable(url: str) -> str | None:
    """Why ``url`` gives no HTTP answer at all, or None (any status will do)."""
    try:
        requests.get(url, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def scenario_env(api: str, processes: int) -> dict[str, str]:
    """The environment of the Locust processes: for Ambra, how many sessions each may open
    (unless AMBRA_SESSIONS says), so that all of them together stay under the per-user cap."""
    env = dict(os.environ)
    if api == "ambra" and "AMBRA_SESSIONS" not in env:
        env["AMBRA_SESSIONS"] = str(max(1, AMBRA_SESSION_BUDGET // max(1, processes)))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_thresholds(args: argparse.Namespace) -> dict[str, Any]:
    """Aggregate thresholds plus per-request ones: ``{"p95_ms", "failure_ratio", "min_rps", "requests": {name: {...}}}``."""
    found: dict[str, Any] = {"failure_ratio": 0.0, "requests": {}}
    if args.thresholds == BUILTIN:
        args.thresholds = str(THRESHOLDS[args.api])
    if args.thresholds:
        with open(args.thresholds, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.thresholds}: a mapping of thresholds is expected")
        unknown = set(loaded) - {"p95_ms", "failure_ratio", "min_rps", "requests"}
        if unknown:
            raise ValueError(f"{args.thresholds}: unknown keys {sorted(unknown)}; known: p95_ms, failure_ratio, min_rps, requests")
        found.update({k: v for k, v in loaded.items() if k != "requests"})
        found["requests"] = loaded.get("requests") or {}
    for key, value in (("p95_ms", args.max_p95_ms), ("failure_ratio", args.max_failure_ratio), ("min_rps", args.min_rps)):
        if value is not None:
            found[key] = value
    return found


def judge(stats_csv: Path, thresholds: dict[str, Any]) -> list[tuple[str, bool]]:
    """Each threshold as ``("<what>: <measured> <op> <limit>", holds)``."""
    if not stats_csv.exists():
        return [("Locust wrote no statistics", False)]
    with open(stats_csv, newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    verdicts = []
    scopes = [("all requests", rows.get("Aggregated"), thresholds)]
    scopes += [(name, rows.get(name), limits) for name, limits in (thresholds.get("requests") or {}).items()]
    for label, row, limits in scopes:
        if row is None:
            verdicts.append((f"{label}: no such request in the run", False))
            continue
        total, failures = int(row["Request Count"]), int(row["Failure Count"])
        if total == 0:
            verdicts.append((f"{label}: no request was made", False))
            continue
        if limits.get("p95_ms") is not None:
            p95 = float(row["95%"])
            verdicts.append((f"{label}: p95 {p95:.0f} ms <= {limits['p95_ms']} ms", p95 <= float(limits["p95_ms"])))
        if limits.get("failure_ratio") is not None:
            ratio = failures / total
            verdicts.append((f"{label}: failure ratio {ratio:.4f} <= {limits['failure_ratio']}", ratio <= float(limits["failure_ratio"])))
        if limits.get("min_rps") is not None:
            rps = float(row["Requests/s"])
            verdicts.append((f"{label}: {rps:.1f} requests/s >= {limits['min_rps']}", rps >= float(limits["min_rps"])))
    return verdicts


def summarise(stats_csv: Path, args: argparse.Namespace, target: str, code: int, verdicts: list[tuple[str, bool]]) -> str:
    lines = [
        f"medimock load test: {args.api} against {target}",
        f"users={args.users} spawn_rate={args.spawn_rate} duration={args.duration} local_workers={args.workers} remote_workers={args.remote_workers}",
        "",
    ]
    if not stats_csv.exists():
        return "\n".join([*lines, "no statistics were written (Locust failed to start)", f"exit code {code}"]) + "\n"
    with open(stats_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines.append(f"{'request':60} {'count':>8} {'fail':>6} {'rps':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for row in rows:
        name = (row["Type"] + " " + row["Name"]).strip() if row["Name"] != "Aggregated" else "TOTAL"
        lines.append(
            f"{name[:60]:60} {row['Request Count']:>8} {row['Failure Count']:>6} {float(row['Requests/s']):>8.1f}"
            f" {row['50%']:>8} {row['95%']:>8} {row['99%']:>8}"
        )
    lines += ["", "thresholds:"]
    lines += [f"  {'ok      ' if ok else 'BREACHED'} {text}" for text, ok in verdicts]
    lines += ["", f"result: {'PASS' if code == 0 else 'FAIL'} (exit code {code})"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
