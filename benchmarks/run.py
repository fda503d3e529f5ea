"""Benchmarks: the mock against a static-JSON ceiling, side by side, in one run.

    python -m benchmarks.run [--duration 10] [--connections 16] [--rounds 2] [--out benchmarks/RESULTS.md]

1. Cold start: a fresh process until ``/__mock__/health`` answers, every spec loaded.
2. The mock under gunicorn (2 workers, gthread) with the large fixture profile.
3. Each scenario's responses recorded from the mock and served by ``benchmarks/ceiling.py``
   under the same gunicorn settings: the same bytes, no pipeline.
4. Load from ``wrk`` (when installed; it takes the least CPU from the server on a small
   machine) or from the built-in gevent client, alternating ceiling and mock per round,
   so both see the same machine noise; the best round of each is reported, with the CPU
   time the server's processes spent per request (the least of the rounds): on a busy
   machine throughput moves with the neighbours, CPU per request much less.
5. Resident memory of each mock worker after the load; the number of Ambra studies the
   large profile seeded (the study/list target is over at least 10,000).
6. With ``--prism``, a peer: Stoplight Prism (``@stoplight/prism-cli``, installed with npm
   into the user's cache on first use, or ``MEDIMOCK_PRISM``) serving the same specs in its
   static (examples) and dynamic (generated) modes, loaded in the same rounds with the same
   paths. Prism keeps no state and answers other (smaller) bodies, so its rows say how fast
   a stateless spec mock is, not how fast the same answers can be.

Only loopback addresses are ever targeted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from medimock.resources import spec_file

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"clarius_poll": 0.6, "clarius_download": 0.6, "ambra_study_list": 0.4, "ambra_study_get": None}
PRISM_VERSION = "5.16.0"
# the spec Prism serves for a scenario's API, and the mount prefix its paths lose (Prism serves the spec's paths at its root)
PRISM_SPECS = {"clarius": ("clarius", ""), "ambra": ("ambra", "/api/v3")}  # the spec Prism serves, and the API's mount
PRISM_MODES = ("static", "dynamic")


@dataclass
class Scenario:
    name: str
    description: str
    paths: list[str]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.name.split("_", 1)[0]


@dataclass
class Measurement:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    cpu_ms: float = float("nan")  # CPU time of the server's processes per request


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server: the process and its children (gunicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def cold_start(cache_dir: str) -> float:
    """Seconds from spawning ``python -m mockserver`` to its first answer, every spec loaded."""
    port = free_port()
    env = {**os.environ, "MEDIMOCK_CACHE_DIR": cache_dir}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "--port", str(port), "--db", f"{tmp}/db.sqlite3"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/__mock__/health", 60)
            return time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(10)


def start_mock(port: int, workers: int, db: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mockserver", "--port", str(port), "--workers", str(workers), "--profile", "large", "--db", db]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_for(f"http://127.0.0.1:{port}/__mock__/health")
    return process


def start_ceiling(port: int, workers: int, recording: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--log-level",
        "warning",
        f"benchmarks.ceiling:create_app({recording!r})",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_for(f"http://127.0.0.1:{port}/nothing")
    return process


def scenarios(base: str, facts: dict[str, Any] | None = None) -> list[Scenario]:
    """The scenarios the mock at ``base`` serves; ``facts`` collects what the report states about the data."""
    facts = {} if facts is None else facts
    creds = requests.get(base + "/__mock__/credentials", timeout=60).json()
    found: list[Scenario] = []
    if "clarius" in creds:
        auth = {"Authorization": creds["clarius"]["authorization"]}
        poll = "/api/public/v0/exams/accessible/?limit=100"
        page = requests.get(base + poll, headers=auth, timeout=30).json()
        downloads = [item["download_url"].removeprefix(base) for item in page["results"][:50]]
        found.append(Scenario("clarius_poll", "Clarius poll, limit=100, large profile", [poll], auth))
        found.append(Scenario("clarius_download", "Clarius download, 50 submissions in turn", downloads, auth))
    if "ambra" in creds:
        ambra = creds["ambra"]
        login = requests.post(
            base + "/api/v3/session/login", data={"login": ambra["login"], "password": ambra["password"]}, timeout=30
        ).json()
        sid = login["sid"]
        facts["ambra_studies"] = count = int(requests.get(f"{base}/api/v3/study/count?sid={sid}", timeout=60).json()["count"])
        listing = f"/api/v3/study/list?sid={sid}&page.rows=100&filter.modality.equals=CT&sort_by=study_date-desc"
        studies = requests.get(base + listing, timeout=60).json().get("studies") or []
        found.append(
            Scenario(
                "ambra_study_list",
                f"Ambra study/list, page.rows=100, filter.modality.equals=CT, sort_by=study_date-desc, over {count:,} studies",
                [listing],
            )
        )
        if studies:
            gets = [f"/api/v3/study/get?sid={sid}&uuid={study['uuid']}" for study in studies[:50]]
            found.append(Scenario("ambra_study_get", "Ambra study/get, 50 studies in turn", gets))
    return found


def prism_command() -> list[str] | None:
    """How to run Prism: ``MEDIMOCK_PRISM``, or ``@stoplight/prism-cli`` installed with npm into the cache (None: no npm)."""
    explicit = os.environ.get("MEDIMOCK_PRISM")
    if explicit:
        return shlex.split(explicit)
    npm = shutil.which("npm")
    if npm is None:
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medimock" / f"prism-{PRISM_VERSION}"
    binary = home / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        print(f"installing @stoplight/prism-cli@{PRISM_VERSION} into {home}", flush=True)
        subprocess.run(
            [npm, "install", "--prefix", str(home), "--silent", "--no-audit", "--no-fund", f"@stoplight/prism-cli@{PRISM_VERSION}"],
            check=True,
            timeout=900,
        )
    return [str(binary)]


def start_prism(command: list[str], api: str, mode: str, port: int) -> subprocess.Popen[bytes]:
    spec = str(spec_file(PRISM_SPECS[api][0]))
    extra = ["--dynamic", "--seed", "20240607"] if mode == "dynamic" else []
    process = subprocess.Popen(
        [*command, "mock", "-h", "127.0.0.1", "-p", str(port), "--verboseLevel", "error", *extra, spec],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    wait_for(f"http://127.0.0.1:{port}/", 180)  # an unknown path: Prism's 404 says it is up
    return process


def for_prism(scenario: Scenario) -> Scenario:
    """The scenario with the paths as Prism serves them (the spec's paths at its root)."""
    prefix = PRISM_SPECS[scenario.api][1]
    paths = [p[len(prefix) :] if prefix and p.startswith(prefix) else p for p in scenario.paths]
    return Scenario(scenario.name, scenario.description, paths, scenario.headers)


def body_bytes(base: str, scenario: Scenario) -> int:
    return len(requests.get(base + scenario.paths[0], headers=scenario.headers, timeout=60).content)


def record(base: str, scenario: Scenario) -> list[dict[str, Any]]:
    out = []
    for path in scenario.paths:
        response = requests.get(base + path, headers=scenario.headers, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"{scenario.name}: {path} answered {response.status_code}: {response.text[:300]}")
        bare, _, query = path.partition("?")
        out.append(
            {
                "path": bare,
                "query": query,
                "status": response.status_code,
                "content_type": response.headers.get("Content-Type", "application/json"),
                "body": base64.b64encode(response.content).decode(),
            }
        )
    return out


_WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def load_wrk(base: str, scenario: Scenario, connections: int, duration: int) -> Measurement:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % ", ".join(json.dumps(p) for p in scenario.paths))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name]
    for key, value in scenario.headers.items():
        command += ["-H", f"{key}: {value}"]
    output = subprocess.run([*command, base], capture_output=True, text=True, timeout=duration + 60).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    return Measurement(rps, _wrk_ms(output, "50%"), _wrk_ms(output, "99%"), errors)


def _wrk_ms(output: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def load_python(base: str, scenario: Scenario, connections: int, duration: int) -> Measurement:
    """The fallback client: gevent + geventhttpclient (installed with Locust), keep-alive connections."""
    code = f"""
import gevent.monkey; gevent.monkey.patch_all()
import gevent, json, time
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
paths = {scenario.paths!r}; headers = {scenario.headers!r}
url = URL({base!r}); latencies = []; errors = [0]
end = time.perf_counter() + {duration}
def worker(offset):
    client = HTTPClient(url.host, url.port, concurrency=1, connection_timeout=10, network_timeout=30)
    i = offset
    while time.perf_counter() < end:
        start = time.perf_counter()
        response = client.get(paths[i % len(paths)], headers=headers); response.read()
        latencies.append(time.perf_counter() - start)
        if response.status_code != 200: errors[0] += 1
        i += 1
gevent.joinall([gevent.spawn(worker, n) for n in range({connections})])
print(json.dumps({{"count": len(latencies), "latencies": sorted(latencies), "errors": errors[0]}}))
"""
    result = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=duration + 120).stdout)
    latencies = result["latencies"]
    return Measurement(
        result["count"] / duration,
        latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        result["errors"],
    )


def worker_rss_mb(master_pid: int) -> list[float]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master_pid}$", text, re.MULTILINE):
            rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            if rss:
                out.append(int(rss.group(1)) / 1024)
    return sorted(out)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        memory = f", {int(Path('/proc/meminfo').read_text().split()[1]) // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating ceiling/mock rounds per scenario; the best is kept")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--prism", action="store_true", help="also measure Stoplight Prism (static and dynamic) as a peer")
    args = parser.parse_args(argv)
    client = ("wrk" if shutil.which("wrk") else "python") if args.client == "auto" else args.client
    load = load_wrk if client == "wrk" else load_python

    with tempfile.TemporaryDirectory(prefix="medimock-bench-") as tmp:
        first = cold_start(f"{tmp}/cold-cache")  # parses every YAML spec and fills the cache
        warm = statistics.median(cold_start(f"{tmp}/cold-cache") for _ in range(3))
        print(f"cold start: {first:.2f} s on an empty spec cache, {warm:.2f} s with the cache (median of 3)", flush=True)

        mock_port, ceiling_port = free_port(), free_port()
        started = time.perf_counter()
        mock = start_mock(mock_port, args.workers, f"{tmp}/bench.sqlite3")
        facts: dict[str, Any] = {"large_start": time.perf_counter() - started}
        print(f"large profile: the mock answered {facts['large_start']:.1f} s after it was spawned", flush=True)
        ceiling = None
        prisms: dict[tuple[str, str], tuple[subprocess.Popen[bytes], int]] = {}
        peers: dict[str, dict[str, Any]] = {}
        try:
            mock_base = f"http://127.0.0.1:{mock_port}"
            found = scenarios(mock_base, facts)
            recording = [entry for scenario in found for entry in record(mock_base, scenario)]
            recording_file = f"{tmp}/recording.json"
            Path(recording_file).write_text(json.dumps(recording))
            ceiling = start_ceiling(ceiling_port, args.workers, recording_file)
            ceiling_base = f"http://127.0.0.1:{ceiling_port}"
            prism = prism_command() if args.prism else None
            if args.prism and prism is None:
                facts["prism"] = "not measured: npm is not installed (or set MEDIMOCK_PRISM)"
            elif prism is not None:
                for api in sorted({s.api for s in found} & set(PRISM_SPECS)):
                    for mode in PRISM_MODES:
                        port = free_port()
                        prisms[(api, mode)] = (start_prism(prism, api, mode, port), port)
                facts["prism"] = (
                    f"@stoplight/prism-cli {PRISM_VERSION}" if not os.environ.get("MEDIMOCK_PRISM") else os.environ["MEDIMOCK_PRISM"]
                )
            rows = []
            for scenario in found:
                best: dict[str, Measurement] = {}
                cpu: dict[str, float] = {}
                servers: list[tuple[str, str, subprocess.Popen[bytes], Scenario]] = [
                    ("ceiling", ceiling_base, ceiling, scenario),
                    ("mock", mock_base, mock, scenario),
                ]
                for mode in PRISM_MODES:
                    if (scenario.api, mode) in prisms:
                        process, port = prisms[(scenario.api, mode)]
                        servers.append((f"prism {mode}", f"http://127.0.0.1:{port}", process, for_prism(scenario)))
                for _ in range(args.rounds):
                    for label, base, server, sent in servers:
                        before = server_cpu_seconds(server.pid)
                        measured = load(base, sent, args.connections, args.duration)
                        spent = server_cpu_seconds(server.pid) - before
                        if measured.rps > 0:
                            cpu[label] = min(cpu.get(label, float("inf")), spent / (measured.rps * args.duration) * 1000)
                        if label not in best or measured.rps > best[label].rps:
                            best[label] = measured
                for label, measured in best.items():
                    measured.cpu_ms = cpu.get(label, float("nan"))
                ratio = best["mock"].rps / best["ceiling"].rps if best["ceiling"].rps else float("nan")
                rows.append((scenario, best["ceiling"], best["mock"], ratio))
                if len(servers) > 2:
                    peers[scenario.name] = {
                        "mock_bytes": body_bytes(mock_base, scenario),
                        **{label: best[label] for label, *_ in servers[2:]},
                        **{f"{label} bytes": body_bytes(base, sent) for label, base, _, sent in servers[2:]},
                    }
                    print(
                        f"{scenario.name}: " + ", ".join(f"{label} {best[label].rps:.0f} rps" for label, *_ in servers[2:]),
                        flush=True,
                    )
                print(
                    f"{scenario.name}: mock {best['mock'].rps:.0f} rps, ceiling {best['ceiling'].rps:.0f} rps, ratio {ratio:.2f};"
                    f" server CPU per request: mock {best['mock'].cpu_ms:.2f} ms, ceiling {best['ceiling'].cpu_ms:.2f} ms",
                    flush=True,
                )
            rss = worker_rss_mb(mock.pid)
        finally:
            for process in (mock, ceiling, *(p for p, _ in prisms.values())):
                if process is not None:
                    process.terminate()
                    process.wait(20)
    report = render(args, client, first, warm, rows, rss, facts, peers) + kept_sections(Path(args.out))
    Path(args.out).write_text(report)
    print(report)
    return 0


def render(
    args: argparse.Namespace,
    client: str,
    first: float,
    warm: float,
    rows: list[Any],
    rss: list[float],
    facts: dict[str, Any] | None = None,
    peers: dict[str, dict[str, Any]] | None = None,
) -> str:
    facts, peers = facts or {}, peers or {}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"- date: {now}",
        f"- machine: {machine()}",
        f"- command: `python -m benchmarks.run --duration {args.duration} --connections {args.connections} --rounds {args.rounds} --workers {args.workers}{' --prism' if getattr(args, 'prism', False) else ''}` (`make bench`)",
        f"- load generator: {client}, {args.connections} keep-alive connections, {args.duration} s per measurement, best of {args.rounds} alternating rounds",
        f"- servers: gunicorn, {args.workers} gthread workers x 8 threads, for both the mock (`medimock serve --workers {args.workers} --profile large`) and the ceiling (`benchmarks/ceiling.py`: the same recorded bytes from a bare Flask route)",
        "",
        "| scenario | ceiling rps | mock rps | ratio | target | mock p50 ms | mock p99 ms | ceiling p50 ms | ceiling p99 ms | non-2xx"
        " | server CPU ms/request, ceiling / mock |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, ceiling, mock, ratio in rows:
        target = TARGETS.get(scenario.name)
        verdict = "-" if target is None else f">= {target} {'met' if ratio >= target else 'NOT met'}"
        lines.append(
            f"| {scenario.description} | {ceiling.rps:.0f} | {mock.rps:.0f} | {ratio:.2f} | {verdict} | {mock.p50_ms:.1f} | {mock.p99_ms:.1f}"
            f" | {ceiling.p50_ms:.1f} | {ceiling.p99_ms:.1f} | {mock.errors} | {ceiling.cpu_ms:.2f} / {mock.cpu_ms:.2f} |"
        )
    if not any(scenario.name.startswith("ambra") for scenario, *_ in rows):
        lines += ["", "Ambra scenarios: not measured, the Ambra mock is not served by this build."]
    lines += [
        "",
        f"- cold start (spawn to first answer, every spec loaded, default fixtures): {warm:.2f} s with the parsed-spec cache"
        f" (median of 3; target < 1.5 s: {'met' if warm < 1.5 else 'NOT met'}); {first:.2f} s on the very first start, which parses the YAML"
        " and fills the cache (`make install` does that step ahead)",
        f"- resident memory per mock worker after the load, large profile: {', '.join(f'{r:.0f} MB' for r in rss) or 'n/a'}"
        f" (target < 200 MB: {'met' if rss and max(rss) < 200 else 'NOT met'})",
    ]
    if "large_start" in facts:
        lines.append(
            f"- start-up with `--profile large --workers {args.workers}` (seeding every API once, then the workers), spawn to first answer:"
            f" {facts['large_start']:.1f} s"
        )
    if "ambra_studies" in facts:
        count = facts["ambra_studies"]
        lines.append(
            f"- Ambra studies in the large profile (study/count): {count:,} (at least 10,000: {'yes' if count >= 10_000 else 'NO'})"
        )
    lines += [
        "",
        "Ratios are measured side by side in one run on a shared 2-core machine where the load generator competes with",
        "the servers for CPU; absolute numbers move between runs, the ratios much less.",
    ]
    if peers:
        lines += [
            "",
            f"## Peer: Prism ({facts.get('prism', 'Stoplight Prism')}), measured in the same rounds",
            "",
            "Prism serves each spec as one Node.js process: `static` answers the spec's examples, `dynamic` generates data",
            "from the schemas. It keeps no state, filters nothing and pages nothing, and its bodies differ from the mock's",
            "(sizes below), so its rows say how fast a stateless spec mock answers, beside the mock's ratio to the same ceiling.",
            "",
            "| scenario | mock ratio | Prism static rps | ratio | Prism dynamic rps | ratio | p50 / p99 ms, static | p50 / p99 ms, dynamic"
            " | non-2xx, static / dynamic | bytes per answer: mock / static / dynamic | server CPU ms/request, static / dynamic |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for scenario, ceiling, _mock, ratio in rows:
            peer = peers.get(scenario.name)
            if not peer:
                continue
            static, dynamic = peer.get("prism static"), peer.get("prism dynamic")
            if static is None or dynamic is None:
                continue

            def share(measured: Measurement, ceiling: Measurement = ceiling) -> str:
                return f"{measured.rps / ceiling.rps:.2f}" if ceiling.rps else "n/a"

            lines.append(
                f"| {scenario.description} | {ratio:.2f} | {static.rps:.0f} | {share(static)} | {dynamic.rps:.0f} | {share(dynamic)}"
                f" | {static.p50_ms:.1f} / {static.p99_ms:.1f} | {dynamic.p50_ms:.1f} / {dynamic.p99_ms:.1f}"
                f" | {static.errors} / {dynamic.errors}"
                f" | {peer['mock_bytes']:,} / {peer['prism static bytes']:,} / {peer['prism dynamic bytes']:,}"
                f" | {static.cpu_ms:.2f} / {dynamic.cpu_ms:.2f} |"
            )
    elif facts.get("prism"):
        lines += ["", f"Prism (peer): {facts['prism']}."]
    return "\n".join(lines) + "\n"


KEPT_SECTIONS = ("## Time to verdict",)  # measured by other means (the contract suites' times), kept when the file is rewritten


def kept_sections(path: Path) -> str:
    """The sections of the current results file that this benchmark does not measure, from the first such heading on."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    starts = [text.find("\n" + heading) for heading in KEPT_SECTIONS if ("\n" + heading) in text]
    return text[min(starts) :] if starts else ""


if __name__ == "__main__":
    raise SystemExit(main())
