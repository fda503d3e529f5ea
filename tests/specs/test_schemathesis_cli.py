"""schemathesis's own CLI finds nothing in the mock, for each of the four specs (issue 16).

``st run`` as a user runs it - every phase (examples, coverage, fuzzing, stateful), every check,
the seeded credentials - against a mock served on a free loopback port (``medimock.verify_specs``,
which ``make verify-specs`` runs with a large budget). Here the budget fits CI: a fixed seed (so a
failure reproduces: ``MEDIMOCK_ST_SEED`` picks another), a few examples per operation, and for
Ambra the commands the mock serves by hand (sessions, links, /bundle, the study lifecycle, sharing,
approval, tags and audit: 48 operations, ~45 s) instead of all 925 operations (~4 min at two examples).
"""

from __future__ import annotations

import os

import pytest

from medimock import verify_specs

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MEDIMOCK_ST_SEED", "20240607"))
EXAMPLES = {"clarius": 10, "tscharts": 10, "radiology": 10, "ambra": 2}
AMBRA_SAMPLE = r"^/(session|link|bundle)(/|$)|^/study/(add|get|set|delete|list|count|share|approve|audit|tag)(/|$)"


@pytest.fixture(scope="module")
def runs() -> dict[str, verify_specs.CliRun]:
    found = {}
    for api in verify_specs.APIS:  # one mock per spec, as make verify-specs does
        extra = {"ambra": ["--include-path-regex", AMBRA_SAMPLE]}
        (cli,) = verify_specs.run((api,), examples=EXAMPLES[api], seed=SEED, extra_for=extra)
        found[api] = cli
    return found


@pytest.mark.parametrize("api", verify_specs.APIS)
def test_schemathesis_cli_finds_nothing(runs, api):
    cli = runs[api]
    assert "Selected:" in cli.output, f"st run did not run:\n{cli.output[-3000:]}"
    assert cli.ok, f"{' '.join(cli.command)}\n(in {cli.seconds:.0f} s; `st replay <id>` in a checkout reproduces a case)\n{cli.summary()}"
