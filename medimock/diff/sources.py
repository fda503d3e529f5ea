"""The three scenario sources: the contract workflows, a recording, a seeded property-based sequence.

- ``workflows``: the API's contract workflows (``contracts/<api>/test_workflows.py``) run in a child
  pytest against A, with ``medimock.diff.mirror`` loaded: every request the suite sends to A is sent,
  translated, to B as well, and the pair compared. The suite runs unchanged (its own session, its own
  cleanup, which is mirrored too), so the diff follows the calls the suite really makes; its own
  verdict on A does not matter here.
- ``recording``: a JSON-lines recording of ``medimock proxy --record`` (or ``medimock.intercept``'s
  ``record=``): each exchange replayed to both sides, the recorded reply being the reference of both
  sides' identities; redacted credentials are filled in per side.
- ``property``: schemathesis's generators over the spec with a fixed seed, positive and negative
  cases, the very same cases to both sides. Only operations that change nothing are generated (GET;
  Ambra's ``/get``, ``/list`` and ``/count`` commands), so the diff never touches objects it did not create.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from .compare import Reply
from .engine import Lockstep, StepRequest

_SKIPPED_HEADERS = frozenset(
    {"content-length", "host", "connection", "accept-encoding", "transfer-encoding", "keep-alive", "te", "upgrade", "user-agent"}
)


class SourceError(ValueError):
    """A scenario that cannot be read."""


# -- recording --------------------------------------------------------------------------------------
def run_recording(lockstep: Lockstep, path: str | Path, api: str) -> list[str]:
    """Replay every exchange of a recording of ``api`` to both sides; returns notes (exchanges not replayable)."""
    from mockserver.recording import body_bytes

    notes = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise SourceError(f"cannot read the recording {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            request, response = record["request"], record["response"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise SourceError(f"{path}:{number}: not an exchange of a medimock recording ({exc})") from exc
        if record.get("api") not in (None, api):
            continue
        data = body_bytes(request.get("body"))
        if data is None:
            notes.append(
                f"line {number}: {request['method']} {request['path']}: the body was not kept (multipart or omitted), not replayed"
            )
            continue
        headers = {str(k): str(v) for k, v in request.get("headers") or [] if str(k).lower() not in _SKIPPED_HEADERS}
        from urllib.parse import parse_qsl

        step = StepRequest(
            request["method"].upper(), request["path"], parse_qsl(request.get("query") or "", keep_blank_values=True), headers, data
        )
        recorded_body = body_bytes(response.get("body")) or b""
        recorded = Reply(int(response["status"]), {str(k).lower(): str(v) for k, v in response.get("headers") or []}, recorded_body)
        lockstep.step(step, f"recording line {number}", recorded=recorded)
    return notes


# -- property-based sequence --------------------------------------------------------------------------
def _read_only(method: str, path: str, api: str) -> bool:
    """An operation that changes nothing. Ambra serves every command by GET and by POST alike (``GET /account/add``
    adds an account): there the command's name decides."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if api == "ambra":
        return method.upper() in ("GET", "POST") and last in ("get", "list", "count")
    return method.upper() == "GET"


def run_property(lockstep: Lockstep, api: str, *, seed: int, examples: int, max_operations: int | None = None) -> list[str]:
    """The same seeded schemathesis cases, positive then negative, sent to both sides."""
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    from medimock.target import MOUNTS
    from mockserver.spec import available_specs

    spec = available_specs().get(api)
    if spec is None:
        raise SourceError(f"no spec for {api}")
    schema = schemathesis.openapi.from_path(str(spec))
    mount = MOUNTS.get(api, "")
    operations: list[Any] = []
    for result in schema.get_all_operations():
        operation: Any = result.ok() if hasattr(result, "ok") else result
        if operation is None or not _read_only(operation.method, operation.path, api):
            continue
        if "/__mock__" in operation.path:
            continue
        operations.append(operation)
    operations.sort(key=lambda op: (op.path, op.method))
    if max_operations:
        operations = operations[:max_operations]
    lockstep.login()
    notes = [f"property: {len(operations)} read-only operations, {examples} positive and {examples} negative cases each, seed {seed}"]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases: list[Any] = []

            @hypothesis.seed(seed)
            @settings(
                max_examples=examples,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[hypothesis.Phase.generate],
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def collect(case: Any) -> None:
                cases.append(case)  # noqa: B023 - run at once, inside this iteration

            try:
                collect()
            except Exception as exc:  # noqa: BLE001 - an operation schemathesis cannot generate for: noted, not fatal
                notes.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): no cases ({type(exc).__name__}: {str(exc)[:120]})"
                )
                continue
            for number, case in enumerate(cases[:examples], 1):
                kwargs = case.as_transport_kwargs(base_url="http://diff.invalid" + mount)
                url = kwargs["url"]
                body = kwargs.get("data")
                headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items() if str(k).lower() not in _SKIPPED_HEADERS}
                if "json" in kwargs and kwargs["json"] is not None:
                    body = json.dumps(kwargs["json"]).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(body, dict):
                    from urllib.parse import urlencode

                    body = urlencode(body, doseq=True).encode()
                    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
                params = kwargs.get("params") or {}
                from urllib.parse import urlencode, urlsplit

                path = urlsplit(url).path
                query = "&".join(filter(None, [urlsplit(url).query, urlencode(params, doseq=True)]))
                full = "http://diff.invalid" + path + ("?" + query if query else "")
                step = StepRequest.from_url(
                    case.method, full, "http://diff.invalid", headers, body if isinstance(body, (bytes, str)) else None
                )
                step = lockstep.authenticate(step)
                lockstep.step(step, f"{operation.method.upper()} {operation.path} {mode.value} case {number} (seed {seed})")
    return notes


# -- contract workflows -------------------------------------------------------------------------------
WORKFLOW_FILES = {
    "clarius": ["test_workflows.py", "test_research.py"],
    "tscharts": ["test_workflows.py"],
    "radiology": ["test_workflows.py"],
    "ambra": ["test_workflows.py"],
}


# property tests inside a workflow file: generated cases, which the property scenario sends (read-only ones)
WORKFLOW_EXCLUDED = {"clarius": "test_research_operation_honours_contract"}


def run_workflows(
    config: dict[str, Any], api: str, *, select: str | None = None, timeout: float = 1800
) -> list[tuple[list[dict[str, Any]], list[str]]]:
    """The API's contract workflows against A in a child pytest, mirrored to B (to each of ``config["bs"]``, the settings
    of each B's diff, when given: the suite runs once); returns the step records and notes of each B."""
    from medimock.contract import child_environment, suites_root

    with tempfile.TemporaryDirectory(prefix="medimock-diff-") as folder:
        config_path = Path(folder) / "config.json"
        out = Path(folder) / "steps.json"
        config_path.write_text(json.dumps({**config, "out": str(out)}))
        environ = dict(os.environ)
        for variable in (
            "MEDIMOCK_CONTROL_URL",
            *(f"MEDIMOCK_{name.upper()}_URL" for name in ("clarius", "tscharts", "radiology", "ambra")),
        ):
            environ.pop(variable, None)
        environ.update(
            MEDIMOCK_TARGET=config["a"]["root"],
            MEDIMOCK_DIFF_CONFIG=str(config_path),
            MEDIMOCK_CONFORMANCE_REPORT="off",
            MEDIMOCK_STRICT="0",
        )
        from medimock.target import CREDENTIAL_ENV

        from .setup import suite_environment

        for variable in CREDENTIAL_ENV.get(api, {}).values():  # the suite's inputs on A are A's own, not the caller's
            environ.pop(variable, None)
        environ.update(suite_environment(api, config["a"]["credentials"]))
        files = [f"contracts/{api}/{name}" for name in WORKFLOW_FILES[api]]
        command = [sys.executable, "-m", "pytest", *files, "-c", os.devnull, "--rootdir", str(suites_root()), "--import-mode=importlib"]
        command += ["-p", "no:cacheprovider", "-p", "medimock.diff.mirror", "-q", "--no-header", "-p", "no:randomly"]
        excluded = WORKFLOW_EXCLUDED.get(api)
        if select or excluded:
            command += ["-k", " and ".join(f"({part})" for part in (select, excluded and f"not {excluded}") if part)]
        result = subprocess.run(command, cwd=suites_root(), env=child_environment(environ), capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            raise SourceError(f"the workflows did not run (pytest exit {result.returncode}): {(result.stdout + result.stderr)[-1500:]}")
        data = json.loads(out.read_text())
    summary = (result.stdout.strip().splitlines() or [""])[-1]
    ran = f"workflows: contracts/{api}/{', '.join(WORKFLOW_FILES[api])} against A (pytest: {summary})"
    return [(run["steps"], [ran, *run.get("notes", [])]) for run in data["runs"]]
