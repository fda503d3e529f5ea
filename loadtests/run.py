"""Run a Locust scenario headless and write its reports under reports/.

    python -m loadtests.run --api clarius [--target URL] [--users 10] [--spawn-rate 5] [--duration 30s]

Without --target the embedded mock is started on a free loopback port and stopped
afterwards. Output: reports/load-<api>_stats.csv (and the other Locust CSVs),
reports/load-<api>.html and reports/load-<api>.txt (a short summary). The exit code
is Locust's: non-zero when any request failed.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from medimock.target import EmbeddedMock

SCENARIOS = {"clarius": Path(__file__).with_name("clarius.py")}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtests.run")
    parser.add_argument("--api", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--target", help="base URL (default: start the embedded mock)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--reports", default="reports")
    parser.add_argument("--allow-remote", action="store_true", help="allow a target that is not on loopback")
    args = parser.parse_args(argv)

    embedded = None
    target = args.target
    if target is None:
        embedded = EmbeddedMock(["--api", args.api])
        target = embedded.start()
    host = urlparse(target).hostname or ""
    if host not in LOOPBACK and not host.startswith("127.") and not args.allow_remote:
        print(f"refusing to load-test {target}: not a loopback address (pass --allow-remote for your own servers)", file=sys.stderr)
        return 2
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    prefix = reports / f"load-{args.api}"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(SCENARIOS[args.api]),
        "--headless",
        "--host",
        target,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.duration,
        "--csv",
        str(prefix),
        "--html",
        f"{prefix}.html",
        "--only-summary",
        "--stop-timeout",
        "10",
    ]
    try:
        code = subprocess.call(command)
    finally:
        if embedded is not None:
            embedded.stop()
    summary = summarise(Path(f"{prefix}_stats.csv"), args, target, code)
    Path(f"{prefix}.txt").write_text(summary)
    print(summary)
    return code


def summarise(stats_csv: Path, args: argparse.Namespace, target: str, code: int) -> str:
    lines = [
        f"medimock load test: {args.api} against {target}",
        f"users={args.users} spawn_rate={args.spawn_rate} duration={args.duration}",
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
    lines += ["", f"result: {'PASS' if code == 0 else 'FAIL'} (exit code {code})"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
