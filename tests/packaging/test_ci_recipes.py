"""The CI recipes in examples/ci/ run: every ``run:`` step (GitHub Actions) and every script line (GitLab CI),
as written, with the medimock wheel (``conftest.installed``).

Each job runs in a fresh directory holding what an integrator's repository would (``tests/``: the
example client and its tests against a served mock). What the runner provides, the test provides:
``$GITHUB_ENV`` (read back between steps), the job's variables, ``actions/checkout`` and
``actions/setup-python`` (the directory and the virtual environment). It changes only what must differ on
a shared machine or costs time: the ports (free ones), ``MEDIMOCK_PACKAGE`` (the wheel), the load test's
duration, and the contract step runs a slice of its suite with one example per operation
(``test_installed.py`` runs the suites from the package in full); secrets are empty, as in a fork's build.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
PROVIDED = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")  # what a local run stands in for
EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Job:
    """One job's shell steps, each in a process group of its own (servers started with ``&`` are stopped at the end)."""

    def __init__(self, installed: Any, name: str, variables: dict[str, str]) -> None:
        self.installed = installed
        self.repository = installed.work / f"repository-{name}"
        tests = self.repository / "tests"
        tests.mkdir(parents=True)
        shutil.copy(RECIPES / "test_client_against_medimock.py", tests)
        shutil.copy(ROOT / "examples" / "clarius_client.py", tests)
        self.groups: list[int] = []
        self.env = {**installed.env, **variables}
        self.log: list[str] = []

    def run(self, script: str, extra_env: dict[str, str] | None = None) -> int:
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.repository,
            env={**self.env, **(extra_env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.groups.append(process.pid)
        output, _ = process.communicate(timeout=600)
        self.log.append(f"$ {script.strip()}\n{output[-4000:]}(exit {process.returncode})")
        return process.returncode

    def stop(self) -> None:
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def plain(variables: dict[str, Any]) -> dict[str, str]:
    """Variables with their ``${{ ... }}`` expressions (secrets) empty."""
    return {name: EXPRESSION.sub("", str(value)) for name, value in variables.items()}


def overrides(variables: dict[str, Any], installed: Any) -> dict[str, str]:
    """A job's variables as a local run sets them: secrets empty, free ports, the wheel, short runs."""
    found = plain(variables)
    mock_port, server_port = free_port(), free_port()
    found["MEDIMOCK_PACKAGE"] = str(installed.wheel)
    found["MEDIMOCK_PORT"] = str(mock_port)
    for name in ("SERVER_URL", "SERVER_START"):
        if name in found:
            found[name] = found[name].replace("9000", str(server_port))
    if "LOAD_DURATION" in found:
        found["LOAD_DURATION"] = "2s"
    if "SERVER_START" in found:  # test_installed.py runs the suites in full; here the contract step runs a slice
        found["MEDIMOCK_CONTRACT_EXAMPLES"] = "1"
        found["PYTEST_ADDOPTS"] = "-k 'test_operation_honours_contract or test_pagination_walk'"
    return found


def github_jobs() -> dict[str, Any]:
    workflow = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    return {name: (workflow.get("env") or {}, job) for name, job in workflow["jobs"].items()}


def gitlab_jobs() -> dict[str, Any]:
    pipeline = yaml.safe_load((RECIPES / "gitlab-ci.yml").read_text())
    return {name: (pipeline.get("variables") or {}, job) for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}


def test_the_recipes_cover_both_uses_with_the_cli():
    for jobs in (github_jobs(), gitlab_jobs()):
        text = yaml.safe_dump(jobs)
        assert len(jobs) == 2 and "medimock serve" in text and "medimock contract" in text and "medimock load" in text
        assert "make " not in text and "git clone" not in text, "a recipe needs the package, not a checkout"


def run_github_job(installed: Any, job_name: str) -> tuple[bool, Job]:
    workflow_env, job = github_jobs()[job_name]
    local = Job(installed, f"github-{job_name}", overrides({**workflow_env, **(job.get("env") or {})}, installed))
    github_env = local.repository / "github-env"
    github_env.touch()
    failed = False
    try:
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"].startswith(PROVIDED), f"{job_name}: a local run cannot stand in for {step['uses']}"
                continue
            if failed and "always()" not in str(step.get("if", "")):
                continue
            exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines() if "=" in line)
            code = local.run(step["run"], {**exported, **plain(step.get("env") or {}), "GITHUB_ENV": str(github_env)})
            failed = failed or code != 0
    finally:
        local.stop()
    return not failed, local


def run_gitlab_job(installed: Any, job_name: str) -> tuple[bool, Job]:
    variables, job = gitlab_jobs()[job_name]
    local = Job(installed, f"gitlab-{job_name}", overrides({**variables, **(job.get("variables") or {})}, installed))
    try:
        code = local.run("\n".join([*job.get("before_script", []), *job["script"]]))  # one shell, as GitLab's runner does
        local.run("\n".join(job.get("after_script", [])) or "true")
    finally:
        local.stop()
    return code == 0, local


@pytest.fixture(scope="module")
def recipe_runs(installed: Any) -> dict[tuple[str, str], tuple[bool, Job]]:
    """Every job of both files, run side by side (each with its own ports and directory): most of a job is waiting."""
    jobs = [("github", name, run_github_job) for name in github_jobs()] + [("gitlab", name, run_gitlab_job) for name in gitlab_jobs()]
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {(kind, name): pool.submit(runner, installed, name) for kind, name, runner in jobs}
        return {job: future.result() for job, future in futures.items()}


@pytest.mark.parametrize("job_name", sorted(github_jobs()))
def test_github_actions_job_runs(recipe_runs, job_name):
    ok, local = recipe_runs[("github", job_name)]
    assert ok, "\n\n".join(local.log)
    reports = local.repository / "reports"
    assert any(reports.glob("junit-*.xml")), sorted(p.name for p in reports.iterdir())


@pytest.mark.parametrize("job_name", sorted(gitlab_jobs()))
def test_gitlab_ci_job_runs(recipe_runs, job_name):
    ok, local = recipe_runs[("gitlab", job_name)]
    assert ok, "\n\n".join(local.log)
    assert (local.repository / gitlab_jobs()[job_name][1]["artifacts"]["reports"]["junit"]).is_file()
