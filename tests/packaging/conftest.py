"""medimock as a user installs it: the wheel in a new virtual environment, used from outside the checkout.

``installed`` builds the sdist and, from it, the wheel (``python -m build``: so the sdist is proved
complete too), creates a virtual environment in a temporary directory and installs the wheel there
with pip (its dependencies from pip's cache or the index, as a user gets them). Every command then runs
with the temporary directory as its working directory and an environment without PYTHONPATH or any
MEDIMOCK_* setting, so nothing can come from the checkout; ``test_installed.py`` checks that too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Settings of the caller that must not reach the installed package.
_DROPPED = ("MEDIMOCK_", "PYTHON", "VIRTUAL_ENV", "PYTEST_", "CLARIUS_", "TSCHARTS_", "RADIOLOGY_", "AMBRA_", "PIP_REQUIRE_VIRTUALENV")


@dataclass
class Installed:
    """A virtual environment holding the medimock wheel, and a working directory outside the checkout."""

    venv: Path
    wheel: Path
    sdist: Path
    work: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    def run(
        self, *command: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command in the environment (``medimock ...`` resolves to the venv's script), from the working directory."""
        program = str(self.bin / command[0]) if (self.bin / command[0]).exists() else command[0]
        return subprocess.run(
            [program, *command[1:]],
            cwd=cwd or self.work,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("installed")
    timings: dict[str, float] = {}
    started = time.monotonic()
    dist = base / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], capture_output=True, text=True, timeout=600, cwd=base
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    timings["build sdist, then the wheel from it"] = time.monotonic() - started
    wheel = next(dist.glob("medimock-*.whl"))
    sdist = next(dist.glob("medimock-*.tar.gz"))

    started = time.monotonic()
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    work = base / "work"
    work.mkdir()
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stdout[-4000:] + pip.stderr[-4000:]
    timings["new venv, pip install <wheel>"] = time.monotonic() - started
    yield Installed(venv, wheel, sdist, work, env, timings)
    print("\n".join(f"packaging: {what}: {seconds:.1f} s" for what, seconds in timings.items()))
    shutil.rmtree(base, ignore_errors=True)


class ServedMock:
    """``medimock serve --port 0`` in the installed environment, stopped at the end."""

    def __init__(self, installed: Installed, *args: str) -> None:
        self.log = installed.work / f"serve-{time.monotonic_ns()}.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(installed.bin / "medimock"), "serve", "--port", "0", *args],
                cwd=installed.work,
                env=installed.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        self.url = ""
        while not self.url and time.monotonic() < deadline and self.process.poll() is None:
            found = [line for line in self.log.read_text().splitlines() if line.startswith("medimock listening on ")]
            if found:
                self.url = found[0].split("listening on ", 1)[1].split()[0]
            time.sleep(0.05)
        if not self.url:
            self.stop()
            raise AssertionError(f"medimock serve did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(scope="session")
def served(installed: Installed) -> Iterator[ServedMock]:
    mock = ServedMock(installed, "--strict")
    try:
        yield mock
    finally:
        mock.stop()
