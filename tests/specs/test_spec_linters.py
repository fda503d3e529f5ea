"""Spectral and Redocly, tools nobody on the project wrote, find nothing in the four specs (``make lint-specs``).

They need Node.js and npm; without them the tests are skipped and say so. The linters are installed
into the user's cache on first use (about 15 s from the npm registry), then each run takes ~10 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medimock import spec_lint

pytestmark = pytest.mark.slow

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="module")
def linters() -> None:
    why = spec_lint.node_available()
    if why:
        pytest.skip(f"Spectral and Redocly not run: {why} (install Node.js 20+ and npm to run them)")
    try:
        spec_lint.install("spectral")
        spec_lint.install("redocly")
    except spec_lint.LintUnavailable as exc:
        pytest.skip(f"Spectral and Redocly not run: {exc}")


def test_spectral_finds_nothing(linters):
    result = spec_lint.run_spectral()
    assert result.ok, f"Spectral {result.version} (spectral:oas, .spectral.yaml):\n{result.output}"


def test_redocly_finds_nothing(linters):
    result = spec_lint.run_redocly()
    assert result.ok, f"Redocly {result.version} (recommended, redocly.yaml):\n{result.output}"


def test_the_gate_fails_on_what_the_linters_found_before(linters, tmp_path):
    """The radiology spec with the two findings of issue 16 put back: an array without items (a Spectral
    error) and a flow mapping split by the comma in a description (a Redocly struct error)."""
    text = (SPECS / "radiology" / "openapi.yaml").read_text()
    broken = text.replace(
        "\n  schemas:\n",
        "\n  schemas:\n    Broken:\n      type: object\n      properties:\n"
        "        results: {type: array}\n        next: {type: [string, 'null'], description: URL of the next page, null on the last.}\n",
        1,
    )
    assert broken != text
    spec = tmp_path / "openapi.yaml"
    spec.write_text(broken)
    spectral = spec_lint.run_spectral(files=[str(spec)])
    assert not spectral.ok and "array-items" in spectral.output, spectral.output
    redocly = spec_lint.run_redocly(files=[str(spec)])
    assert not redocly.ok and "struct" in redocly.output, redocly.output
