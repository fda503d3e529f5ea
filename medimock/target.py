"""Where the contract suites send their requests, and with which credentials.

The suites know nothing of the mock's internals: they get a base URL per API and
credentials, from the environment, and otherwise start the mock as a subprocess
on a free loopback port (``python -m mockserver --port 0``) and stop it after.

Environment (all optional):

    MEDIMOCK_TARGET           root URL of a server serving the APIs at medimock's mounts
                              (clarius and tscharts at /, ambra at /api/v3, radiology at /radiology)
    MEDIMOCK_<API>_URL        exact base URL of one API (e.g. MEDIMOCK_AMBRA_URL=https://host/api/v3)
    MEDIMOCK_CONTROL_URL      root URL of a medimock control API (/__mock__) to use for workflows
                              that need it (webhooks, simulated uploads); derived from the target
                              when it serves /__mock__/credentials (for MEDIMOCK_<API>_URL alone: the
                              root that API's medimock mount implies, then the URL's origin)
    CLARIUS_API_KEY           "<prefix>.<secret>" for the Clarius API
    AMBRA_LOGIN, AMBRA_PASSWORD ...  Ambra credentials (CREDENTIAL_ENV below lists every variable)
    MEDIMOCK_EMBEDDED_ARGS    extra arguments for the embedded mock (e.g. "--defect clarius.auth_ignored")
    MEDIMOCK_EMBEDDED_STRICT  "0" runs the embedded mock without strict response validation (so that a
                              deliberately broken variant is caught by the suite, not by the mock itself)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

MOUNTS = {"clarius": "", "tscharts": "", "ambra": "/api/v3", "radiology": "/radiology"}

# API -> {credential name: environment variable}
CREDENTIAL_ENV = {
    "clarius": {
        "api_key": "CLARIUS_API_KEY",
        # the Research API (a research user with the Research Bundle, and exams of its institution)
        "research_username": "CLARIUS_RESEARCH_USERNAME",
        "research_password": "CLARIUS_RESEARCH_PASSWORD",
        "research_exam_id": "CLARIUS_RESEARCH_EXAM_ID",  # an exam the user may read, processed
        "research_processing_exam_id": "CLARIUS_RESEARCH_PROCESSING_EXAM_ID",  # one still being processed
        "research_other_exam_id": "CLARIUS_RESEARCH_OTHER_EXAM_ID",  # an exam of another institution
        "research_unknown_exam_id": "CLARIUS_RESEARCH_UNKNOWN_EXAM_ID",  # an id no exam has
        "research_no_bundle_username": "CLARIUS_RESEARCH_NO_BUNDLE_USERNAME",  # a user without the Research Bundle
        "research_no_bundle_password": "CLARIUS_RESEARCH_NO_BUNDLE_PASSWORD",
        "research_expired_link": "CLARIUS_RESEARCH_EXPIRED_LINK",  # a raw_image or download_url older than 7 days
    },
    "tscharts": {
        "token": "TSCHARTS_TOKEN",
        "username": "TSCHARTS_USERNAME",
        "password": "TSCHARTS_PASSWORD",
        # ids (comma-separated) of existing patients, clinics and stations, for the image workflows
        "patients": "TSCHARTS_PATIENTS",
        "clinics": "TSCHARTS_CLINICS",
        "stations": "TSCHARTS_STATIONS",
    },
    "radiology": {
        "client_id": "RADIOLOGY_CLIENT_ID",
        "client_secret": "RADIOLOGY_CLIENT_SECRET",
        "organization_id": "RADIOLOGY_ORGANIZATION_ID",
        "expired_token": "RADIOLOGY_EXPIRED_TOKEN",
        "other_order_id": "RADIOLOGY_OTHER_ORDER_ID",
        "study_uid_with_several_orders": "RADIOLOGY_MULTI_ORDER_STUDY_UID",
        "study_group": "RADIOLOGY_STUDY_GROUP",
        # an order of the organisation with a FINAL report, and its study (steer the property tests to real data)
        "order_id": "RADIOLOGY_ORDER_ID",
        "study_uid": "RADIOLOGY_STUDY_UID",
        # a client of the same organisation allowed only one scope, for the wrong-scope workflow
        "single_scope_client_id": "RADIOLOGY_SINGLE_SCOPE_CLIENT_ID",
        "single_scope_client_secret": "RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET",
    },
    "ambra": {
        "login": "AMBRA_LOGIN",  # an administrator of the account the suite works in
        "password": "AMBRA_PASSWORD",
        "user_login": "AMBRA_USER_LOGIN",  # a member with the User role (the permission workflow)
        "user_password": "AMBRA_USER_PASSWORD",
        "phr_login": "AMBRA_PHR_LOGIN",  # a spare user the property tests may log in over and over
        "phr_password": "AMBRA_PHR_PASSWORD",
        "oauth_client_id": "AMBRA_OAUTH_CLIENT_ID",  # client credentials for /session/oauth/token
        "oauth_client_secret": "AMBRA_OAUTH_CLIENT_SECRET",
        "account_id": "AMBRA_ACCOUNT_ID",  # the administrator's account and its namespace (else from /session/user)
        "namespace_id": "AMBRA_NAMESPACE_ID",
    },
}


class TargetError(RuntimeError):
    """The target cannot be used: unreachable, or credentials missing."""


@dataclass
class ApiTarget:
    name: str
    base_url: str
    credentials: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass
class Target:
    apis: dict[str, ApiTarget]
    control_url: str | None  # root of /__mock__, when the target has medimock's control API
    embedded: bool

    def api(self, name: str) -> ApiTarget:
        if name not in self.apis:
            raise TargetError(f"the target does not serve {name}")
        return self.apis[name]

    def control(self, path: str) -> str:
        if self.control_url is None:
            raise TargetError("the target has no medimock control API")
        return self.control_url.rstrip("/") + "/__mock__" + path


class EmbeddedMock:
    """The mock server as a subprocess on a free loopback port."""

    def __init__(self, extra_args: list[str] | None = None, strict: bool = True) -> None:
        self.extra_args = list(extra_args or [])
        self.strict = strict
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self._dir = tempfile.TemporaryDirectory(prefix="medimock-contract-")
        self.log_path = Path(self._dir.name) / "server.log"

    def start(self, timeout: float = 30.0) -> str:
        command = [
            sys.executable,
            "-m",
            "mockserver",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(Path(self._dir.name) / "mock.sqlite3"),
            "--webhook-timeout",
            "2",
            *self.extra_args,
        ]
        if self.strict:
            command.append("--strict")
        # MEDIMOCK_STRICT is the suites' switch (conventions fail too); the mock's own --strict is set above
        environ = {k: v for k, v in os.environ.items() if k != "MEDIMOCK_STRICT"}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"), text=True, env=environ)  # noqa: SIM115
        assert self.process.stdout is not None
        line_holder: list[str] = []
        reader = threading.Thread(target=lambda: line_holder.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        line = line_holder[0] if line_holder else ""
        if "listening on " not in line:
            log = self.log_path.read_text()[-4000:] if self.log_path.exists() else ""
            self.stop()
            raise TargetError(f"the embedded mock did not start: {line!r}\n{log}")
        self.url = line.split("listening on ", 1)[1].split()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/__mock__/health", timeout=2).ok:
                    return self.url
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise TargetError("the embedded mock did not answer /__mock__/health")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        self._dir.cleanup()


def discover(apis: list[str], target_url: str | None = None, environ: dict[str, str] | None = None) -> tuple[Target, EmbeddedMock | None]:
    """The target to test, starting the embedded mock when none is configured."""
    env = dict(os.environ if environ is None else environ)
    target_url = target_url or env.get("MEDIMOCK_TARGET") or None
    explicit = {name: env[f"MEDIMOCK_{name.upper()}_URL"] for name in apis if env.get(f"MEDIMOCK_{name.upper()}_URL")}
    embedded = None
    if target_url is None and not explicit:
        embedded = EmbeddedMock(shlex.split(env.get("MEDIMOCK_EMBEDDED_ARGS", "")), strict=env.get("MEDIMOCK_EMBEDDED_STRICT", "1") != "0")
        target_url = embedded.start()
    bases = {}
    for name in apis:
        if name in explicit:
            bases[name] = explicit[name].rstrip("/")
        elif target_url:
            bases[name] = target_url.rstrip("/") + MOUNTS[name]
    control_url = env.get("MEDIMOCK_CONTROL_URL") or target_url
    served = _mock_credentials(control_url) if control_url else None
    if served is None and control_url is None:  # only per-API URLs: is one of them a medimock?
        for candidate in _control_candidates(explicit):
            served = _mock_credentials(candidate)
            if served is not None:
                control_url = candidate
                break
    if served is None:
        control_url = None
    targets = {}
    for name, base in bases.items():
        creds = dict((served or {}).get(name, {}))
        for key, variable in CREDENTIAL_ENV.get(name, {}).items():
            if env.get(variable):
                creds[key] = env[variable]
        targets[name] = ApiTarget(name, base, creds)
    return Target(targets, control_url.rstrip("/") if control_url else None, embedded is not None), embedded


def _control_candidates(explicit: dict[str, str]) -> list[str]:
    """Where a medimock serving these per-API URLs keeps /__mock__: the root the API's mount implies
    (``http://host:8080/api/v3`` -> ``http://host:8080``), then each URL's origin."""
    found: list[str] = []
    for name, url in explicit.items():
        url = url.rstrip("/")
        mount = MOUNTS.get(name, "")
        parsed = urlsplit(url)
        for candidate in (url[: -len(mount)] if mount and url.endswith(mount) else url, f"{parsed.scheme}://{parsed.netloc}"):
            if candidate not in found:
                found.append(candidate)
    return found


def _mock_credentials(root: str) -> dict[str, Any] | None:
    try:
        response = requests.get(root.rstrip("/") + "/__mock__/credentials", timeout=5)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
