"""``medimock contract``: run the packaged contract suites (``contracts/<api>/``) with pytest against a target.

    medimock contract [--api clarius] [--target URL] [--strict] [--junit FILE] [--report DIR] [--examples N] [--serial] [-- PYTEST_ARGS]

The same run as ``make contract API=... TARGET=...`` (which calls this), from an installed
package or a checkout alike: the suites, the specs they read and the conformance report's
plugin all come from the package (``medimock.resources``), and pytest gets its whole
configuration here (``-c`` names no file), so neither a ``pytest.ini`` in the current
directory nor one above the virtual environment changes the run. pytest runs in the folder
that holds ``contracts/`` (so failures read ``FAILED contracts/<api>/...``); the reports and
Hypothesis's directory are placed relative to the caller's current directory.

Exit codes: 0 every check passed, 1 a violation (a failed check or workflow), 2 a usage
error, a target that cannot be reached, or a suite that could not run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .resources import contracts_dir
from .target import CREDENTIAL_ENV, MOUNTS

APIS = tuple(MOUNTS)
EXIT_PASSED, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
_DEFAULT_EXAMPLES = 25  # medimock.suite.max_examples()

DESCRIPTION = """\
Run medimock's contract suites against a server: schemathesis property tests over every operation
of the API's spec, and workflow tests (behaviour across calls). Each failure names the operation,
the request (as a curl command) and what was expected. Without --target the suites start medimock's
own mock on a free loopback port and test that.
"""

_MOUNTS = ", ".join(f"{api} {MOUNTS[api] or '/'}" for api in APIS)
_VARIABLES = "\n".join(
    textwrap.fill(", ".join(CREDENTIAL_ENV[api].values()), 100, initial_indent=f"    {api:10} ", subsequent_indent=" " * 15) for api in APIS
)

EPILOG = f"""\
target:
  --api NAME --target URL   URL is that API's base URL (what medimock serves at the API's mount:
                            the host root for clarius and tscharts, https://host/api/v3 for ambra,
                            https://host/radiology for radiology on a medimock)
  --target URL              several APIs: URL is a root serving each at medimock's mounts
                            ({_MOUNTS})
  When the target is a medimock (it serves /__mock__/credentials) the credentials come from it;
  otherwise from the environment:
{_VARIABLES}
  (README "Credentials" says what each is for.)

outputs (relative to the current directory unless absolute):
  JUnit XML         reports/junit-contract-<api>.xml (one API) or reports/junit-contracts.xml
  conformance       reports/conformance-contract-<api>.html/.md/.json (or -contracts), or in --report DIR

exit codes:
  0  every check passed
  1  violations: a check or a workflow failed (with --strict, medimock conventions count too)
  2  usage error, the target cannot be reached, or a suite could not run

examples:
  medimock contract --api clarius --target https://staging.example.com
  medimock contract --target http://127.0.0.1:8080 --examples 5
  medimock contract --api ambra --target https://uat.example.com/api/v3 -- -k study -x
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--api", action="append", choices=APIS, help="the API whose suite runs (repeatable; default: every API)")
    parser.add_argument(
        "--target", metavar="URL", help="the server to test (see 'target' below; default: medimock's own mock, started here)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="medimock's conventions (what a vendor document does not say) fail the run too, not only document violations "
        "(pytest's --medimock-strict, MEDIMOCK_STRICT=1)",
    )
    parser.add_argument("--junit", metavar="FILE", help="JUnit XML file (default: reports/junit-contract-<api>.xml)")
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="directory of the conformance report (HTML, Markdown, JSON; default: beside the JUnit XML); 'off' writes none",
    )
    parser.add_argument(
        "--examples",
        type=int,
        metavar="N",
        help=f"generated examples per operation (default {_DEFAULT_EXAMPLES}; ambra gets 3/25 of it, at least 1; 200 is `make contract FULL=1`)",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="run the suites one after another in one process (default with several APIs: Ambra's suite beside the others', "
        "two pytest-xdist workers)",
    )
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="after --: more pytest arguments (e.g. -k pagination -x)")


def run(args: argparse.Namespace) -> int:
    apis = list(dict.fromkeys(args.api or APIS))
    if args.examples is not None and args.examples < 1:
        return _usage("--examples must be at least 1")
    env = dict(os.environ)
    if args.target:
        target = args.target.rstrip("/")
        if not target.startswith(("http://", "https://")):
            return _usage(f"--target must be an http:// or https:// URL, not {args.target!r}")
        problem = unreachable(target)
        if problem:
            print(f"medimock contract: cannot reach {target}: {problem}", file=sys.stderr)
            return EXIT_USAGE
        if len(apis) == 1:
            env[f"MEDIMOCK_{apis[0].upper()}_URL"] = target
        else:
            env["MEDIMOCK_TARGET"] = target
    extra = list(args.pytest_args)
    if args.strict:
        env["MEDIMOCK_STRICT"] = "1"
        extra.append("--medimock-strict")
    if args.examples is not None:
        env["MEDIMOCK_CONTRACT_EXAMPLES"] = str(args.examples)
    stem = f"contract-{apis[0]}" if len(apis) == 1 else "contracts"
    junit = Path(args.junit or f"reports/junit-{stem}.xml").absolute()
    if args.report:
        extra.append(
            "--conformance-report=" + ("off" if args.report == "off" else str(Path(args.report).absolute() / f"conformance-{stem}"))
        )
    command = pytest_command(apis, junit=str(junit), extra=[*lanes(apis, serial=args.serial), *extra])
    return exit_code(subprocess.run(command, cwd=suites_root(), env=child_environment(env), check=False).returncode)


def pytest_command(apis: Sequence[str], *, junit: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line that runs these APIs' suites, configured here alone.

    Run it in ``suites_root()``. ``-c`` names no configuration file (so none is searched for above
    the suites or the current directory) and ``--rootdir`` is the folder holding ``contracts/``, so
    test ids read ``contracts/<api>/test_....py::...`` installed or not. ``contracts/`` has no ``__init__.py`` and is
    collected with ``--import-mode=importlib``, so no suite module is ever importable as a top-level
    ``contracts`` package (an unrelated package on PyPI).
    """
    unknown = [api for api in apis if api not in APIS]
    if unknown:
        raise ValueError(f"unknown API {unknown[0]!r}; known: {', '.join(APIS)}")
    command = [sys.executable, "-m", "pytest", *(f"contracts/{api}" for api in apis)]
    command += ["-c", os.devnull, "--rootdir", str(suites_root()), "--import-mode=importlib", "-p", "no:cacheprovider", "-ra"]
    if junit:
        command.append(f"--junitxml={junit}")
    return command + list(extra)


def lanes(apis: Sequence[str], *, serial: bool = False) -> list[str]:
    """pytest-xdist's options that run the suites in two lanes at once, or none (one lane, ``--serial``, no xdist).

    Ambra's suite is the longest (two thirds of a run of all four), and the suites' client CPU is most of a run's
    cost: on two cores, Ambra's lane beside the others' takes about as long as Ambra's alone. Each lane is a worker
    (``contracts/conftest.py`` puts each API's tests in its lane's xdist group); the JUnit XML and the conformance
    report are merged by the controller.
    """
    if serial or "ambra" not in apis or len(apis) < 2:
        return []
    try:
        import xdist  # noqa: F401
    except ImportError:
        return []
    return ["-n", "2", "--dist", "loadgroup"]


def suites_root() -> Path:
    """Where pytest runs: the folder that holds ``contracts/`` (the checkout, or the installed package)."""
    return contracts_dir().parent


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """The suites' environment: bytecode (pytest's rewritten modules too) kept in medimock's cache directory, never
    beside the installed suites, and Hypothesis's directory in the caller's current directory, not in the suites' folder.

    pytest rewrites the assertions of every module of each distribution that registers a pytest plugin
    (schemathesis, hypothesis, faker, anyio, medimock: 350 modules) and of the suites; without a place to keep the
    result it parses and compiles them all again in every process, 2 s of each run's start (and of each xdist
    worker's): ``pytest --collect-only`` of the suites 3.0 s, 1.1 s with the cache. ``PYTHONPYCACHEPREFIX`` puts
    that cache outside every source folder (``MEDIMOCK_PYCACHE``: another directory; ``off``: none, as before).
    """
    child = {"HYPOTHESIS_STORAGE_DIRECTORY": str(Path(".hypothesis").absolute()), **env}
    cache = bytecode_cache(env)
    if cache is None:
        child["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        child.pop("PYTHONDONTWRITEBYTECODE", None)  # set to keep source folders clean: the prefix does that
        child["PYTHONPYCACHEPREFIX"] = cache
    return child


def bytecode_cache(env: dict[str, str]) -> str | None:
    """Where the suites' processes keep bytecode: ``MEDIMOCK_PYCACHE``, else a ``PYTHONPYCACHEPREFIX`` already set,
    else ``$XDG_CACHE_HOME/medimock/pycache`` (``~/.cache``); None for ``MEDIMOCK_PYCACHE=off`` or no home."""
    chosen = env.get("MEDIMOCK_PYCACHE", "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return str(Path(chosen).expanduser().absolute())
    if env.get("PYTHONPYCACHEPREFIX"):
        return env["PYTHONPYCACHEPREFIX"]
    base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
    return str(Path(base) / "medimock" / "pycache") if base else None


def exit_code(pytest_code: int) -> int:
    """pytest's exit code as this command's: 0 passed, 1 violations, 2 anything that kept the suites from judging."""
    if pytest_code in (EXIT_PASSED, EXIT_VIOLATIONS):
        return pytest_code
    return EXIT_USAGE  # 2 interrupted (the suites exit 2 when the target is unusable), 3 internal error, 4 usage, 5 no tests


def unreachable(url: str, timeout: float = 10.0) -> str | None:
    """Why ``url`` cannot be reached (no connection, no HTTP answer), or None: any HTTP status will do."""
    import requests

    try:
        requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.exceptions.InvalidURL as exc:
        return f"not a valid URL ({exc})"
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def _usage(message: str) -> int:
    print(f"medimock contract: {message}", file=sys.stderr)
    return EXIT_USAGE
