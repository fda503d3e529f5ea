"""Verdicts in tiers: every contract check says whether the vendor's document or medimock decided it.

A check's *source* is one of two kinds:

- ``Document(file, anchor, lines=N)``: the vendor document states it. ``anchor`` is a verbatim
  fragment of one line of ``specs/sources/<file>`` (compared with runs of whitespace folded), and
  the failure quotes that line and the ``N - 1`` after it. Citations are resolved when first
  needed and checked all at once by a unit test, so a citation that drifts from its document fails
  ``make test``, not a user's run.
- ``Convention(key, reason)``: the document does not say it; medimock chose it (JSON error bodies,
  405 for an undeclared method, size limits...). A server that differs is not wrong by the
  document, so by default a convention finding is a *warning* (a ``ConventionWarning``, which
  pytest counts and shows in its warnings summary); in strict mode (``MEDIMOCK_STRICT=1`` or
  pytest's ``--medimock-strict``) it fails like a document violation. The mock passes strict.

Suites check through ``expect(source, condition, message, response)`` and read bodies through
``json_body``/``field``: whatever a target answers (an empty 404, an HTML 500, ``{}``, truncated
JSON, bytes in the wrong charset), the outcome is a ``ContractViolation`` (or a warning) that names
the operation, the status, the content type, the first bytes of the body and a curl that
reproduces it, never a ``JSONDecodeError`` or ``KeyError`` from deep inside a test.

Observers (the conformance report) subscribe with ``add_listener`` and receive every ``Finding``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from .resources import contracts_dir

DOCUMENT = "document"
CONVENTION = "convention"
TRUE = frozenset({"1", "true", "yes", "on"})
BODY_PREVIEW = 200  # bytes of a reply shown in a failure


# -- sources -----------------------------------------------------------------------------------


def sources_dir() -> Path:
    """``specs/sources``: the vendor documents the specs were written from."""
    from .suite import SPECS

    return SPECS / "sources"


class CitationError(LookupError):
    """A citation's anchor is not (or not uniquely) in its document."""


@dataclass(frozen=True)
class Citation:
    """Lines ``first``..``last`` (1-based) of ``specs/sources/<file>``, with their text."""

    file: str
    first: int
    last: int
    lines: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.file}:{self.first}" + (f"-{self.last}" if self.last != self.first else "")

    def quote(self, indent: str = "    ") -> str:
        width = len(str(self.last))
        return "\n".join(f"{indent}{self.first + i:>{width}} | {text}" for i, text in enumerate(self.lines))


def _fold(text: str) -> str:
    return " ".join(text.split())


@cache
def _document_lines(file: str) -> tuple[str, ...]:
    path = sources_dir() / file
    if not path.is_file():
        raise CitationError(f"no document specs/sources/{file}")
    return tuple(path.read_text(encoding="utf-8").splitlines())


@cache
def _folded_lines(file: str) -> tuple[str, ...]:
    """The document's lines with their blanks folded, once per file (every anchor searches them)."""
    return tuple(_fold(line) for line in _document_lines(file))


@cache
def resolve(file: str, anchor: str, lines: int = 1, occurrence: int | None = None, after: str | None = None) -> Citation:
    """The citation an anchor names: the line holding ``anchor`` and the ``lines - 1`` after it.

    ``after`` (itself unique in the file) starts the search below that line: the first line holding
    ``anchor`` after a section's heading, for documents that repeat a line in every section.
    """
    text = _document_lines(file)
    folded = _folded_lines(file)
    wanted = _fold(anchor)
    if not wanted:
        raise CitationError(f"{file}: an empty anchor")
    start_at = 0
    if after is not None:
        start_at = resolve(file, after).first
        hits = [index for index in range(start_at, len(text)) if wanted in folded[index]][:1]
    else:
        hits = [index for index, line in enumerate(folded) if wanted in line]
    if not hits:
        raise CitationError(f"{file}: no line holds {anchor!r}" + (f" after {after!r}" if after else ""))
    if occurrence is None and len(hits) > 1:
        raise CitationError(
            f"{file}: {len(hits)} lines hold {anchor!r} (lines {', '.join(str(h + 1) for h in hits[:8])}); pass after= or occurrence="
        )
    if occurrence is not None and not 1 <= occurrence <= len(hits):
        raise CitationError(f"{file}: {anchor!r} occurs {len(hits)} times, not {occurrence}")
    start = hits[(occurrence or 1) - 1]
    end = min(len(text), start + max(1, lines))
    return Citation(file, start + 1, end, tuple(line.rstrip() for line in text[start:end]))


class Source:
    """What decides a check: the vendor document (``Document``) or medimock (``Convention``)."""

    tier: ClassVar[str]
    _registry: ClassVar[list[Source]] = []

    def __init__(self) -> None:
        Source._registry.append(self)

    @property
    def label(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def explain(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def every(cls) -> list[Source]:
        """Every source created so far (the citation test resolves them all)."""
        return list(cls._registry)


@dataclass(frozen=True)
class Anchor:
    file: str
    anchor: str
    lines: int = 1
    occurrence: int | None = None
    after: str | None = None

    def resolve(self) -> Citation:
        return resolve(self.file, self.anchor, self.lines, self.occurrence, self.after)


class Document(Source):
    """The vendor document states it: one or more cited passages of ``specs/sources/``."""

    tier = DOCUMENT

    def __init__(
        self,
        file: str,
        anchor: str,
        lines: int = 1,
        occurrence: int | None = None,
        *,
        after: str | None = None,
        also: Iterable[Anchor] = (),
    ) -> None:
        super().__init__()
        self.anchors: tuple[Anchor, ...] = (Anchor(file, anchor, lines, occurrence, after), *also)

    @classmethod
    def of(cls, *documents: Document) -> Document:
        """One source citing every passage of ``documents``."""
        first, *rest = [anchor for document in documents for anchor in document.anchors]
        return cls(first.file, first.anchor, first.lines, first.occurrence, after=first.after, also=rest)

    @property
    def citations(self) -> list[Citation]:
        return [anchor.resolve() for anchor in self.anchors]

    @property
    def label(self) -> str:
        try:
            return "document: " + ", ".join(citation.label for citation in self.citations)
        except CitationError as exc:
            return f"document (citation broken: {exc})"

    def explain(self) -> str:
        try:
            return "\n".join(f"  the document, specs/sources/{c.label}:\n{c.quote()}" for c in self.citations)
        except CitationError as exc:
            return f"  the document (a citation of the suite is broken: {exc})"

    def __repr__(self) -> str:
        return f"Document({', '.join(f'{a.file}:{a.anchor!r}' for a in self.anchors)})"


class Convention(Source):
    """The document does not say it: medimock chose it (a warning unless strict)."""

    tier = CONVENTION

    def __init__(self, key: str, reason: str) -> None:
        super().__init__()
        self.key = key
        self.reason = reason

    @property
    def label(self) -> str:
        return f"convention: {self.key}"

    def explain(self) -> str:
        return f"  a medimock convention ({self.key}), not the document's rule: {self.reason}"

    def __repr__(self) -> str:
        return f"Convention({self.key!r})"


# -- strictness and findings --------------------------------------------------------------------


class ConventionWarning(UserWarning):
    """A target differs from a medimock convention (not from the vendor document)."""


class ContractViolation(AssertionError):
    """A check failed: the message names the operation, the reply, the source and a curl."""

    def __init__(self, text: str, finding: Finding) -> None:
        super().__init__(text)
        self.finding = finding

    @property
    def tier(self) -> str:
        return self.finding.tier


@dataclass
class Finding:
    """One failed check: what was expected, its source, and the exchange that showed it."""

    source: Source
    message: str
    strict: bool
    check: str = "workflows"  # a schemathesis check's name, or "workflows" for a hand-written test
    operation: str | None = None  # "GET /tscharts/v1/image/{id}/" (the spec's template) when known
    api: str | None = None
    status: int | None = None
    curl: str = ""
    text: str = ""  # the whole explanation, as shown

    @property
    def tier(self) -> str:
        return self.source.tier

    @property
    def fails(self) -> bool:
        return self.source.tier == DOCUMENT or self.strict


_state = threading.local()
_listeners: list[Callable[[Finding], None]] = []
_checked_listeners: list[Callable[[Any], None]] = []  # told of every reply a check looked at
_strict_override: list[bool] = []


def strict() -> bool:
    """Whether conventions fail too: pytest's ``--medimock-strict`` or ``MEDIMOCK_STRICT=1``."""
    if _strict_override:
        return _strict_override[-1]
    return os.environ.get("MEDIMOCK_STRICT", "").strip().lower() in TRUE


def set_strict(value: bool | None) -> None:
    """Set strict mode for this process (None: back to the environment). Used by the pytest plugin."""
    _strict_override.clear()
    if value is not None:
        _strict_override.append(bool(value))


@contextlib.contextmanager
def conventions_warn() -> Iterator[None]:
    """Within: conventions only warn, even in strict mode (for shared set-up, which must not stop on them)."""
    _strict_override.append(False)
    try:
        yield
    finally:
        _strict_override.pop()


def add_listener(listener: Callable[[Finding], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Callable[[Finding], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def add_checked_listener(listener: Callable[[Any], None]) -> None:
    """``listener(response)`` for every reply an ``expect`` looked at, passed or not (coverage counts them)."""
    if listener not in _checked_listeners:
        _checked_listeners.append(listener)


def remove_checked_listener(listener: Callable[[Any], None]) -> None:
    if listener in _checked_listeners:
        _checked_listeners.remove(listener)


def begin_test() -> None:
    """Forget the conventions already reported (each test reports each of its findings once)."""
    _state.seen = set()


def _seen() -> set[tuple[str, str, str, str]]:
    seen = getattr(_state, "seen", None)
    if seen is None:
        seen = _state.seen = set()
    return seen


# -- describing an exchange ---------------------------------------------------------------------

_locate: list[Callable[[str, str], tuple[str, str] | None]] = []


def set_locator(locate: Callable[[str, str], tuple[str, str] | None] | None) -> None:
    """How to name the operation of a request: ``locate(method, url) -> (api, "METHOD /template")``."""
    _locate.clear()
    if locate is not None:
        _locate.append(locate)


def operation_of(request: Any) -> tuple[str | None, str]:
    """``(api, "METHOD /template")`` of a sent request (the URL's path when no spec operation matches)."""
    method = str(getattr(request, "method", None) or "GET").upper()
    url = str(getattr(request, "url", None) or "")
    if _locate:
        try:
            found = _locate[0](method, url)
        except Exception:  # noqa: BLE001 - naming is a courtesy; never fail a check over it
            found = None
        if found is not None:
            return found
    from urllib.parse import urlsplit

    return None, f"{method} {urlsplit(url).path or '/'}"


def preview(data: bytes | str | None, limit: int = BODY_PREVIEW) -> str:
    """The first bytes of a body, printable: ``'' (empty)``, ``b'<html>...' (1843 bytes)``."""
    if data is None:
        return "(no body)"
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    if not raw:
        return "'' (empty)"
    shown = raw[:limit]
    try:
        text = repr(shown.decode("utf-8"))
    except UnicodeDecodeError:
        text = repr(shown)
    more = f" ... ({len(raw)} bytes)" if len(raw) > limit else f" ({len(raw)} bytes)"
    return text + more


def reply_summary(response: Any) -> str:
    """``404 text/html; charset=utf-8, body: '' (empty)`` for a ``requests.Response``."""
    headers = getattr(response, "headers", None) or {}
    content_type = headers.get("Content-Type") or "no Content-Type"
    try:
        body = response.content
    except Exception:  # noqa: BLE001 - a streamed or broken body
        body = None
    return f"{getattr(response, 'status_code', '?')} {content_type}, body: {preview(body)}"


def _curl(request: Any) -> str:
    from .conformance.curl import curl_with_variables

    return curl_with_variables(request)


def describe(response: Any) -> tuple[str | None, str, str, str]:
    """(api, operation, reply summary, curl) of a ``requests.Response``."""
    request = getattr(response, "request", None)
    api, operation = operation_of(request) if request is not None else (None, "")
    curl = ""
    if request is not None:
        try:
            curl = _curl(request)
        except Exception:  # noqa: BLE001 - see operation_of
            curl = ""
    return api, operation, reply_summary(response), curl


# -- checking ----------------------------------------------------------------------------------


def violation_text(finding: Finding, reply: str = "") -> str:
    """The text of a failure or warning: what, where, why (the source) and how to reproduce it."""
    tier = finding.source.tier + (" (strict mode)" if finding.tier == CONVENTION and finding.strict else "")
    where = f"{finding.operation}: " if finding.operation else ""
    lines = [f"[{tier}] {where}{finding.message}", finding.source.explain()]
    if reply:
        lines.append(f"  reply: {reply}")
    if finding.curl:
        lines.append("  reproduce:\n" + "\n".join("    " + line for line in finding.curl.splitlines()))
    return "\n".join(lines)


def report(finding: Finding, reply: str = "") -> None:
    """Raise a ``ContractViolation`` for a finding that fails; warn (once per test) for one that does not."""
    finding.text = violation_text(finding, reply)
    if not finding.fails:
        key = (finding.source.label, finding.check, finding.operation or "", finding.message.split("\n", 1)[0])
        if key in _seen():
            return
        _seen().add(key)
    notify(finding)
    if finding.fails:
        raise ContractViolation(finding.text, finding)
    warnings.warn(ConventionWarning(finding.text), stacklevel=_caller_level())


_PACKAGE = str(Path(__file__).resolve().parent)
_SUITES = str(contracts_dir())  # installed, the suites live inside the package: their frames are the callers


def _caller_level() -> int:
    """The stacklevel of the first frame outside medimock (the suite's line that made the check)."""
    import sys

    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE) and not frame.f_code.co_filename.startswith(_SUITES):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def notify(finding: Finding) -> None:
    """Hand a finding to every observer (the conformance report, the pytest plugin)."""
    for listener in list(_listeners):
        with contextlib.suppress(Exception):  # an observer must never change a verdict
            listener(finding)


def expect(source: Source, condition: Any, message: str, response: Any = None, *, check: str = "workflows") -> bool:
    """True when ``condition`` holds; otherwise a failure (document, or strict) or a warning (convention).

    ``response`` (a ``requests.Response``) is the exchange the check looked at: the failure names
    its operation and status, shows its content type and first bytes, and a curl that sends it again.
    """
    if response is not None:
        for listener in list(_checked_listeners):
            with contextlib.suppress(Exception):  # an observer must never change a verdict
                listener(response)
    if condition:
        return True
    finding = Finding(source, message, strict(), check=check)
    reply = ""
    if response is not None:
        finding.api, finding.operation, reply, finding.curl = describe(response)
        finding.status = getattr(response, "status_code", None)
    report(finding, reply)
    return False


def json_body(response: Any, source: Source, what: str = "") -> Any:
    """The JSON body of a reply, or a failure through ``source`` when it is empty, cut short or not JSON.

    Returns None for a convention finding outside strict mode (the caller goes on without the body).
    """
    try:
        raw = response.content
    except Exception as exc:  # noqa: BLE001 - a body that could not even be read
        expect(source, False, f"{what or 'the reply'} has a body that can be read ({type(exc).__name__}: {exc})", response)
        return None
    if not raw:
        expect(source, False, f"{what or 'the reply'} is a JSON document, not an empty body", response)
        return None
    try:
        return json.loads(raw)  # bytes: the UTF-8/16/32 of RFC 8259, detected
    except ValueError as exc:
        content_type = (getattr(response, "headers", None) or {}).get("Content-Type", "no Content-Type")
        expect(source, False, f"{what or 'the reply'} is a JSON document ({content_type}; {_reason(exc)})", response)
        return None


def _reason(exc: ValueError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.pos}"
    return str(exc)


_MISSING = object()


def field(body: Any, name: str | int, source: Source, response: Any = None, what: str = "") -> Any:
    """``body[name]``, or a failure through ``source`` naming what the reply held instead (None if it only warns)."""
    value: Any = _MISSING
    if isinstance(body, Mapping):
        value = body.get(name, _MISSING)
    elif isinstance(body, list) and isinstance(name, int) and -len(body) <= name < len(body):
        value = body[name]
    if value is _MISSING:
        held = f"keys {sorted(map(str, body))[:12]}" if isinstance(body, Mapping) else f"{type(body).__name__} {preview(json.dumps(body))}"
        expect(source, False, f"{what or 'the reply'} has {name!r} (it holds {held})", response)
        return None
    return value
