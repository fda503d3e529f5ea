"""``make verify-specs``: schemathesis's own CLI against the mock, for each of the four specs, as a user runs it.

    st run specs/<api>/openapi.yaml --url <the API on a served mock> <credentials> ...  (specs/schemathesis.toml: every check)

Every phase (examples, coverage, fuzzing, stateful), every check; the credentials are the mock's
seeded ones (``GET /__mock__/credentials``: Clarius's API key, tscharts's token, a radiology Bearer
token from its token endpoint, Ambra's administrator over HTTP basic). The mock is started here
(``python -m mockserver --port 0``, loopback) and stopped after. Checks that cannot apply to an
operation are turned off in one place, ``specs/schemathesis.toml``, each with its reason.

``make test`` runs a small budget (``tests/specs/test_schemathesis_cli.py``: a fixed seed and a
few examples per operation); ``make verify-specs`` a large one (a random seed, 100 examples per
operation and ``--max-time``: fuzzing and stateful testing repeat until the time is spent).

Exit codes: 0 nothing found, 1 schemathesis found something (its report is printed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .resources import spec_file, specs_dir
from .target import EmbeddedMock

CONFIG = specs_dir() / "schemathesis.toml"
APIS = ("clarius", "tscharts", "radiology", "ambra")
MOUNTS = {"clarius": "", "tscharts": "", "radiology": "/radiology", "ambra": "/api/v3"}


@dataclass
class CliRun:
    api: str
    command: list[str]  # as run (credentials masked)
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary(self) -> str:
        """The closing lines of schemathesis's report (failures, then the summary), for a test's message."""
        text = self.output
        start = text.find("=== FAILURES")
        start = start if start >= 0 else text.find("=== SUMMARY")
        return text[start:] if start >= 0 else text[-6000:]


def st_executable() -> str:
    """The ``st`` of this environment (the schemathesis the project pins), else the first on PATH."""
    beside = Path(sys.executable).parent / "st"
    if beside.exists():
        return str(beside)
    found = shutil.which("st")
    if found is None:
        raise RuntimeError("schemathesis's CLI (st) is not installed: make install")
    return found


def credential_args(api: str, root: str) -> list[str]:
    """The options that authenticate as the mock's seeded credentials of ``api``."""
    creds = requests.get(f"{root}/__mock__/credentials", timeout=30).json()[api]
    if api in ("clarius", "tscharts"):
        return ["--header", f"Authorization: {creds['authorization']}"]
    if api == "radiology":
        grant = {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
        token = requests.post(creds["token_url"], data=grant, timeout=30).json()["access_token"]
        return ["--header", f"Authorization: Bearer {token}"]
    return ["--auth", f"{creds['login']}:{creds['password']}"]


def masked(command: list[str]) -> list[str]:
    out = list(command)
    for i, part in enumerate(out[:-1]):
        if part in ("--header", "--auth"):
            value = out[i + 1]
            out[i + 1] = value.split(":", 1)[0] + ":[masked]" if part == "--auth" else value.split(" ", 1)[0] + " [masked]"
    return out


def run_cli(api: str, root: str, examples: int, seed: int | None, max_time: int | None, workdir: Path, extra: list[str]) -> CliRun:
    """``st run`` over one spec against the API at its mount on ``root``."""
    command = [st_executable(), "--config-file", str(CONFIG), "--no-color", "run", str(spec_file(api))]
    # every check: specs/schemathesis.toml says `checks.enabled = true` (as --checks all), with its per-operation exceptions,
    # which a --checks option would override
    command += ["--url", root + MOUNTS[api], "--max-examples", str(examples), "--generation-database", "none"]
    command += ["--request-timeout", "30", *credential_args(api, root)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if max_time is not None:
        command += ["--max-time", str(max_time)]
    command += extra
    started = time.monotonic()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=(max_time or 0) + 3600)
    return CliRun(api, masked(command), done.returncode, time.monotonic() - started, done.stdout + done.stderr)


def run(
    apis: tuple[str, ...] = APIS,
    examples: int = 5,
    seed: int | None = None,
    max_time: int | None = None,
    extra: list[str] | None = None,
    extra_for: dict[str, list[str]] | None = None,
) -> list[CliRun]:
    """Serve the mock (loopback, a free port, a fresh database) and run the CLI over each spec in turn.

    Each spec gets a freshly reset mock, so one spec's run (which creates and deletes objects, and may
    change settings) never decides what the next one sees.
    """
    mock = EmbeddedMock(strict=False)
    root = mock.start()
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="medimock-st-") as workdir:  # .schemathesis/ caches land here, not in the checkout
            for api in apis:
                requests.post(f"{root}/__mock__/reset", timeout=60).raise_for_status()
                options = list(extra or []) + list((extra_for or {}).get(api, []))
                runs.append(run_cli(api, root, examples, seed, max_time, Path(workdir), options))
    finally:
        mock.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medimock.verify_specs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", action="append", choices=APIS, help="only this spec (repeatable; default all four)")
    parser.add_argument("--examples", type=int, default=100, help="--max-examples per operation (default 100)")
    parser.add_argument("--max-time", type=int, default=300, help="seconds per spec for fuzzing and stateful rounds (default 300; 0: once)")
    parser.add_argument("--seed", type=int, help="schemathesis's seed (default: random; every run prints its seed)")
    args, extra = parser.parse_known_args(argv)
    runs = run(tuple(args.api or APIS), args.examples, args.seed, args.max_time or None, extra)
    for cli in runs:
        print(f"== {cli.api}: {'nothing found' if cli.ok else 'FOUND PROBLEMS'} in {cli.seconds:.0f} s: {' '.join(cli.command)}")
        print(cli.summary() if not cli.ok else cli.output[cli.output.find("=== SUMMARY") :])
    return 0 if all(cli.ok for cli in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
