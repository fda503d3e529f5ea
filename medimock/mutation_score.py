"""An independent mutation score of the contract suites: cosmic-ray mutates the mock, each API's suite judges.

    medimock mutation-score [--api tscharts] [--sample N --seed S] [--jobs 1] [--examples 3] [--out reports/mutation-score.md]
    (``make mutation-score [API=..]``)

``medimock mutation`` switches on defects that the suites' authors planted; here nobody picks the
breakage. cosmic-ray (a mutation engine from PyPI) enumerates every place where one of its operators
applies in the API's handlers and stores (``SCOPE`` below), and each mutant is written to the file on
disk of a *copy* of ``mockserver/`` in a temporary folder (the checkout is never touched). The API's
contract suite then runs in that folder (``-x``, few examples, strict conventions, the mock's own
self-validation off), so the embedded mock it starts (``python -m mockserver``, a subprocess) imports
the mutated module. A mutant is

- *killed*      the suite fails (a check, a workflow, or the mock no longer starts);
- *timed out*   the suite ran past ``--timeout`` (counted as detected, as cosmic-ray does);
- *survived*    the suite passes: a gap, or an equivalent mutant;
- *equivalent*  declared in ``contracts/mutation-equivalents.yaml`` with a reason (not run), or inside a type annotation;
- *unspecified* declared there too (``kind: unspecified``): the mock answers differently, but only in what neither the
                vendor document nor a medimock convention fixes (an error message's wording), so no check may fail it.

Score = (killed + timed out) / (mutants - equivalent - unspecified); the strict score counts the unspecified ones as
survivors: (killed + timed out) / (mutants - equivalent). The run first checks that each suite passes
against the unmutated copy (otherwise nothing can be judged: exit 2). Exit 1 when an API scores
below ``--min-score``.

The operator set is the "selective" one (Offutt et al.: one replacement per arithmetic and
comparison operator, plus negation, boolean, number, loop, exception and decorator operators), so a
``+`` gives one mutant, not eleven of which ten are type errors.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import yaml

from .contract import APIS, pytest_command, suites_root
from .resources import contracts_dir

# The files of each API that are mutated: its handlers and store (mockserver/apis/<api>/*.py) except
# defects.py (only runs with a deliberate defect on), docs.py (the HTML documentation pages),
# control.py (the mock's own /__mock__ control API, which no vendor document describes) and audit.py
# (radiology's audit log: the document says retrievals are logged, but only medimock's control API reads the log).
NOT_MUTATED = ("defects.py", "docs.py", "control.py", "audit.py")

# One replacement per operator (selective mutation), and the operators that take no argument.
OPERATORS = (
    *(
        f"core/ReplaceBinaryOperator_{a}_{b}"
        for a, b in (
            ("Add", "Sub"),
            ("Sub", "Add"),
            ("Mul", "Div"),
            ("Div", "Mul"),
            ("FloorDiv", "Mul"),
            ("Mod", "FloorDiv"),
            ("Pow", "Mul"),
            ("LShift", "RShift"),
            ("RShift", "LShift"),
            ("BitOr", "BitAnd"),
            ("BitAnd", "BitOr"),
            ("BitXor", "BitOr"),
        )
    ),
    *(
        f"core/ReplaceComparisonOperator_{a}_{b}"
        for a, b in (
            ("Eq", "NotEq"),
            ("NotEq", "Eq"),
            ("Lt", "LtE"),
            ("LtE", "Lt"),
            ("Gt", "GtE"),
            ("GtE", "Gt"),
            ("Is", "IsNot"),
            ("IsNot", "Is"),
        )
    ),
    "core/ReplaceUnaryOperator_USub_UAdd",
    "core/ReplaceUnaryOperator_Delete_Not",
    "core/ReplaceUnaryOperator_Invert_USub",
    "core/AddNot",
    "core/ReplaceTrueWithFalse",
    "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr",
    "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue",
    "core/ReplaceContinueWithBreak",
    "core/ExceptionReplacer",
    "core/NumberReplacer",
    "core/RemoveDecorator",
    "core/ZeroIterationForLoop",
)

EQUIVALENTS = "contracts/mutation-equivalents.yaml"
SECTION_START, SECTION_END = "<!-- mutation-score: written by `make mutation-score` -->", "<!-- /mutation-score -->"
KILLED, SURVIVED, TIMED_OUT, EQUIVALENT = "killed", "survived", "timed out", "equivalent"
UNSPECIFIED = "unspecified"  # declared: observable only in what neither the document nor a convention fixes (a message's wording)
DECLARED = (EQUIVALENT, UNSPECIFIED)


@dataclass
class Mutant:
    api: str
    file: str  # relative to the repository root, e.g. mockserver/apis/tscharts/handlers.py
    operator: str
    occurrence: int
    line: int
    function: str
    before: str = ""
    after: str = ""
    status: str = ""
    by: str = ""  # the first failing test, or why
    reason: str = ""  # why it is equivalent
    seconds: float = 0.0

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.file, self.function, self.operator, self.before, self.after)


@dataclass
class Equivalents:
    """contracts/mutation-equivalents.yaml: mutants declared equivalent, each with a reason.

    ``annotations``: the reason why a mutant inside a type annotation is equivalent (every mutated module
    has ``from __future__ import annotations``: annotations are never evaluated). ``mutants``: one entry
    per mutant, matched on file, function, operator and the line before and after the mutation.
    """

    annotations: str = ""
    mutants: list[dict[str, str]] = field(default_factory=list)
    survivors: list[dict[str, str]] = field(default_factory=list)  # known survivors: why no suite kills them yet (``why``)
    history: str = ""  # what the scores were before the suites were strengthened (shown under the table)

    @classmethod
    def load(cls, path: Path) -> Equivalents:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text()) or {}
        entries = list(data.get("mutants") or [])
        for entry in entries:
            missing = {"file", "function", "operator", "before", "after", "reason"} - set(entry)
            if missing or not str(entry.get("reason", "")).strip():
                raise ValueError(f"{path}: an equivalent mutant needs {', '.join(sorted(missing)) or 'a reason'}: {entry}")
        return cls(
            annotations=str(data.get("annotations") or ""),
            mutants=entries,
            survivors=list(data.get("survivors") or []),
            history=str(data.get("history") or "").strip(),
        )

    def why_surviving(self, mutant: Mutant) -> str:
        for entry in self.survivors:
            if _names(entry, mutant):
                return str(entry["why"])
        return ""

    def declared(self, mutant: Mutant) -> tuple[str, str]:
        """(equivalent | unspecified, the reason) of a declared mutant, or ("", "")."""
        for entry in self.mutants:
            if _names(entry, mutant):
                kind = str(entry.get("kind") or EQUIVALENT)
                if kind not in DECLARED:
                    raise ValueError(f"an entry's kind is equivalent or unspecified, not {kind!r}: {entry}")
                return kind, str(entry["reason"])
        return "", ""


def _names(entry: dict[str, str], mutant: Mutant) -> bool:
    """Whether a declaration names the mutant: file, function, operator, and the lines before and after without the
    blanks around them (a removed decorator's ``before`` starts with the blank lines above it, `` /  / @lru_cache(...)``,
    which YAML keeps only quoted)."""
    file, function, operator, before, after = mutant.key
    wanted = (file, function, operator, before.strip(), after.strip())
    return (entry["file"], entry["function"], entry["operator"], str(entry["before"]).strip(), str(entry["after"]).strip()) == wanted


def scope(api: str, root: Path) -> list[str]:
    folder = root / "mockserver" / "apis" / api
    return [str(p.relative_to(root)) for p in sorted(folder.glob("*.py")) if p.name not in NOT_MUTATED]


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (line, column) spans of the type annotations of a module."""
    spans: list[ast.expr] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            spans.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            spans.append(node.returns)
    return [((s.lineno, s.col_offset), (s.end_lineno or s.lineno, s.end_col_offset or 0)) for s in spans]


def enumerate_mutants(api: str, root: Path, files: Iterable[str] | None = None, operators: Iterable[str] = OPERATORS) -> list[Mutant]:
    """Every mutant cosmic-ray's operators make in the API's files (``root`` holds ``mockserver/``)."""
    import cosmic_ray.plugins
    from cosmic_ray.ast import ast_nodes, get_ast_from_path
    from cosmic_ray.ast.ast_query import ASTQuery
    from cosmic_ray.mutating import mutate_code

    found = []
    for file in files or scope(api, root):
        path = root / file
        source = path.read_text()
        module = get_ast_from_path(path)
        in_annotation = annotation_spans(source)
        lines = source.split("\n")
        for name in operators:
            operator = cosmic_ray.plugins.get_operator(name)()
            positions = ((node, start) for node in ast_nodes(module) for start, _end in operator.mutation_positions(node))
            for occurrence, (node, start) in enumerate(positions):
                mutant = Mutant(api, file, name, occurrence, start[0], ASTQuery(node).get_definition_name() or "<module>")
                try:
                    mutated = mutate_code(source, operator, occurrence)
                except Exception as exc:  # noqa: BLE001 - cosmic-ray's ExceptionReplacer fails on some nodes (a dotted name)
                    print(f"{file}:{start[0]}: cosmic-ray cannot apply {name} ({type(exc).__name__}): left out", file=sys.stderr)
                    continue
                if mutated is not None:
                    removed, added = _changed_lines(lines, mutated.split("\n"))
                    mutant.before, mutant.after = removed, added
                if _annotated(node, in_annotation):
                    mutant.status = EQUIVALENT
                found.append(mutant)
    return found


def _annotated(node: Any, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    position = tuple(node.start_pos)
    return any(start <= position < end for start, end in spans)


def _changed_lines(before: list[str], after: list[str]) -> tuple[str, str]:
    removed, added = [], []
    for line in difflib.unified_diff(before, after, lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:].strip())
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:].strip())
    return " / ".join(removed), " / ".join(added)


def copy_tree(root: Path, dest: Path) -> Path:
    """A copy of ``mockserver/`` in ``dest`` (the folder the suites run in, first on the mock's sys.path)."""
    shutil.copytree(root / "mockserver", dest / "mockserver", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def suite_command(api: str, examples: int, pytest_args: Iterable[str] = ()) -> list[str]:
    command = pytest_command([api], extra=["-q", "-x", "--no-header", "-p", "no:randomly", *pytest_args])
    # the suite by absolute path: pytest runs in the copy, so that the mock it starts imports the copy's mockserver
    command[command.index(f"contracts/{api}")] = str(suites_root() / "contracts" / api)
    return ["nice", "-n", "10", *command]


def suite_environment(api: str, copy: Path, examples: int) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MEDIMOCK_") and not k.endswith(("_URL",)) and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    environ.update(
        PYTHONPATH=str(copy),
        # bytecode in the copy, kept from one mutant's run to the next (pytest rewrites 350 plugin modules otherwise, 2 s
        # a run); the mock's own is deleted before each run (``forget_mock_bytecode``)
        PYTHONPYCACHEPREFIX=str(copy / BYTECODE),
        MEDIMOCK_EMBEDDED_ARGS=f"--api {api}",
        MEDIMOCK_EMBEDDED_STRICT="0",
        MEDIMOCK_STRICT="1",
        MEDIMOCK_CONFORMANCE_REPORT="off",
        MEDIMOCK_CONTRACT_EXAMPLES=str(examples),
        HYPOTHESIS_STORAGE_DIRECTORY=str(copy / ".hypothesis"),
    )
    return environ


BYTECODE = ".pycache"  # in a copy: where its suite runs keep bytecode (PYTHONPYCACHEPREFIX)


def forget_mock_bytecode(copy: Path) -> None:
    """Delete the bytecode of every ``mockserver`` module kept in ``copy``: a mutant written within the same second as
    the source it replaces, with the same size (``+`` for ``-``), would otherwise run the other's cached .pyc."""
    kept = copy / BYTECODE
    if kept.is_dir():
        for folder in [d for d in kept.rglob("mockserver") if d.is_dir()]:
            shutil.rmtree(folder, ignore_errors=True)


def run_suite(api: str, copy: Path, examples: int, timeout: float, select: str = "") -> tuple[str, str, float]:
    """(killed | survived | timed out, the first failing test or why, seconds) of one suite run in ``copy``."""
    forget_mock_bytecode(copy)
    started = time.monotonic()
    process = subprocess.Popen(
        suite_command(api, examples, ["-k", select] if select else []),
        cwd=copy,
        env=suite_environment(api, copy, examples),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a timeout ends the suite and the mock it started
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return TIMED_OUT, f"ran past {timeout:.0f} s", time.monotonic() - started
    seconds = time.monotonic() - started
    if process.returncode == 0:
        return SURVIVED, "", seconds
    failed = first_failure(output)
    if failed:
        return KILLED, failed, seconds
    tail = " ".join(output.strip().splitlines()[-3:])[-160:]
    return KILLED, f"exit {process.returncode}: {tail}", seconds


def first_failure(output: str) -> str:
    """The first failing test of pytest's short summary (``FAILED path::test[id] - why``), without its path."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "SUBFAILED")):
            test = line.split(" ", 1)[1].split(" - ", 1)[0]
            return test.split("::", 1)[-1][:120]
    return ""


def judge(mutant: Mutant, copy: Path, examples: int, timeout: float, select: str = "") -> Mutant:
    """Write the mutant into ``copy``, run its API's suite there, put the file back."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import use_mutation

    operator = cosmic_ray.plugins.get_operator(mutant.operator)()
    with use_mutation(copy / mutant.file, operator, mutant.occurrence) as (_original, mutated):
        if mutated is None:
            mutant.status, mutant.by = KILLED, "cosmic-ray could not apply it"
            return mutant
        mutant.status, mutant.by, mutant.seconds = run_suite(mutant.api, copy, examples, timeout, select)
    return mutant


def judge_all(
    mutants: list[Mutant], copies: list[Path], examples: int, timeout: float, select: str = "", journal: Path | None = None
) -> None:
    """Each mutant judged in one of ``copies`` (one worker thread per copy, so two mutants never share a tree); each
    verdict is printed and appended to ``journal`` (JSON lines) as it comes, so a long run that is stopped keeps them."""
    queue: Queue[Mutant] = Queue()
    for mutant in mutants:
        queue.put(mutant)
    done = [0]
    lock = threading.Lock()

    def worker(copy: Path) -> None:
        while True:
            try:
                mutant = queue.get_nowait()
            except Empty:
                return
            judge(mutant, copy, examples, timeout, select)
            with lock:
                done[0] += 1
                if journal is not None:
                    with journal.open("a") as lines:
                        lines.write(json.dumps(asdict(mutant)) + "\n")
                print(
                    f"[{done[0]}/{len(mutants)}] {mutant.status:9} {mutant.file}:{mutant.line} {mutant.operator.removeprefix('core/')}"
                    f" {mutant.seconds:4.0f} s  {mutant.by[:80]}",
                    flush=True,
                )

    threads = [threading.Thread(target=worker, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class Tally:
    """An API's mutants with their verdicts, and the score they make."""

    api: str
    mutants: list[Mutant]
    enumerated: int  # the mutants the run chose from: the API's, or its --file's (in a pool: the API's in the last report of all its files)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def killed(self) -> int:
        return self.count(KILLED) + self.count(TIMED_OUT)

    @property
    def judged(self) -> int:
        return len(self.mutants) - self.count(EQUIVALENT) - self.count(UNSPECIFIED)

    @property
    def score(self) -> float:
        return self.killed / self.judged if self.judged else 1.0

    @property
    def strict_score(self) -> float:
        judged = len(self.mutants) - self.count(EQUIVALENT)
        return self.killed / judged if judged else 1.0


@dataclass
class ApiScore(Tally):
    """One run's tally of an API, with the run's times and sample."""

    baseline_seconds: float = 0.0
    seconds: float = 0.0
    sample: int | None = None
    seed: int | None = None
    files: list[str] | None = None  # the run's --file (None: every file of the API)


def margin(score: float, n: int) -> float:
    """Half-width of the 95% Wilson interval of a sampled score (a proportion of n)."""
    if n == 0:
        return 0.0
    z = 1.96
    centre = (score + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((score * (1 - score) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(abs(centre + half - score), abs(score - (centre - half)))


WHY_COSMIC_RAY = """\
Why cosmic-ray: the suites test the mock over HTTP, and the mock runs as a subprocess (`python -m mockserver`)
that the suite starts. cosmic-ray writes each mutant into the file on disk and runs any command per mutant,
so the mutant is what that subprocess imports; here its mutation is applied to a copy of `mockserver/` (never
the checkout), restricted to the files `scope()` names (each API's `mockserver/apis/<api>/*.py` but `defects.py`,
`docs.py`, `control.py` and `audit.py`). mutmut 3 instead mutates through trampolines that its own pytest process switches,
which a server in another process never sees. Each mutant's suite run has a timeout (4 x the clean run, at
least 60 s; a timed-out mutant counts as detected, as in cosmic-ray) and `--jobs N` judges N mutants at once,
each in its own copy."""


def render(scores: list[ApiScore], examples: int, command: str, history: str = "") -> str:
    lines = [
        "# Independent mutation score of the contract suites",
        "",
        WHY_COSMIC_RAY,
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "- engine: cosmic-ray (its selective operator set, `medimock.mutation_score.OPERATORS`); each mutant written into a copy of `mockserver/`",
        f"- command: `{command}` (each mutant: the API's contract suite, `-x`, {examples} examples per operation, strict conventions)",
        "- score = (killed + timed out) / (mutants - equivalent - unspecified); strict: the unspecified ones count as survivors",
        "",
        "| API | mutants | equivalent | unspecified | killed | timed out | survived | score | strict | baseline suite | run time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        sampled = f" (sample of {s.sample} of {s.enumerated}, seed {s.seed})" if s.sample else ""
        interval = f" ± {margin(s.score, s.judged):.1%}" if s.sample else ""
        lines.append(
            f"| {s.api}{sampled} | {len(s.mutants)} | {s.count(EQUIVALENT)} | {s.count(UNSPECIFIED)} | {s.count(KILLED)} | {s.count(TIMED_OUT)} "
            f"| {s.count(SURVIVED)} | **{s.score:.1%}**{interval} | {s.strict_score:.1%} | {s.baseline_seconds:.0f} s | {s.seconds / 60:.1f} min |"
        )
    lines.append("")
    for s in scores:
        ran = [m.seconds for m in s.mutants if m.status not in DECLARED and m.seconds > 0]
        if s.sample and ran and s.mutants:
            to_judge = s.enumerated * len(ran) / len(s.mutants)
            mean = sum(ran) / len(ran)
            lines.append(
                f"- {s.api}: the sample holds {len(s.mutants)} of {s.enumerated} mutants (seed {s.seed}); a full run would judge about "
                f"{to_judge:.0f}, at the sample's mean {mean:.0f} s a mutant about {to_judge * mean / 3600:.1f} h with one job"
            )
    if history:
        lines += ["", history]
    for s in scores:
        survivors = [m for m in s.mutants if m.status == SURVIVED]
        lines += ["", f"## {s.api}: {len(survivors)} survivors", ""]
        if survivors:
            lines += ["| file:line | function | operator | before | after | why it survives |", "|---|---|---|---|---|---|"]
            for m in survivors:
                lines.append(
                    f"| {m.file}:{m.line} | `{m.function}` | {m.operator.removeprefix('core/')} | `{_cell(m.before)}` | `{_cell(m.after)}` "
                    f"| {m.reason or 'not analysed yet'} |"
                )
        annotations = [m for m in s.mutants if m.status == EQUIVALENT and m.reason.startswith("annotation")]
        if annotations:
            lines += ["", f"Equivalent: {len(annotations)} mutants inside type annotations ({annotations[0].reason})."]
        declared = [m for m in s.mutants if m.status in DECLARED and not m.reason.startswith("annotation")]
        if declared:
            lines += ["", f"Declared in contracts/mutation-equivalents.yaml ({len(declared)}):", ""]
            lines += [f"- {m.status}: {m.file}:{m.line} `{_cell(m.before)}` → `{_cell(m.after)}`: {m.reason}" for m in declared]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")[:110]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "An independent mutation score: cosmic-ray mutates the API's handlers and store in a copy of the mock, one "
        "mutant at a time, and the API's contract suite runs against each; reports killed, survived, timed out and "
        "equivalent mutants per API and lists every survivor."
    )
    parser.epilog = (
        "exit codes: 0 every API scored at least --min-score, 1 an API scored below it, 2 a suite fails against the unmutated mock"
    )
    parser.add_argument("--api", action="append", choices=APIS, help="only this API (repeatable; default: tscharts and radiology)")
    parser.add_argument("--file", action="append", help="only these files (repository-relative; default: the API's handlers and store)")
    parser.add_argument("--operator", action="append", help="only this cosmic-ray operator (repeatable; default: OPERATORS)")
    parser.add_argument("--line", type=int, action="append", help="only mutants on this line (repeatable)")
    parser.add_argument("-k", dest="select", default="", help="only the suite's tests matching this pytest -k expression")
    parser.add_argument("--sample", type=int, help="judge a random sample of N mutants per API (default: all)")
    parser.add_argument("--seed", type=int, default=18, help="the sample's seed (default 18)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants judged at once, each in its own copy (default 1)")
    parser.add_argument("--examples", type=int, default=3, help="schemathesis examples per operation (default 3)")
    parser.add_argument("--timeout", type=float, help="seconds per suite run (default: 4 x the baseline run, at least 60)")
    parser.add_argument("--min-score", type=float, default=0.0, help="exit 1 when an API scores below this (0..1; default 0)")
    parser.add_argument("--equivalents", help=f"declared equivalent mutants (default {EQUIVALENTS} of the installed suites)")
    parser.add_argument(
        "--record", metavar="FILE", help="also write the report as a section of FILE (make mutation-score: contracts/MUTATION.md)"
    )
    parser.add_argument(
        "--again",
        metavar="REPORT.json",
        help="judge again only the survivors of an earlier run (its mutants and sample; killed and timed-out ones stay so: "
        "for a suite that only gained checks against an unchanged mock)",
    )
    parser.add_argument(
        "--no-judging",
        action="store_true",
        help="with --again: judge nothing, only report the earlier run with today's declarations (contracts/mutation-equivalents.yaml)",
    )
    parser.add_argument(
        "--pool",
        nargs="+",
        metavar="REPORT.json",
        help="judge nothing: pool the mutants of earlier runs' JSON reports (oldest first; a mutant drawn in several counts once, "
        "with the verdict of the last report holding it) with today's declarations, per API",
    )
    parser.add_argument("--list", action="store_true", help="only list the mutants (no suite runs)")
    parser.add_argument(
        "--out", default="reports/mutation-score.md", help="the report (and a .json beside it; default reports/mutation-score.md)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medimock mutation-score")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def repository_root() -> Path:
    return Path(__file__).resolve().parent.parent


def run(args: argparse.Namespace) -> int:
    if args.pool:
        return run_pool(args)
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        print("medimock mutation-score needs cosmic-ray: pip install 'medimock[test]' (or cosmic-ray)", file=sys.stderr)
        return 2
    root = repository_root()
    equivalents = load_equivalents(args)
    scores = []
    previous = {s["api"]: s for s in json.loads(Path(args.again).read_text())} if args.again else {}
    apis = list(dict.fromkeys(args.api or list(previous) or ["tscharts", "radiology"]))
    journal = Path(args.out).with_suffix(".jsonl")  # each verdict as it comes
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="medimock-mutation-score-") as temp:
        copies = [copy_tree(root, Path(temp) / f"copy{i}") for i in range(max(1, args.jobs))]
        for api in apis:
            files = args.file or previous.get(api, {}).get("files")  # --again: the earlier run's files
            mutants = enumerate_mutants(api, copies[0], files, args.operator or OPERATORS)
            mutants = [m for m in mutants if not args.line or m.line in args.line]
            enumerated = len(mutants)
            for mutant in mutants:
                mutant.reason = equivalents.why_surviving(mutant)  # shown only if it survives
                if mutant.status == EQUIVALENT:
                    mutant.reason = "annotation: " + (equivalents.annotations or "never evaluated")
                else:
                    kind, reason = equivalents.declared(mutant)
                    if kind:
                        mutant.status, mutant.reason = kind, reason
            if args.sample and args.sample < enumerated:
                mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.file, m.line, m.operator))
            earlier = previous.get(api)
            if earlier is not None:
                mutants = carry_over(earlier, mutants, judge_survivors=not args.no_judging)
                enumerated = int(earlier.get("enumerated") or enumerated)  # what its mutants were drawn from, not the whole API
            pending = [m for m in mutants if not m.status]  # neither declared nor judged by an earlier run (--again)
            print(f"{api}: {enumerated} mutants, {len(mutants)} chosen, {len(pending)} to judge", flush=True)
            if args.list:
                for m in mutants:
                    print(f"  {m.status or '-':10} {m.file}:{m.line} {m.function} {m.operator} `{m.before}` -> `{m.after}`")
                continue
            if args.no_judging and earlier is not None:
                seconds = earlier["seconds"]
                sample = len(mutants) if earlier["sample"] else None  # an earlier sample, less any file no longer mutated
                scores.append(
                    ApiScore(api, mutants, enumerated, earlier["baseline_seconds"], seconds, sample, earlier["seed"], files or None)
                )
                continue
            status, why, baseline = run_suite(api, copies[0], args.examples, 1800, args.select)
            print(f"{api}: baseline (unmutated copy) {status} in {baseline:.0f} s {why}", flush=True)
            if status != SURVIVED:
                print(f"{api}: the suite fails against the unmutated mock ({why}), so no mutant can be judged", file=sys.stderr)
                return 2
            timeout = args.timeout or max(60.0, 4 * baseline)
            started = time.monotonic()
            judge_all(pending, copies, args.examples, timeout, args.select, journal)
            seconds = time.monotonic() - started + (earlier["seconds"] if earlier else 0.0)
            sample, seed = (earlier["sample"], earlier["seed"]) if earlier else (args.sample, args.seed if args.sample else None)
            sample = len(mutants) if sample else None
            scores.append(ApiScore(api, mutants, enumerated, baseline, seconds, sample, seed, files or None))
    if args.list:
        return 0
    given = sys.argv[1:]
    given = (
        given[1:] if given[:1] == ["mutation-score"] else given
    )  # `medimock mutation-score ...` or `python -m medimock.mutation_score ...`
    command = shlex.join(["medimock", "mutation-score", *given])
    report = render(scores, args.examples, command, equivalents.history)
    if args.record:
        record = Path(args.record)
        record.write_text(with_section(record.read_text() if record.exists() else "", report))
    return publish(args, report, scores)


def load_equivalents(args: argparse.Namespace) -> Equivalents:
    return Equivalents.load(Path(args.equivalents) if args.equivalents else contracts_dir() / "mutation-equivalents.yaml")


def publish(args: argparse.Namespace, report: str, scores: list[ApiScore] | list[Tally]) -> int:
    """The report at --out and its JSON beside it (each API's verdicts and scores), printed; exit 1 below --min-score."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(
        json.dumps([{**asdict(s), "score": s.score, "strict_score": s.strict_score} for s in scores], indent=1)
    )
    print(report)
    print(f"report: {out}")
    return 0 if all(s.score >= args.min_score for s in scores) else 1


def pool(reports: list[list[dict[str, Any]]], equivalents: Equivalents) -> tuple[list[Tally], list[str]]:
    """Every distinct mutant of the reports (oldest first), per API: the last report's verdict, today's declarations
    over it (a mutant declared since counts as declared; a declaration no longer matching counts for nothing)."""
    pooled: dict[str, dict[tuple[str, ...], Mutant]] = {}
    catalogue: dict[str, int] = {}
    changed: list[str] = []
    fields = {f.name for f in dataclass_fields(Mutant)}
    for report in reports:
        for run_ in report:
            api = str(run_["api"])
            if not run_.get("files"):  # a run limited to some files (--file) drew from fewer than the API holds
                catalogue[api] = int(run_.get("enumerated") or 0) or catalogue.get(api, 0)
            for entry in run_["mutants"]:
                mutant = Mutant(**{k: v for k, v in entry.items() if k in fields})
                key = (mutant.file, mutant.operator, str(mutant.occurrence), mutant.before, mutant.after)
                old = pooled.setdefault(api, {}).get(key)
                if old is not None and old.status in (KILLED, TIMED_OUT) and mutant.status == SURVIVED:
                    changed.append(
                        f"{mutant.file}:{mutant.line} {mutant.operator}: {old.status} in an earlier report, {SURVIVED} in a later one"
                    )
                pooled[api][key] = mutant
    scores = []
    for api in sorted(pooled):
        mutants = sorted(pooled[api].values(), key=lambda m: (m.file, m.line, m.operator, m.occurrence))
        for mutant in mutants:
            if mutant.reason.startswith("annotation"):
                continue
            kind, reason = equivalents.declared(mutant)
            if kind:
                mutant.status, mutant.reason = kind, reason
            elif mutant.status in DECLARED:  # declared when judged, no longer: it counts as it was last judged, unknown
                mutant.status, mutant.reason = SURVIVED, f"was {mutant.status}, no declaration names it now"
            elif mutant.status == SURVIVED:
                mutant.reason = equivalents.why_surviving(mutant)
        scores.append(Tally(api, mutants, catalogue.get(api, 0)))
    return scores, changed


def render_pool(scores: list[Tally], sources: list[str], changed: list[str]) -> str:
    lines = [
        "# Mutation scores pooled over runs",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; reports (oldest first): {', '.join(f'`{s}`' for s in sources)}",
        "- each distinct mutant once, with the last report's verdict and today's declarations (contracts/mutation-equivalents.yaml)",
        "- ± is the 95% Wilson interval's half-width over the judged mutants (a sample's, unless every mutant was drawn)",
        "",
        "| API | distinct mutants judged (of all) | equivalent | unspecified | killed | survived | score | strict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        every = s.enumerated and len(s.mutants) >= s.enumerated
        of_all = "every one" if every else f"of {s.enumerated:,}"
        interval = "" if every else f" ± {margin(s.score, s.judged):.1%}"
        lines.append(
            f"| {s.api} | {len(s.mutants)} ({of_all}) | {s.count(EQUIVALENT)} | {s.count(UNSPECIFIED)} | {s.killed} | {s.count(SURVIVED)} "
            f"| **{s.score:.1%}**{interval} | {s.strict_score:.1%} |"
        )
    for s in scores:
        survivors = [m for m in s.mutants if m.status == SURVIVED]
        if survivors:
            lines += ["", f"## {s.api}: {len(survivors)} survivors", ""]
            lines += [f"- {m.file}:{m.line} `{_cell(m.before)}` → `{_cell(m.after)}`: {m.reason or 'not analysed yet'}" for m in survivors]
    if changed:
        lines += ["", "Killed in an earlier report, survived in a later one (the later verdict counts):", ""]
        lines += [f"- {line}" for line in changed]
    return "\n".join(lines) + "\n"


def run_pool(args: argparse.Namespace) -> int:
    """``--pool``: no suite runs; the pooled table of earlier reports, written to --out (and a .json beside it)."""
    equivalents = load_equivalents(args)
    reports = []
    for name in args.pool:
        try:
            data = json.loads(Path(name).read_text())
        except (OSError, ValueError) as exc:
            print(f"medimock mutation-score --pool: cannot read {name}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(data, list) or not all(isinstance(r, dict) and "api" in r and "mutants" in r for r in data):
            print(f"medimock mutation-score --pool: {name} is not a mutation-score JSON report", file=sys.stderr)
            return 2
        reports.append([r for r in data if not args.api or r["api"] in args.api])
    scores, changed = pool(reports, equivalents)
    return publish(args, render_pool(scores, list(args.pool), changed), scores)


def carry_over(earlier: dict[str, Any], mutants: list[Mutant], judge_survivors: bool = True) -> list[Mutant]:
    """The mutants of an earlier run (same file, operator and occurrence): its killed and timed-out ones keep their
    verdict, its survivors are judged again (or are equivalent now, when declared since)."""
    current = {(m.file, m.operator, m.occurrence): m for m in mutants}
    chosen = []
    for old in earlier["mutants"]:
        if not any(old["file"] == m.file for m in mutants):
            continue  # a file no longer mutated (out of scope now)
        mutant = current.get((old["file"], old["operator"], old["occurrence"]))
        if mutant is None or (mutant.before, mutant.after) != (old["before"], old["after"]):
            raise SystemExit(f"--again: {old['file']}:{old['line']} {old['operator']} is no longer the same mutant (the mock changed)")
        if old["status"] in (KILLED, TIMED_OUT) or (old["status"] == SURVIVED and not judge_survivors and not mutant.status):
            mutant.status, mutant.by, mutant.seconds = old["status"], old["by"], old["seconds"]
        chosen.append(mutant)
    return chosen


def with_section(text: str, report: str) -> str:
    """``text`` with the mutation-score section (between its markers) replaced by ``report``, or appended."""
    body = "\n".join("#" + line if line.startswith("#") else line for line in report.splitlines())  # its headings one level down
    section = f"{SECTION_START}\n{body.rstrip()}\n{SECTION_END}"
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start >= 0 and end > start:
        return text[:start] + section + text[end + len(SECTION_END) :]
    return text.rstrip() + "\n\n" + section + "\n"


def section_of(text: str) -> str:
    """The mutation-score section of ``text`` with its markers ("" when there is none)."""
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    return text[start : end + len(SECTION_END)] if start >= 0 and end > start else ""


def iter_survivors(scores: list[ApiScore]) -> Iterator[Mutant]:
    for s in scores:
        yield from (m for m in s.mutants if m.status == SURVIVED)


if __name__ == "__main__":
    raise SystemExit(main())
