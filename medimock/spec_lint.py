"""``make lint-specs``: Spectral (``spectral:oas``) and Redocly (``recommended``) over the four specs.

Both come from the npm registry at pinned versions, installed with npm into the user's cache
(``~/.cache/medimock/spectral-<version>``, ``redocly-<version>``) on first use, as ``make bench
ARGS=--prism`` installs Prism. Their configuration is the repository's ``.spectral.yaml`` and
``redocly.yaml`` (a rule is turned off only for the spec it cannot apply to, with the reason in
that spec's ``README.md``). The gate: no error and no warning from either tool.

Exit codes: 0 clean, 1 findings, 2 Node.js or npm missing (or the install failed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPECTRAL_VERSION = "6.16.3"
REDOCLY_VERSION = "2.77.0"
APIS = ("clarius", "tscharts", "radiology", "ambra")
TOOLS = {  # name: (npm package, version, entry point inside the package)
    "spectral": ("@stoplight/spectral-cli", SPECTRAL_VERSION, "dist/index.js"),
    "redocly": ("@redocly/cli", REDOCLY_VERSION, "bin/cli.js"),
}


class LintUnavailable(Exception):
    """Node.js or npm is missing, or the linters could not be installed."""


@dataclass
class LintResult:
    tool: str
    version: str
    ok: bool
    output: str  # what the tool printed (its findings, or that there were none)


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medimock"


def node_available() -> str | None:
    """Why the linters cannot run here, or None when Node.js and npm are both on PATH."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not found on PATH" if missing else None


def install(tool: str) -> list[str]:
    """The command running ``tool`` (its JS entry point under node), installing it into the cache first if needed."""
    package, version, entry = TOOLS[tool]
    home = cache_home() / f"{tool}-{version}"
    script = home / "node_modules" / package / entry
    if not script.exists():
        why = node_available()
        if why:
            raise LintUnavailable(why)
        print(f"installing {package}@{version} into {home}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(home),
                "--save-exact",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"{package}@{version}",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0 or not script.exists():
            raise LintUnavailable(f"npm install {package}@{version} failed: {(done.stderr or done.stdout)[-2000:]}")
    return ["node", str(script)]


def spec_paths(apis: tuple[str, ...] = APIS) -> list[str]:
    return [f"specs/{api}/openapi.yaml" for api in apis]


def run_spectral(apis: tuple[str, ...] = APIS, files: list[str] | None = None) -> LintResult:
    """Spectral over the specs of ``apis`` (or over ``files``: the repository's ruleset, no per-spec exception applies)."""
    command = install("spectral")
    done = subprocess.run(
        [*command, "lint", "--ruleset", ".spectral.yaml", "--fail-severity", "warn", "--format", "stylish", *(files or spec_paths(apis))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return LintResult("spectral", SPECTRAL_VERSION, done.returncode == 0, (done.stdout + done.stderr).strip())


def run_redocly(apis: tuple[str, ...] = APIS, files: list[str] | None = None) -> LintResult:
    """Redocly exits non-zero on errors only; its JSON totals say whether there were warnings too.

    ``apis`` are names of ``redocly.yaml``'s ``apis`` (each with its exceptions); ``files`` get the plain ``recommended``.
    """
    command = install("redocly")
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    done = subprocess.run(
        [*command, "lint", "--format", "json", *(files or apis)], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
    )
    reports = _json_documents(done.stdout)  # one report per API, one after the other
    if not reports:
        return LintResult("redocly", REDOCLY_VERSION, False, (done.stdout + done.stderr).strip()[-4000:])
    totals = {kind: sum((r.get("totals") or {}).get(kind, 0) for r in reports) for kind in ("errors", "warnings")}
    lines = []
    for problem in (p for r in reports for p in r.get("problems") or []):
        where = (problem.get("location") or [{}])[0]
        source = str((where.get("source") or {}).get("ref", ""))
        lines.append(f"{source} {where.get('pointer', '')}: {problem.get('severity')} {problem.get('ruleId')} {problem.get('message')}")
    lines.append(f"{len(reports)} specs: {totals['errors']} errors, {totals['warnings']} warnings")
    ok = done.returncode == 0 and not totals.get("errors") and not totals.get("warnings")
    return LintResult("redocly", REDOCLY_VERSION, ok, "\n".join(lines))


def _json_documents(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = text.find("{")
    while at >= 0:
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            break
        if isinstance(value, dict):
            found.append(value)
        at = text.find("{", end)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medimock.spec_lint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", action="append", choices=APIS, help="only this spec (repeatable; default all four)")
    args = parser.parse_args(argv)
    apis = tuple(args.api or APIS)
    try:
        results = [run_spectral(apis), run_redocly(apis)]
    except LintUnavailable as exc:
        print(f"lint-specs: not run: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(f"== {result.tool} {result.version}: {'clean' if result.ok else 'FINDINGS'}")
        print(result.output)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
