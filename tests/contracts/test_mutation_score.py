"""medimock mutation-score on a tiny mutant set: cosmic-ray's or→and mutants of tscharts' handlers.py on two lines, judged by
one test of the tscharts suite (its login workflow), with one of them declared equivalent.

- handlers.py:`if user is None or not password_ok or not user["active"]` → `... is None and not password_ok ...`: a wrong
  password logs in, the login test fails: killed;
- the same line's second `or` → `and`: declared equivalent in this test's file (so never run);
- `sort = ... == "true" or query.get("newest") == "true"` → `and`: the login test never lists images: survived.

The checkout's handlers.py is unchanged afterwards (the mutants live in a copy).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from medimock import mutation_score

HANDLERS = "mockserver/apis/tscharts/handlers.py"
LOGIN_LINE = 'if user is None or not password_ok or not user["active"]:'
SORT_LINE = 'sort = query.get("sort") == "true" or query.get("newest") == "true"'


def line_of(text: str) -> int:
    source = (mutation_score.repository_root() / HANDLERS).read_text().splitlines()
    return next(number for number, line in enumerate(source, 1) if line.strip() == text)


def run_cli(arguments: list[str]) -> int:
    """``medimock mutation-score ARGUMENTS`` in a subprocess; its exit code."""
    command = [sys.executable, "-m", "medimock.mutation_score", *arguments]
    done = subprocess.run(command, cwd=mutation_score.repository_root(), capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode


def test_a_killed_a_survived_and_an_equivalent_mutant(tmp_path: Path) -> None:
    checkout = mutation_score.repository_root() / HANDLERS
    before = hashlib.sha256(checkout.read_bytes()).hexdigest()
    equivalents = tmp_path / "equivalents.yaml"
    equivalents.write_text(
        yaml.safe_dump(
            {
                "mutants": [
                    {
                        "file": HANDLERS,
                        "function": "login",
                        "operator": "core/ReplaceOrWithAnd",
                        "before": LOGIN_LINE,
                        "after": 'if user is None or not password_ok and not user["active"]:',
                        "reason": "declared in this test, to check that a declared mutant is reported and not run",
                    }
                ]
            }
        )
    )
    record = tmp_path / "MUTATION.md"
    record.write_text("# Mutation test of the contract suites\n\nthe planted defects' table\n")
    out = tmp_path / "score.md"
    # in a process of its own, as `medimock mutation-score` runs: parsing the source (parso, then cosmic-ray) shares
    # CPython 3.11's AST recursion counter with any thread another test left running in this worker (python/cpython
    # gh-106905: "AST constructor recursion depth mismatch")
    code = run_cli(
        [
            "--api=tscharts",
            f"--file={HANDLERS}",
            "--operator=core/ReplaceOrWithAnd",
            f"--line={line_of(LOGIN_LINE)}",
            f"--line={line_of(SORT_LINE)}",
            "-k",
            "test_login_gives_a_working_token",
            "--examples=1",
            f"--equivalents={equivalents}",
            f"--out={out}",
            f"--record={record}",
            "--min-score=1",
        ]
    )
    [score] = json.loads(out.with_suffix(".json").read_text())
    by_line = {(m["line"], m["after"]): m for m in score["mutants"]}
    assert len(by_line) == 3
    killed = by_line[(line_of(LOGIN_LINE), 'if user is None and not password_ok or not user["active"]:')]
    assert killed["status"] == "killed" and "test_login_gives_a_working_token" in killed["by"]
    equivalent = by_line[(line_of(LOGIN_LINE), 'if user is None or not password_ok and not user["active"]:')]
    assert equivalent["status"] == "equivalent" and equivalent["seconds"] == 0
    survived = by_line[(line_of(SORT_LINE), SORT_LINE.replace(" or ", " and "))]
    assert survived["status"] == "survived"
    assert score["score"] == 0.5 and code == 1  # one of the two judged mutants killed, below --min-score 1
    report = out.read_text()
    assert f"{HANDLERS}:{line_of(SORT_LINE)}" in report and "| tscharts | 3 | 1 | 0 | 1 | 0 | 1 | **50.0%** | 50.0% |" in report
    recorded = record.read_text()
    assert recorded.startswith("# Mutation test of the contract suites") and "## Independent mutation score" in recorded
    assert mutation_score.with_section(recorded, report) == recorded  # the section is replaced, not appended again
    assert hashlib.sha256(checkout.read_bytes()).hexdigest() == before
    # --again over that run: the same three mutants, drawn from the same three (the run's --file and --line), not from
    # every mutant of the API, which is what --again enumerates without them
    again = tmp_path / "again.md"
    run_cli(["--again", str(out.with_suffix(".json")), "--no-judging", f"--equivalents={equivalents}", f"--out={again}"])
    [rescored] = json.loads(again.with_suffix(".json").read_text())
    assert len(rescored["mutants"]) == 3 and rescored["enumerated"] == score["enumerated"] == 3
    assert rescored["files"] == score["files"] == [HANDLERS]


ENUMERATE = """
import json, sys
from medimock import mutation_score
found = mutation_score.enumerate_mutants("tscharts", mutation_score.repository_root(), [sys.argv[1]], [sys.argv[2]])
print(json.dumps([[m.status, m.after] for m in found]))
"""


def test_mutants_in_annotations_are_equivalent_and_every_declaration_needs_a_reason(tmp_path: Path) -> None:
    # enumerated in a process of its own, as run_cli above does
    command = [sys.executable, "-c", ENUMERATE, HANDLERS, "core/ReplaceBinaryOperator_BitOr_BitAnd"]
    mutants = json.loads(subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout)
    assert mutants and all(status == mutation_score.EQUIVALENT for status, _ in mutants)  # `int | None` only
    assert any("int & None" in after for _, after in mutants)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"mutants": [{"file": HANDLERS, "function": "login", "operator": "core/AddNot", "before": "a", "after": "b"}]})
    )
    with pytest.raises(ValueError, match="reason"):
        mutation_score.Equivalents.load(bad)


def test_the_section_is_replaced_between_its_markers() -> None:
    text = "# Mutation test\n\ntable\n"
    once = mutation_score.with_section(text, "# Independent mutation score\n\nfirst\n")
    assert once.startswith(text.rstrip()) and "## Independent mutation score" in once and "first" in once
    twice = mutation_score.with_section(once + "after\n", "# Independent mutation score\n\nsecond\n")
    assert "first" not in twice and "second" in twice and twice.endswith("after\n")
    assert mutation_score.section_of(twice).startswith(mutation_score.SECTION_START)


def test_a_removed_decorator_is_declared_by_its_lines_without_the_blanks_around_them(tmp_path: Path) -> None:
    """A RemoveDecorator mutant's ``before`` starts with the blank lines above the decorator (`` /  / @lru_cache(...)``):
    a declaration names it with or without them (YAML keeps a leading blank only quoted)."""
    store = "mockserver/apis/ambra/store.py"
    mutant = mutation_score.Mutant("ambra", store, "core/RemoveDecorator", 0, 135, "<module>", " /  / @lru_cache(maxsize=1)", "")
    for before in ("/  / @lru_cache(maxsize=1)", " /  / @lru_cache(maxsize=1)"):
        path = tmp_path / "declared.yaml"
        entry = {"file": store, "function": "<module>", "operator": "core/RemoveDecorator", "before": before, "after": ""}
        path.write_text(yaml.safe_dump({"mutants": [{**entry, "kind": "equivalent", "reason": "a cache of the same value"}]}))
        assert mutation_score.Equivalents.load(path).declared(mutant) == ("equivalent", "a cache of the same value")


def test_a_mutant_never_runs_the_bytecode_of_the_source_it_replaced(tmp_path: Path) -> None:
    """Suite runs keep bytecode in the copy (PYTHONPYCACHEPREFIX), but not the mock's: a mutant of the same size written
    within the same second as the source it replaces looks unchanged to Python's .pyc check (size and mtime)."""
    module = tmp_path / "mockserver" / "mutated.py"
    module.parent.mkdir()
    (module.parent / "__init__.py").write_text("")
    environ = mutation_score.suite_environment("tscharts", tmp_path, 1)
    assert "PYTHONDONTWRITEBYTECODE" not in environ and environ["PYTHONPYCACHEPREFIX"] == str(tmp_path / mutation_score.BYTECODE)

    def value() -> str:
        command = [sys.executable, "-c", "import mockserver.mutated as m; print(m.A)"]
        return subprocess.run(command, env=environ, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    module.write_text("A = 1 + 1\n")
    stamp = module.stat().st_mtime_ns
    assert value() == "2" and any((tmp_path / mutation_score.BYTECODE).rglob("mutated*.pyc"))
    module.write_text("A = 1 - 1\n")  # cosmic-ray's Add -> Sub: the same size
    os.utime(module, ns=(stamp, stamp))  # and, as within one second, the same mtime
    assert value() == "2"  # the stale bytecode: what a mutant would run without the cleanup
    mutation_score.forget_mock_bytecode(tmp_path)
    assert value() == "0"


def test_pooled_reports_count_each_mutant_once_with_the_last_verdict_and_todays_declarations(tmp_path: Path) -> None:
    """--pool: the same mutant drawn by two samples (its line moved between them) counts once, with the later report's
    verdict (with a note when that undoes a kill); a mutant declared since counts as declared, one declared then but not
    now counts as a survivor; a file that is not a report is a clear error (exit 2)."""

    def mutant(line: int, after: str, status: str, occurrence: int = 0, reason: str = "") -> dict[str, object]:
        return {"api": "tscharts", "file": HANDLERS, "operator": "core/ReplaceOrWithAnd", "occurrence": occurrence, "line": line,
                "function": "login", "before": LOGIN_LINE, "after": after, "status": status, "by": "", "reason": reason, "seconds": 1.0}  # fmt: skip

    first_after, second_after, third_after = (LOGIN_LINE.replace(" or ", " and ", 1), LOGIN_LINE.replace("or not user", "and not user"),
                                              LOGIN_LINE.replace("is None", "is not None"))  # fmt: skip
    older = [{"api": "tscharts", "enumerated": 115, "mutants": [mutant(40, first_after, "killed"), mutant(40, second_after, "survived", 1),
              mutant(41, third_after, "unspecified", 2, "declared then")]}]  # fmt: skip
    newer = [{"api": "tscharts", "enumerated": 120, "mutants": [mutant(44, first_after, "survived")]}]  # line 40 moved to 44
    one_file = [{"api": "tscharts", "enumerated": 3, "files": [HANDLERS], "mutants": []}]  # drew from one file's 3: not the API's count
    declared = tmp_path / "declared.yaml"
    declared.write_text(yaml.safe_dump({"mutants": [{"file": HANDLERS, "function": "login", "operator": "core/ReplaceOrWithAnd",
                                                      "before": LOGIN_LINE, "after": second_after, "kind": "equivalent", "reason": "why"}]}))  # fmt: skip
    paths = []
    for name, report in (("older.json", older), ("newer.json", newer), ("one_file.json", one_file)):
        paths.append(str(tmp_path / name))
        Path(paths[-1]).write_text(json.dumps(report))
    out = tmp_path / "pooled.md"
    code = mutation_score.main(["--pool", *paths, "--equivalents", str(declared), "--out", str(out), "--min-score", "0.5"])
    (score,) = json.loads(out.with_suffix(".json").read_text())
    statuses = sorted(m["status"] for m in score["mutants"])
    assert statuses == ["equivalent", "survived", "survived"], statuses  # 3 distinct mutants, not 4
    assert score["enumerated"] == 120 and score["score"] == 0.0 and code == 1
    report = out.read_text()
    assert "| tscharts | 3 (of 120) | 1 | 0 | 0 | 2 | **0.0%**" in report
    assert "was unspecified, no declaration names it now" in report
    assert "killed in an earlier report, survived in a later one" in report
    (tmp_path / "not.json").write_text('{"api": "tscharts"}')
    assert mutation_score.main(["--pool", str(tmp_path / "not.json"), "--out", str(out)]) == 2
