"""Benchmarks: the mock against a static-JSON ceiling, side by side, in one run.

    python -m benchmarks.run [--duration 10] [--connections 16] [--rounds 2] [--client auto|wrk|python]
                             [--huge-studies 1000000] [--out benchmarks/RESULTS.md] [--prism]

1. Cold start: a fresh process until ``/__mock__/health`` answers, every spec loaded.
2. The mock under gunicorn (2 workers) with the large fixture profile; then a second one with
   the huge profile (``--huge-studies``; 0 leaves it out): the time from spawn to first answer
   (seeding), and the CPU time of the processes that seeded it (reaped by the mock's master).
3. Each scenario's responses recorded from the mocks and served by ``benchmarks/ceiling.py``
   under the mock's own gunicorn settings (``mockserver.serving.gunicorn_settings``): the
   same bytes, no pipeline.
4. Load from ``wrk`` and from the built-in gevent client when wrk is installed (each scenario
   measured with both; the targets judged with wrk), otherwise from the gevent client alone;
   ceiling and mock alternate per round, so both see the same machine noise. The best round
   of each is reported (its p50 and p99), with the CPU time the server's processes spent per
   request (the least of the rounds): on a busy machine throughput and tails move with the
   neighbours, CPU per request much less. The huge profile's list p99 is compared with the large
   profile's by the least p99 of each one's rounds.
5. Resident memory of each mock worker after the load; the number of Ambra studies each
   profile seeded (the study/list targets are over at least 10,000, and 1,000,000).
6. With ``--prism``, a peer: Stoplight Prism (``@stoplight/prism-cli``, installed with npm
   into the user's cache on first use, or ``MEDIMOCK_PRISM``) serving the same specs in its
   static (examples) and dynamic (generated) modes, loaded in the same rounds with the same
   paths (with the first generator). Prism keeps no state and answers other (smaller) bodies,
   so its rows say how fast a stateless spec mock is, not how fast the same answers can be.

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
TARGETS = {"clarius_poll": 0.6, "clarius_download": 0.6, "ambra_study_list": 0.4, "ambra_study_get": None, "ambra_study_list_huge": 0.5}
# the huge profile: seeding (spawn to first answer), resident memory per worker, the list's p99 against the large profile's
HUGE_SEED_S, HUGE_RSS_MB, HUGE_P99_FACTOR = 60.0, 300.0, 2.0
GENERATORS = ("wrk", "python")  # the first one present judges the targets
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
    server: str = "mock"  # the mock that serves it: "mock" (large profile) or "mock huge"

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
    least_p99_ms: float = float("nan")  # the least p99 of the rounds (a neighbour's burst inflates one round's tail)


def server_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU time of a server: the process and its children (gunicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def reaped_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU time of the children a process has waited for (and theirs): for the mock's
    master once it answers, the process that seeded the huge profile and the ones it forked."""
    fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


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


def start_mock(port: int, workers: int, db: str, profile: str = "large", env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mockserver", "--port", str(port), "--workers", str(workers), "--profile", profile, "--db", db]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, **(env or {})})
    wait_for(f"http://127.0.0.1:{port}/__mock__/health", 900)
    return process


def start_ceiling(port: int, workers: int, recording: str) -> subprocess.Popen[bytes]:
    """The ceiling under the mock's own gunicorn settings (``mockserver.serving.gunicorn_settings``)."""
    command = [sys.executable, "-m", "benchmarks.ceiling", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), recording]
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
    return parse_wrk(output)


def parse_wrk(output: str) -> Measurement:
    """Requests per second, p50 and p99 (``--latency``), and the answers that were not 2xx/3xx or failed
    (socket errors: connect, read, write, timeout) of wrk's report."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        raise RuntimeError(f"wrk gave no Requests/sec: {output[-500:]}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return Measurement(float(found.group(1)), _wrk_ms(output, "50%"), _wrk_ms(output, "99%"), errors)


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


def worker_rss_mb(master_pid: int, proc: Path = Path("/proc")) -> list[float]:
    """Resident memory of each child of ``master_pid`` (gunicorn's workers), MB."""
    out = []
    for status in proc.glob("[0-9]*/status"):
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


def generators(choice: str, have_wrk: bool) -> list[str]:
    """The load generators a run uses: both when wrk is installed (``auto``), wrk first (it judges the targets)."""
    if choice == "auto":
        return ["wrk", "python"] if have_wrk else ["python"]
    if choice == "wrk" and not have_wrk:
        raise SystemExit("benchmarks.run: --client wrk, but wrk is not installed (apt-get install wrk)")
    return [choice]


def huge_scenario(base: str, facts: dict[str, Any]) -> Scenario | None:
    """The huge profile's study/list: the same query as the large profile's, against the mock seeded with the huge profile."""
    seen: dict[str, Any] = {}
    found = [s for s in scenarios(base, seen) if s.name == "ambra_study_list"]
    if not found:
        return None
    facts["huge_studies"] = seen.get("ambra_studies", 0)
    listing = found[0]
    return Scenario(
        "ambra_study_list_huge", listing.description.replace("studies", "studies (huge profile)"), listing.paths, server="mock huge"
    )


def measure(
    servers: list[tuple[str, str, subprocess.Popen[bytes], Scenario]], load: Any, rounds: int, connections: int, duration: int
) -> dict[str, Measurement]:
    """Each server loaded ``rounds`` times, in turn (so they share the machine's noise): the best round of each,
    with the least CPU time per request its processes spent."""
    best: dict[str, Measurement] = {}
    cpu: dict[str, float] = {}
    tails: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, base, server, sent in servers:
            before = server_cpu_seconds(server.pid)
            measured = load(base, sent, connections, duration)
            spent = server_cpu_seconds(server.pid) - before
            if measured.rps > 0:
                cpu[label] = min(cpu.get(label, float("inf")), spent / (measured.rps * duration) * 1000)
            tails.setdefault(label, []).append(measured.p99_ms)
            if label not in best or measured.rps > best[label].rps:
                best[label] = measured
    for label, measured in best.items():
        measured.cpu_ms = cpu.get(label, float("nan"))
        measured.least_p99_ms = min(tails[label])
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating ceiling/mock rounds per scenario; the best is kept")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--client", choices=("auto", "wrk", "python"), default="auto", help="auto: wrk and the Python client when wrk is installed"
    )
    parser.add_argument("--huge-studies", type=int, default=1_000_000, help="studies of the huge profile's mock (0: not measured)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--prism", action="store_true", help="also measure Stoplight Prism (static and dynamic) as a peer")
    args = parser.parse_args(argv)
    clients = generators(args.client, shutil.which("wrk") is not None)
    loads = {"wrk": load_wrk, "python": load_python}

    with tempfile.TemporaryDirectory(prefix="medimock-bench-") as tmp:
        first = cold_start(f"{tmp}/cold-cache")  # parses every YAML spec and fills the cache
        warm = statistics.median(cold_start(f"{tmp}/cold-cache") for _ in range(3))
        print(f"cold start: {first:.2f} s on an empty spec cache, {warm:.2f} s with the cache (median of 3)", flush=True)

        mock_port, ceiling_port, huge_port = free_port(), free_port(), free_port()
        started = time.perf_counter()
        mock = start_mock(mock_port, args.workers, f"{tmp}/bench.sqlite3")
        facts: dict[str, Any] = {"large_start": time.perf_counter() - started, "generators": clients, "wrk": wrk_version()}
        print(f"large profile: the mock answered {facts['large_start']:.1f} s after it was spawned", flush=True)
        huge = ceiling = None
        prisms: dict[tuple[str, str], tuple[subprocess.Popen[bytes], int]] = {}
        peers: dict[str, dict[str, Any]] = {}
        try:
            mock_base = f"http://127.0.0.1:{mock_port}"
            found = scenarios(mock_base, facts)
            mocks = {"mock": (mock_base, mock)}
            if args.huge_studies > 0:
                started = time.perf_counter()
                huge = start_mock(huge_port, args.workers, f"{tmp}/huge.sqlite3", "huge", {"MEDIMOCK_HUGE_STUDIES": str(args.huge_studies)})
                facts["huge_start"] = time.perf_counter() - started
                facts["huge_seed_cpu"] = reaped_cpu_seconds(huge.pid)
                facts["huge_db_mb"] = Path(f"{tmp}/huge.sqlite3").stat().st_size / 2**20
                print(f"huge profile: the mock answered {facts['huge_start']:.1f} s after it was spawned", flush=True)
                huge_base = f"http://127.0.0.1:{huge_port}"
                mocks["mock huge"] = (huge_base, huge)
                listing = huge_scenario(huge_base, facts)
                if listing is not None:
                    found.append(listing)
            recording = [entry for scenario in found for entry in record(mocks[scenario.server][0], scenario)]
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
            results: dict[str, list[Any]] = {client: [] for client in clients}
            for scenario in found:
                base, process = mocks[scenario.server]
                servers: list[tuple[str, str, subprocess.Popen[bytes], Scenario]] = [
                    ("ceiling", ceiling_base, ceiling, scenario),
                    ("mock", base, process, scenario),
                ]
                for mode in PRISM_MODES:
                    if (scenario.api, mode) in prisms and scenario.server == "mock":
                        prism_process, port = prisms[(scenario.api, mode)]
                        servers.append((f"prism {mode}", f"http://127.0.0.1:{port}", prism_process, for_prism(scenario)))
                for number, client in enumerate(clients):
                    measured = measure(servers if number == 0 else servers[:2], loads[client], args.rounds, args.connections, args.duration)
                    ratio = measured["mock"].rps / measured["ceiling"].rps if measured["ceiling"].rps else float("nan")
                    results[client].append((scenario, measured["ceiling"], measured["mock"], ratio))
                    print(
                        f"{scenario.name} ({client}): mock {measured['mock'].rps:.0f} rps, ceiling {measured['ceiling'].rps:.0f} rps,"
                        f" ratio {ratio:.2f}; p99 mock {measured['mock'].p99_ms:.1f} ms; server CPU per request: mock"
                        f" {measured['mock'].cpu_ms:.2f} ms, ceiling {measured['ceiling'].cpu_ms:.2f} ms",
                        flush=True,
                    )
                    if number == 0 and len(servers) > 2:
                        peers[scenario.name] = {
                            "mock_bytes": body_bytes(base, scenario),
                            **{label: measured[label] for label, *_ in servers[2:]},
                            **{f"{label} bytes": body_bytes(peer, sent) for label, peer, _, sent in servers[2:]},
                        }
            rss = worker_rss_mb(mock.pid)
            if huge is not None:
                facts["huge_rss"] = worker_rss_mb(huge.pid)
        finally:
            for process in (mock, huge, ceiling, *(p for p, _ in prisms.values())):
                if process is not None:
                    process.terminate()
                    process.wait(20)
    report = render(args, clients, first, warm, results, rss, facts, peers) + kept_sections(Path(args.out))
    Path(args.out).write_text(report)
    print(report)
    return 0


def wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "not installed"
    output = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (\S+)", output.stdout + output.stderr)
    return match.group(1) if match else "unknown version"


def verdict(value: float, target: float | None, above: bool = True) -> str:
    if target is None:
        return "-"
    met = value >= target if above else value <= target
    return f"{'>=' if above else '<='} {target:g} {'met' if met else 'NOT met'}"


def render(
    args: argparse.Namespace,
    clients: list[str],
    first: float,
    warm: float,
    results: dict[str, list[Any]],
    rss: list[float],
    facts: dict[str, Any] | None = None,
    peers: dict[str, dict[str, Any]] | None = None,
) -> str:
    facts, peers = facts or {}, peers or {}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    judge = clients[0]
    names = {"wrk": f"wrk {facts.get('wrk', '')} (C, 2 threads)".replace("  ", " "), "python": "the Python client (gevent, one process)"}
    lines = [
        "# Benchmark results",
        "",
        f"- date: {now}",
        f"- machine: {machine()}",
        f"- command: `python -m benchmarks.run --duration {args.duration} --connections {args.connections} --rounds {args.rounds}"
        f" --workers {args.workers} --huge-studies {getattr(args, 'huge_studies', 0)}{' --prism' if getattr(args, 'prism', False) else ''}`"
        " (`make bench`)",
        f"- load generators: {' and '.join(names[c] for c in clients)}; {args.connections} keep-alive connections,"
        f" {args.duration} s per measurement, best of {args.rounds} alternating rounds (ceiling, mock, ceiling, mock...);"
        f" the targets are judged with {judge}",
        f"- servers: gunicorn with the same settings for both (`mockserver.serving.gunicorn_settings`: {args.workers} workers of"
        " medimock's gthread worker class x 8 threads, the same limits, keep-alive and timeouts): the mock"
        f" (`medimock serve --workers {args.workers} --profile large`, and `--profile huge` for the huge rows) and the ceiling"
        " (`python -m benchmarks.ceiling`: the same recorded bytes from a bare Flask route)",
    ]
    for client in clients:
        lines += [
            "",
            f"## Measured with {names[client]}",
            "",
            "| scenario | ceiling rps | mock rps | ratio | target | mock p50 ms | mock p99 ms | ceiling p50 ms | ceiling p99 ms | non-2xx"
            " | server CPU ms/request, ceiling / mock |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for scenario, ceiling, mock, ratio in results.get(client, []):
            lines.append(
                f"| {scenario.description} | {ceiling.rps:.0f} | {mock.rps:.0f} | {ratio:.2f} | {verdict(ratio, TARGETS.get(scenario.name))}"
                f" | {mock.p50_ms:.1f} | {mock.p99_ms:.1f} | {ceiling.p50_ms:.1f} | {ceiling.p99_ms:.1f} | {mock.errors}"
                f" | {ceiling.cpu_ms:.2f} / {mock.cpu_ms:.2f} |"
            )
    if len(clients) > 1:
        lines += ["", "Ratios by generator (mock rps / ceiling rps, the same servers, the same run):", ""]
        lines += ["| scenario | " + " | ".join(clients) + " |", "|---|" + "---:|" * len(clients)]
        by_name = {client: {row[0].name: row[3] for row in results.get(client, [])} for client in clients}
        for scenario, *_ in results.get(judge, []):
            lines.append(
                f"| {scenario.description} | " + " | ".join(f"{by_name[c].get(scenario.name, float('nan')):.2f}" for c in clients) + " |"
            )
    if not any(scenario.name.startswith("ambra") for scenario, *_ in results.get(judge, [])):
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
    lines += huge_lines(args, clients, results, facts)
    lines += [
        "",
        "The machine is shared with other work (other sessions' tests ran beside this one): absolute numbers move",
        "between runs and with the neighbours; the ratios, measured side by side in alternating rounds, much less.",
    ]
    if peers:
        lines += prism_lines(results.get(judge, []), peers, facts)
    elif facts.get("prism"):
        lines += ["", f"Prism (peer): {facts['prism']}."]
    return "\n".join(lines) + "\n"


def huge_lines(args: argparse.Namespace, clients: list[str], results: dict[str, list[Any]], facts: dict[str, Any]) -> list[str]:
    """The huge profile's rows: seeding, memory, the list's ratio and its p99 against the large profile's (same generator)."""
    if "huge_start" not in facts:
        return []
    count = facts.get("huge_studies", 0)
    rss = facts.get("huge_rss") or []
    lines = [
        "",
        f"## The huge profile: {count:,} Ambra studies",
        "",
        f"- seeding (`medimock serve --profile huge --workers {args.workers}`, spawn to first answer): {facts['huge_start']:.1f} s"
        f" (target <= {HUGE_SEED_S:g} s: {'met' if facts['huge_start'] <= HUGE_SEED_S else 'NOT met'}), CPU time of the seeding"
        f" processes (user + system, all of them): {facts.get('huge_seed_cpu', float('nan')):.1f} s; database file"
        f" {facts.get('huge_db_mb', 0) / 1024:.1f} GiB",
        f"- resident memory per worker after the load: {', '.join(f'{r:.0f} MB' for r in rss) or 'n/a'}"
        f" (target <= {HUGE_RSS_MB:g} MB: {'met' if rss and max(rss) <= HUGE_RSS_MB else 'NOT met'})",
        f"- at least 1,000,000 studies (study/count): {'yes' if count >= 1_000_000 else 'NO'}",
        "",
        "p99 below: the least of the rounds for each profile (the same rule for both; one round's tail moves with the neighbours).",
        "",
        "| generator | list ratio to the ceiling | target | list p99 ms, huge | list p99 ms, large | p99 huge / large | target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for client in clients:
        rows = {row[0].name: row for row in results.get(client, [])}
        if "ambra_study_list_huge" not in rows or "ambra_study_list" not in rows:
            continue
        huge, large = rows["ambra_study_list_huge"], rows["ambra_study_list"]
        huge_p99, large_p99 = huge[2].least_p99_ms, large[2].least_p99_ms
        factor = huge_p99 / large_p99 if large_p99 else float("nan")
        lines.append(
            f"| {client} | {huge[3]:.2f} | {verdict(huge[3], TARGETS['ambra_study_list_huge'])} | {huge_p99:.1f}"
            f" | {large_p99:.1f} | {factor:.2f} | {verdict(factor, HUGE_P99_FACTOR, above=False)} |"
        )
    return lines


def prism_lines(rows: list[Any], peers: dict[str, dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    lines = [
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
    return lines


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
