#!/usr/bin/env python3
"""Derive the OpenAPI 3.1 spec of the Ambra v3 Services API from the vendor document.

The derivation has two layers:

1. a mechanical pass (this module) that reads the committed copy of the vendor
   document, ``specs/sources/ambra-v3-services-api.txt``, splits it into its 462
   command blocks and turns every block into two operations (form POST and query GET);
2. a hand-written correction layer, ``specs/ambra/corrections.yaml``, applied after
   the mechanical pass: the core object schemas, per-command overrides and the
   decisions taken where the document is ambiguous.  Every correction carries a
   ``why:``; a correction that no longer matches the document fails the build.

Usage::

    python specs/ambra/derive.py           # regenerate specs/ambra/openapi.yaml
    python specs/ambra/derive.py --check   # exit 1 when the committed spec is stale
    python specs/ambra/derive.py --counts  # print the document counts only

Only the standard library and PyYAML are used, and the output is deterministic.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DOCUMENT = REPO / "specs" / "sources" / "ambra-v3-services-api.txt"
# The general sections (Error handling, Filter clauses, Fields, Pagination) whose bodies the .txt lost.
PREAMBLE = REPO / "specs" / "sources" / "ambra-v3-services-api-preamble.txt"
CORRECTIONS = HERE / "corrections.yaml"
OUTPUT = HERE / "openapi.yaml"

# Floors the counts must reach: a parser that finds fewer has missed something.
COUNT_FLOORS = {"commands": 462, "parameter_lines": 2400, "error_lines": 1800, "permission_lines": 320}

FILTER_CONDITIONS = (
    "equals",
    "equals_or_null",
    "not_equals",
    "not_equals_or_null",
    "like",
    "gt",
    "ge",
    "lt",
    "le",
    "in",
    "in_or_null",
)
GENERIC_ACTIONS = ("add", "get", "set", "delete", "list", "count")


class DerivationError(Exception):
    """The document or the corrections are not what the derivation expects."""


# --------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------


@dataclass
class Line:
    """One line of the document: its number (1-based), indentation and text."""

    number: int
    indent: int
    text: str


@dataclass
class NestedField:
    """A ``*``-prefixed sub-field of a JSON parameter or of a return field."""

    name: str
    description: str
    depth: int
    line: int
    condition: str | None = None
    children: list[NestedField] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass
class Param:
    """One documented parameter (a plain name or a name pattern)."""

    name: str
    description: str
    optional: bool
    line: int
    kind: str = "plain"  # plain | filter | page | sort | expand | template | passthrough
    group_note: str | None = None
    nested: list[NestedField] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass
class Alternative:
    """``(a || b && c)``: one of several sets of parameters must be present."""

    raw: str
    sets: list[list[str]]
    description: str
    optional: bool
    line: int


@dataclass
class ErrorDef:
    """One documented error type (with the error_subtype the line names, if any)."""

    error_type: str
    subtype: str | None
    description: str
    line: int
    misplaced: bool = False


@dataclass
class Command:
    """One command block of the document."""

    url: str
    line: int
    section: str
    description: str
    param_lines: int = 0
    params: list[Param] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    returns: list[NestedField] = field(default_factory=list)
    returns_lines: list[str] = field(default_factory=list)
    returns_prose: list[str] = field(default_factory=list)
    has_permission_line: bool = False
    permission: str | None = None
    errors: list[ErrorDef] = field(default_factory=list)
    http_errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    block: tuple[int, int] = (0, 0)  # first and last line of the block (Description .. the line before "top")
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # section -> first and last line with text
    http_error_lines: dict[str, int] = field(default_factory=dict)  # "404" -> the line of "[404] • ..."

    @property
    def group(self) -> str:
        return self.url.strip("/").split("/")[0]

    @property
    def command(self) -> str:
        return "/".join(self.url.strip("/").split("/")[1:])

    @property
    def operation_id(self) -> str:
        return self.url.strip("/").replace("/", "_")


@dataclass
class Document:
    """The parsed document: commands plus the role permission table."""

    commands: list[Command]
    permission_flags: list[dict[str, Any]]
    counts: dict[str, int]


# --------------------------------------------------------------------------
# Splitting the document into command blocks
# --------------------------------------------------------------------------

SECTION_RE = re.compile(r"^(Description|URL|Parameters|Returns|Permission|Errors|Notes)(?:\s+(.*))?$")
HEADING_RE = re.compile(r"^[A-Za-z0-9]+(?: [A-Za-z0-9()]+){0,3} commands$")  # "Account (organization) commands"
TOP_LINES = {"top", "• top"}


def read_lines(path: Path) -> list[Line]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        raw = raw.rstrip()
        stripped = raw.lstrip(" ")
        lines.append(Line(number, len(raw) - len(stripped), stripped))
    return lines


def split_blocks(lines: list[Line]) -> list[tuple[str, list[Line]]]:
    """Return ``(section heading, block lines)`` for every command block.

    A block starts at a ``Description`` line directly followed by a ``URL`` line and
    ends at its ``top`` link, or, where that link is missing, at the next section
    heading (``... commands`` after a blank line) or the next block.
    """
    starts = [
        i
        for i, line in enumerate(lines[:-1])
        if (line.text == "Description" or line.text.startswith("Description ")) and lines[i + 1].text.startswith("URL ")
    ]
    blocks = []
    heading = ""
    previous_end = 0
    for k, start in enumerate(starts):
        for line in lines[previous_end:start]:
            # the first heading after the previous block ("Node commands", then "Harvester commands")
            if HEADING_RE.match(line.text):
                heading = line.text
                break
        limit = starts[k + 1] if k + 1 < len(starts) else len(lines)
        end = limit
        for i in range(start, limit):
            text = lines[i].text
            if text in TOP_LINES:
                end = i
                break
            if HEADING_RE.match(text) and i > start and not lines[i - 1].text:
                end = i
                break
        blocks.append((heading, lines[start:end]))
        previous_end = end
    return blocks


def sectioned(block: list[Line]) -> dict[str, list[Line]]:
    """Group the lines of a block under their section keyword."""
    sections: dict[str, list[Line]] = {}
    current = None
    for line in block:
        match = SECTION_RE.match(line.text)
        if match and not line.text.startswith("Permissions"):
            current = match.group(1)
            if current in sections:
                raise DerivationError(f"line {line.number}: second {current} section in one command")
            sections[current] = []
            if match.group(2):
                sections[current].append(Line(line.number, line.indent, match.group(2)))
            continue
        if current is not None:
            sections[current].append(line)
    return sections


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------

OPTIONAL_RE = re.compile(
    r"\(op?t?ional\b|\(opional\b|^Optional\b|\(required if |\(only needed for |"
    r"defaults to \w+ if not passed|\bby default\.?$"
)
PATTERN_LINE_RE = re.compile(r"^(filter\.\*|page\.\*|expand\.\*|sort_by)\s*(.*)$")
GLUED_RE = re.compile(r"^([a-z][a-z0-9_]*?)([A-Z][a-z].*)$")
GLUED_PARAM_IN_DESC_RE = re.compile(r"\s([a-z][a-z0-9_]*) • ")
PLAIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_.]*$")
TEMPLATE_NAME_RE = re.compile(r"^[a-z_]+-?'?\{[A-Z_|]+\}'?$")
ALTERNATIVE_RE = re.compile(r"^\((.+)\)$")
OPTION_RE = re.compile(r"^•\s*([A-Za-z0-9_\-]+)\s*(?:\((\w+)\))?\s*•\s*(.*)$")

PATTERN_KINDS = {"filter.*": "filter", "page.*": "page", "expand.*": "expand", "sort_by": "sort"}


def is_optional(description: str) -> bool:
    return bool(OPTIONAL_RE.search(description))


def split_alternative(raw: str) -> list[list[str]]:
    """``sid || uuid && serial_no`` -> ``[[sid], [uuid, serial_no]]`` (``&&`` binds tighter)."""
    sets = []
    for branch in re.split(r"\s*\|\|\s*|\s+or\s+", raw.strip()):
        members = [m.strip() for m in branch.split("&&")]
        if not all(PLAIN_NAME_RE.match(m) for m in members):
            raise DerivationError(f"unreadable alternative {raw!r}")
        sets.append(members)
    return sets


CONDITION_RES = (
    (re.compile(r"\bif (sid|node) authentication\b"), "auth"),
    (re.compile(r"\bif the action is ([A-Z_]+)\b"), "action"),
)


def alternative_conditions(alt: Alternative) -> list[dict[str, Any]]:
    """``(study_id || study_uid || ...) • The uuid of the study if sid authentication or the study_uid if node
    authentication or ...``: the sets of an alternative that count only under a condition the description
    states, one clause per set (the description's " or " clauses, in order). Nothing when the clauses do
    not line up with the sets."""
    clauses = re.split(r"\s+or\s+", alt.description)
    if len(clauses) != len(alt.sets):
        return []
    found = []
    for members, clause in zip(alt.sets, clauses, strict=True):
        for pattern, key in CONDITION_RES:
            match = pattern.search(clause)
            if match:
                found.append({"set": list(members), "if": {key: match.group(1)}, "clause": clause.strip()})
    return found


def parse_parameters(command: Command, lines: list[Line]) -> None:
    """Fill ``command.params`` and ``command.alternatives`` from the Parameters section."""
    group_note = None
    last: Param | None = None
    entries: list[tuple[Line, str, str]] = []  # (line, name, description)
    for line in lines:
        text = line.text
        if not text:
            continue
        if text.startswith("•"):
            if last is None:
                raise DerivationError(f"line {line.number}: sub-item before any parameter")
            last.options.append(text.lstrip("• ").strip())
            continue
        if text.startswith("* • "):  # /study/status/get: "* • Any other parameters ..."
            last = _make_param(command, "**", text[4:].strip(), line.number, group_note)
            entries.append((line, "*", text[4:]))
            continue
        if text.startswith("*"):
            if last is None:
                raise DerivationError(f"line {line.number}: nested field before any parameter")
            depth = len(text) - len(text.lstrip("*"))
            name, desc = _split_field(text.lstrip("* "), line.number)
            last.nested.append(NestedField(name, desc, depth, line.number))
            continue
        if text.startswith("--"):
            group_note = text.strip("- ").strip()
            continue
        for name, desc in _param_entries(text, line.number):
            param = _make_param(command, name, desc, line.number, group_note)
            if param is not None:
                last = param
            entries.append((line, name, desc))
    command.param_lines = len(entries)


def _param_entries(text: str, number: int) -> list[tuple[str, str]]:
    """Split one Parameters line into ``(name, description)`` entries."""
    match = PATTERN_LINE_RE.match(text)
    if match:
        return [(match.group(1), match.group(2).strip())]
    if " • " in text:
        name, desc = text.split(" • ", 1)
        entries = [(name.strip(), desc.strip())]
        glued = GLUED_PARAM_IN_DESC_RE.search(desc)
        if glued:  # two parameters on one line, the newline between them lost
            entries = [(name.strip(), desc[: glued.start()].strip()), (glued.group(1), desc[glued.end() :].strip())]
        return entries
    match = GLUED_RE.match(text)  # "share_settingsShare settings ...": the bullet lost
    if match:
        return [(match.group(1), match.group(2).strip())]
    raise DerivationError(f"line {number}: unreadable parameter line {text!r}")


def _make_param(command: Command, name: str, desc: str, number: int, group_note: str | None) -> Param | None:
    optional = is_optional(desc)
    alt = ALTERNATIVE_RE.match(name)
    if alt:
        command.alternatives.append(Alternative(name, split_alternative(alt.group(1)), desc, optional, number))
        return None
    if name in PATTERN_KINDS:
        kind = PATTERN_KINDS[name]
    elif name.endswith("**"):
        kind, name = "passthrough", name.rstrip("*") or "*"
    elif TEMPLATE_NAME_RE.match(name):
        kind = "template"
    elif PLAIN_NAME_RE.match(name):
        kind = "plain"
    else:
        raise DerivationError(f"line {number}: unreadable parameter name {name!r}")
    param = Param(name, desc, optional, number, kind, group_note)
    command.params.append(param)
    return param


# --------------------------------------------------------------------------
# Returns
# --------------------------------------------------------------------------

FIELD_RE = re.compile(r"^(\([a-z_|]+\)|[A-Za-z0-9_.\-{}]+) • (.*)$")
GLUED_FIELD_IN_DESC_RE = re.compile(r"\s(\*{0,2} ?[a-z][a-z0-9_]*) • ")
MISSING_BULLET_RE = re.compile(r"^([a-z][a-z0-9_]*) ([A-Z].*)$")
SEPARATOR_RE = re.compile(r"^-{2,}\s*(.*?)\s*-{2,}$")


def _split_field(text: str, number: int) -> tuple[str, str]:
    text = text.replace("↳", "").strip()
    match = FIELD_RE.match(text)
    if match:
        return match.group(1), match.group(2).strip()
    match = GLUED_RE.match(text) or MISSING_BULLET_RE.match(text)
    if match:
        return match.group(1), match.group(2).strip()
    raise DerivationError(f"line {number}: unreadable field {text!r}")


def parse_returns(command: Command, lines: list[Line]) -> None:
    """Fill the return-field tree, the raw return lines and the prose of Returns."""
    stack: list[NestedField] = []
    condition = None
    for line in lines:
        text = line.text
        if not text:
            continue
        command.returns_lines.append(text)
        if text.startswith("•"):
            if stack:
                stack[-1].options.append(text.lstrip("• ").strip())
            else:
                command.returns_prose.append(text)
            continue
        separator = SEPARATOR_RE.match(text)
        if separator:
            condition = separator.group(1)
            continue
        for depth, body in _return_entries(text):
            if body == "status • OK" and depth == 0:
                continue
            try:
                name, desc = _split_field(body, line.number)
            except DerivationError:
                if stack and depth > 0:
                    stack[-1].options.append(body)
                else:
                    command.returns_prose.append(body)
                continue
            names = name.strip("()").split("|") if name.startswith("(") else [name]
            parent = next((n for n in reversed(stack) if n.depth < depth), None)
            if (
                depth > 0
                and condition
                and parent is not None
                and parent.depth == 0
                and not re.search(r"\b(array|list|hash)\b", parent.description, re.I)
            ):
                # /account/get: "--- returned if the permissions flag ... ---" then "* permissions":
                # the stars continue the separator, they do not nest under the field before it
                depth = 0
            for single in names:
                node = NestedField(single, desc, depth, line.number, condition if depth == 0 else None)
                while stack and stack[-1].depth >= depth:
                    stack.pop()
                if depth == 0:
                    command.returns.append(node)
                elif stack:
                    stack[-1].children.append(node)
                else:
                    raise DerivationError(f"line {line.number}: nested return field without parent")
                stack.append(node)


def _return_entries(text: str) -> list[tuple[int, str]]:
    """Split a Returns line into ``(depth, "name • description")`` entries (glued lines too)."""
    entries = []
    while True:
        depth = len(text) - len(text.lstrip("*"))
        body = text.lstrip("* ").strip()
        head = body.split(" • ", 1)
        glued = GLUED_FIELD_IN_DESC_RE.search(head[1]) if len(head) == 2 else None
        if not glued:
            entries.append((depth, body))
            return entries
        cut = len(head[0]) + 3 + glued.start()
        entries.append((depth, body[:cut].strip()))
        text = body[cut:].strip()


# --------------------------------------------------------------------------
# Errors, permission, notes
# --------------------------------------------------------------------------

ERROR_RE = re.compile(r"^(?P<type>[A-Z][A-Z0-9_]+)(?: \((?P<sub>[A-Z0-9_]+)\)|, subtype (?P<sub2>[A-Z0-9_]+)[^•]*?)? • (?P<desc>.*)$")
HTTP_ERROR_RE = re.compile(r"^\[(\d{3})\] • (.*)$")
GLUED_ERROR_RE = re.compile(r"\s(?=[A-Z][A-Z0-9_]{2,}(?: \([A-Z0-9_]+\))? • )")


def parse_errors(command: Command, lines: list[Line], misplaced: bool = False) -> None:
    for line in lines:
        if not line.text:
            continue
        for piece in GLUED_ERROR_RE.split(line.text):
            http = HTTP_ERROR_RE.match(piece)
            if http:
                command.http_errors[http.group(1)] = http.group(2).strip()
                command.http_error_lines[http.group(1)] = line.number
                continue
            match = ERROR_RE.match(piece)
            if not match:
                raise DerivationError(f"line {line.number}: unreadable error line {piece!r}")
            command.errors.append(
                ErrorDef(
                    match.group("type"),
                    match.group("sub") or match.group("sub2"),
                    match.group("desc").strip(),
                    line.number,
                    misplaced,
                )
            )


def parse_notes(command: Command, lines: list[Line]) -> None:
    """Notes become items: a line indented deeper than the first item continues it."""
    misplaced_errors = [line for line in lines if ERROR_RE.match(line.text) and not line.text.startswith("•")]
    if misplaced_errors and not command.errors:
        # /session/permissions: its error lines were printed under Notes
        parse_errors(command, misplaced_errors, misplaced=True)
        lines = [line for line in lines if line not in misplaced_errors]
    items: list[str] = []
    item_indent = None
    for line in lines:
        if not line.text or line.text in TOP_LINES:
            continue
        text = re.sub(r"^(?:\d+\.|•)\s*", "", line.text)
        if item_indent is None or line.indent <= item_indent or not items:
            item_indent = line.indent if item_indent is None else item_indent
            items.append(text)
        else:
            items[-1] += "\n" + text
    command.notes = items


def parse_command(heading: str, block: list[Line]) -> Command:
    sections = sectioned(block)
    url_lines = sections.get("URL", [])
    if len(url_lines) != 1:
        raise DerivationError(f"line {block[0].number}: expected one URL line")
    url = url_lines[0].text.strip()
    if not re.match(r"^/[a-z0-9_]+(/[a-z0-9_]+)*$", url):
        raise DerivationError(f"line {url_lines[0].number}: unexpected URL {url!r}")
    description = " ".join(line.text for line in sections.get("Description", []) if line.text)
    command = Command(url=url, line=url_lines[0].number, section=heading, description=description)
    texts = [line for line in block if line.text]
    command.block = (texts[0].number, texts[-1].number)
    for name, lines in sections.items():
        numbered = [line.number for line in lines if line.text]
        if numbered:
            command.spans[name] = (numbered[0], numbered[-1])
    parse_parameters(command, sections.get("Parameters", []))
    parse_returns(command, sections.get("Returns", []))
    if "Permission" in sections:
        command.has_permission_line = True
        text = " ".join(line.text for line in sections["Permission"] if line.text).strip()
        command.permission = text or None
    parse_errors(command, sections.get("Errors", []))
    parse_notes(command, sections.get("Notes", []))
    return command


# --------------------------------------------------------------------------
# The role permission table ("Permissions" section of the document)
# --------------------------------------------------------------------------

PERMISSION_ROW_RE = re.compile(r"^(↳ )?([a-z][a-z0-9_]*|setting_\{SETTING_NAME\}) (\d+|F) (\d|F) (\d|F) (\d|F) (.*)$")
PERMISSION_JSON_RE = re.compile(r"^([a-z][a-z0-9_]*) (JSON .*)$")


def parse_permission_table(lines: list[Line]) -> list[dict[str, Any]]:
    """Read the flag table between the ``Permissions`` and ``Schedules`` headings."""
    texts = [line.text for line in lines]
    try:
        start = texts.index("Permissions", 100)
        end = texts.index("Schedules", start)
    except ValueError as exc:
        raise DerivationError("Permissions table not found") from exc
    flags: list[dict[str, Any]] = []
    pending_fields: list[str] = []
    parent = None
    for text in texts[start:end]:
        row = PERMISSION_ROW_RE.match(text)
        if row:
            defaults = [row.group(i) for i in range(3, 7)]
            if defaults[0] == "09":  # site_user_delete: "09" is a typo for 0
                defaults[0] = "0"
            entry = {"name": row.group(2), "defaults": defaults, "description": row.group(7).strip()}
            if row.group(1):
                entry["parent"] = parent
            else:
                parent = row.group(2)
            flags.append(entry)
            continue
        json_row = PERMISSION_JSON_RE.match(text)
        if json_row:
            flags.append({"name": json_row.group(1), "json": True, "description": json_row.group(2)})
            continue
        if re.match(r"^study_field_[a-z_A-Z]+$", text):
            pending_fields.append(text)
            continue
        if text.startswith("F F F F") and pending_fields:
            for name in pending_fields:
                flags.append({"name": name, "defaults": ["F"] * 4, "field": True, "description": text[8:].strip()})
            pending_fields = []
    return flags


# --------------------------------------------------------------------------
# Reading the whole document
# --------------------------------------------------------------------------


def parse_document(path: Path = DOCUMENT) -> Document:
    lines = read_lines(path)
    commands = [parse_command(heading, block) for heading, block in split_blocks(lines)]
    seen: set[str] = set()
    for command in commands:
        if command.url in seen:
            raise DerivationError(f"command {command.url} documented twice")
        seen.add(command.url)
    counts = {
        "commands": len(commands),
        "groups": len({c.group for c in commands}),
        "document_sections": len({c.section for c in commands}),
        "parameter_lines": sum(c.param_lines for c in commands),
        "parameters": sum(len(c.params) for c in commands),
        "alternatives": sum(len(c.alternatives) for c in commands),
        "error_lines": sum(len(c.errors) for c in commands) + sum(len(c.http_errors) for c in commands),
        "permission_lines": sum(1 for c in commands if c.has_permission_line),
        "permissions_with_text": sum(1 for c in commands if c.permission),
        "return_fields": sum(_count_fields(c.returns) for c in commands),
        "notes": sum(len(c.notes) for c in commands),
    }
    return Document(commands, parse_permission_table(lines), counts)


def _count_fields(fields: list[NestedField]) -> int:
    return sum(1 + _count_fields(f.children) for f in fields)


# --------------------------------------------------------------------------
# Typing: what a documented description says about a value
# --------------------------------------------------------------------------

FLAG_RES = [
    re.compile(r"^(?:A |The )?[Ff]lag\b"),  # "Flag to ...", "A flag that ...", "The flag used ..."
    re.compile(r"[-\u2013] ?flag\b"),  # "... - flag (optional)"
    re.compile(r"\b(?:this|the) flag is (?:set|on)\b"),
    re.compile(r"^\w+ flag\b"),  # "Star flag ...", "Inactive flag ..."
    re.compile(r"^(?:Is|Can|Does|Should) (?:this|the|an?|they)\b"),  # yes/no questions
]
INTEGER_RES = [
    re.compile(r"^(?:An? )?[Ii]nteg(?:er|ral)\b"),
    re.compile(r"^(?:The )?(?:[Mm]aximum |[Tt]otal )?[Nn]umber of\b"),
    re.compile(r"^The maximum number of\b|\bthe max(?:imum)? number of\b"),
    re.compile(r"^Threshold in (?:minutes|seconds)\b"),
    re.compile(r"^Interval in seconds\b"),
    re.compile(r"^Limit the length of\b"),
    re.compile(r"^Maximum size of the report\b"),
    re.compile(r"\bthis number of days\b|\bthese days old\b|\blast number of hours\b"),
    re.compile(r"\bsize in bytes\b|^Size of the .* in bytes"),
    re.compile(r"\bValid values are \d+ to \d+\b"),
    re.compile(r"^The .* (?:value|timer) in seconds\b"),
]
JSON_RE = re.compile(r"\bJSON\b")
NOT_JSON_RES = re.compile(
    r"rather than the JSON|or a JSON|accepts JSON|encrypted|Alternatively|or the regular expression|"
    r"comma separated list or"
)
HASH_RE = re.compile(r"^(?:An? |The )?hash\b", re.I)  # "A hash of the role settings": a JSON hash in a form field
ENUM_RE = re.compile(r"\(([A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)+)\)")
RANGE_RE = re.compile(r"\bValid values are (\d+) to (\d+)\b")


def flag_schema() -> dict[str, Any]:
    """A flag parameter, inline so that a type look-up needs no reference resolution."""
    return {"type": "integer", "enum": [0, 1]}


def classify(name: str, description: str) -> tuple[str, dict[str, Any]]:
    """Return ``(kind, schema)`` for a parameter or field from its documented description.

    kind is one of ``flag``, ``json``, ``enum``, ``integer`` or ``string``.  Form and
    query values all arrive as strings; the schema states what the string holds.
    """
    desc = description
    if any(r.search(desc) for r in FLAG_RES) and not JSON_RE.search(desc) and not name.endswith("_flags"):
        return "flag", flag_schema()
    if (JSON_RE.search(desc) or HASH_RE.search(desc)) and not NOT_JSON_RES.search(desc):
        schema: dict[str, Any] = {"type": "string", "contentMediaType": "application/json"}
        lowered = desc.lower()
        if re.search(r"\b(hash|object)\b", lowered) and not re.search(r"\b(array|list)\b", lowered.split("hash")[0]):
            schema["contentSchema"] = {"type": "object"}
        elif re.search(r"\b(array|list)\b", lowered):
            schema["contentSchema"] = {"type": "array", "items": {}}  # items: the document does not say what they are
        return "json", schema
    enum = ENUM_RE.search(desc)
    if enum:
        values = enum.group(1).split("|")
        if sorted(values) == ["0", "1"]:
            return "flag", flag_schema()
        return "enum", {"type": "string", "enum": values}
    if any(r.search(desc) for r in INTEGER_RES) or re.search(r"(^|_)count$", name):
        schema = {"type": "integer"}
        bounds = RANGE_RE.search(desc)
        if bounds:
            schema.update(minimum=int(bounds.group(1)), maximum=int(bounds.group(2)))
        return "integer", schema
    return "string", {"type": "string"}


def returned_schema(name: str, description: str) -> dict[str, Any]:
    """Schema of a documented return field (the reply is JSON, so values are typed)."""
    desc = description
    lowered = desc.lower()
    if re.search(r"\bcomma (?:separated|delimited) list\b", lowered):
        return {"type": ["string", "null"]}
    if re.search(r"^(?:an? |the )?(?:json )?(?:array|list)\b|\b(?:an?|the|json) (?:json )?(?:array|list) of\b", lowered):
        return {"type": "array", "items": {}}  # items: what the document says of them, if anything, is added by the caller
    if re.search(r"\bhash\b|\bjson object\b|^an object\b", lowered):
        return {"type": "object"}
    kind, schema = classify(name, desc)
    if kind == "flag":
        return {"$ref": "#/components/schemas/ReturnedFlag"}
    if kind == "integer":
        return {"type": ["integer", "null"]}
    if kind == "enum":
        return {"x-ambra-enum": schema["enum"]}
    if re.search(r"(^|_)(uuid|id)$", name):
        return {"type": ["string", "null"]}
    return {}


# --------------------------------------------------------------------------
# Building the spec
# --------------------------------------------------------------------------

FILTER_PATTERN = r"^filter\.[^=&]+\.(" + "|".join(FILTER_CONDITIONS) + r")$"
EXPAND_PATTERN = r"^expand\.[A-Za-z0-9_.]+$"
TEMPLATE_PATTERNS = {
    "customfield-{CUSTOMFIELD_UUID}": [r"^customfield-[0-9A-Fa-f-]+$"],
    "customfield-{CUSTOMFIELD_UUID|DICOM_TAG}": [r"^customfield-[0-9A-Fa-f-]+$", r"^customfield-\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)$"],
    "customfield-'{CUSTOMFIELD_NAME}'": [r"^customfield-'.+'$"],
    "setting_{SETTING_NAME}": [r"^setting_[A-Za-z0-9_.-]+$"],
    "permission_{PERMISSION_NAME}": [r"^permission_[A-Za-z0-9_]+$"],
    "anonymize_{STUDY_FIELD}": [r"^anonymize_[A-Za-z0-9_]+$"],
}
REFERENCE_RE = re.compile(
    r"(?:same fields as|same as|fields (?:from|in)|contains the fields in|The fields from|fields are the same as)"
    r"\s+(?:the\s+)?(/[a-z_]+(?:/[a-z_]+)*)"
)
SID_WITH_OTHER_AUTH = "optional if basic authentication or an OAuth token is used"
SESSION_SECURITY: list[dict[str, list[str]]] = [{"sid": []}, {"bearer": []}, {"basic": []}]
SESSION_SCHEMES = frozenset(name for requirement in SESSION_SECURITY for name in requirement)  # a user's: their 401 is documented
# A note of five node commands (/node/ping, /node/deliver, /node/retrieve, /node/webhook, /node/configuration): their two
# credential parameters may come as HTTP basic authentication instead. Only the node's uuid and serial_no are known to it.
BASIC_CREDENTIALS_RE = re.compile(r"^The ([a-z_]+) and ([a-z_]+) can also be passed using basic auth as the username/password combination$")
BASIC_CREDENTIAL_SCHEMES = {("uuid", "serial_no"): "nodeBasic"}
NODE_BASIC_SCHEME = {
    "type": "http",
    "scheme": "basic",
    "description": "A node's own credentials: HTTP basic authentication with the node's uuid as the username and its serial_no "
    'as the password, in place of the uuid and serial_no parameters, on the commands whose Notes say "The uuid and serial_no '
    'can also be passed using basic auth as the username/password combination" (x-ambra-basic-credentials names the '
    "parameters). Not a user's login: no session, no 401; a node it does not name is the command's NOT_FOUND.",
}


# Component schemas that are not objects of the API (no fields.OBJECT selects them).
NOT_OBJECTS = frozenset(
    {"OkReply", "OkStatus", "PageHash", "ReturnedFlag", "CustomfieldValue", "RolePermissions", "AmbraError", "Flag", "Timestamp"}
)


def is_hash_field(schema: Any) -> bool:
    """A JSON hash in a form field (``settings``, ``permissions``): contentSchema an object or a reference to one."""
    content = (schema or {}).get("contentSchema") or {}
    return content.get("type") == "object" or "$ref" in content


def snake(name: str) -> str:
    """``AccountUser`` -> ``account_user`` (a component schema's name as an Ambra object name)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def camel(path: str) -> str:
    """``/account/user/get`` -> ``AccountUser`` (a trailing ``get`` is dropped)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts and parts[-1] == "get" and len(parts) > 1:
        parts = parts[:-1]
    return "".join(word.capitalize() for part in parts for word in part.split("_"))


@dataclass
class Corrections:
    """The hand-written layer (corrections.yaml), checked against the document."""

    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path = CORRECTIONS) -> Corrections:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        _require_why(data, "corrections.yaml")
        return cls(data)

    def section(self, key: str) -> dict[str, Any]:
        return self.data.get(key) or {}

    def command(self, url: str) -> dict[str, Any]:
        return self.section("commands").get(url) or {}


# --------------------------------------------------------------------------
# Citations: where the documents say what an operation or a response is
# --------------------------------------------------------------------------

MAX_CITED_LINES = 40  # a block longer than this is cited by its first 40 lines


class Citations:
    """``x-medimock-cite`` entries for one file of specs/sources/.

    A citation is ``{file, anchor, lines}``: ``anchor`` is a verbatim fragment of one line
    that occurs exactly once in the file (whitespace-normalised), ``lines`` how many lines to
    quote from that line on. ``file`` is left out for the spec's default source document.
    """

    def __init__(self, path: Path, default: bool) -> None:
        self.name = path.name
        self.default = default
        self.lines = [" ".join(raw.split()) for raw in path.read_text(encoding="utf-8").split("\n")]
        self.text = "\n".join(self.lines)

    def unique(self, fragment: str) -> bool:
        return bool(fragment) and self.text.count(fragment) == 1

    def fragment(self, fragment: str, lines: int = 1) -> dict[str, Any]:
        """A citation of the line holding ``fragment`` (which must occur exactly once)."""
        fragment = " ".join(fragment.split())
        if not self.unique(fragment):
            raise DerivationError(f"{self.name}: citation anchor {fragment!r} is not unique in the file")
        return self._cite(fragment, lines)

    def span(self, first: int, last: int, floor: int) -> dict[str, Any]:
        """A citation of lines ``first..last`` (1-based): anchored on the first line of the span that is
        unique in the file, else on the nearest unique line before it, down to line ``floor``."""
        for number in [*range(first, last + 1), *range(first - 1, floor - 1, -1)]:
            text = self.lines[number - 1]
            if self.unique(text):
                return self._cite(text, min(max(last, number) - number + 1, MAX_CITED_LINES))
        # No line from the block's start to the span is unique (/radreport/template/get): the block's first
        # line, by its occurrence in the file.
        text = self.lines[floor - 1]
        occurrence = sum(1 for line in self.lines[: floor - 1] if text in line) + 1
        if not text or sum(1 for line in self.lines if text in line) != self.text.count(text):
            raise DerivationError(f"{self.name}: lines {first}-{last} cannot be cited")
        cite = self._cite(text, min(last - floor + 1, MAX_CITED_LINES))
        cite["occurrence"] = occurrence
        return cite

    def _cite(self, anchor: str, lines: int) -> dict[str, Any]:
        cite: dict[str, Any] = {} if self.default else {"file": self.name}
        cite.update(anchor=anchor, lines=lines)
        return cite


def _require_why(node: Any, where: str) -> None:
    """Every correction entry (a mapping under a correction section) must say why."""
    sections = ("commands", "schemas", "type_rules", "reference_fixes", "extra_paths", "generic_errors")
    if not isinstance(node, dict):
        raise DerivationError(f"{where}: expected a mapping")
    for key in sections:
        entries = node.get(key) or {}
        items = entries.items() if isinstance(entries, dict) else enumerate(entries)
        for name, entry in items:
            if not isinstance(entry, dict) or not entry.get("why"):
                raise DerivationError(f"{where}: {key}.{name} has no why:")
            for sub in ("params", "returns"):
                for pname, pentry in (entry.get(sub) or {}).items():
                    if not isinstance(pentry, dict) or not pentry.get("why"):
                        raise DerivationError(f"{where}: {key}.{name}.{sub}.{pname} has no why:")


class SpecBuilder:
    """Turns the parsed document plus the corrections into an OpenAPI 3.1 document."""

    def __init__(self, document: Document, corrections: Corrections):
        self.document = document
        self.corrections = corrections
        self.commands = {c.url: c for c in document.commands}
        self.schemas: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        self.resource_names: dict[str, str] = {}
        self.anchors: dict[int, str] = {}  # id(object) -> YAML anchor, for objects GET shares with POST
        self.interned: dict[str, Any] = {}
        self.flag_names = {f["name"] for f in document.permission_flags}
        self.cites = Citations(DOCUMENT, default=True)
        self.general = Citations(PREAMBLE, default=False)
        self.field_parameters: dict[str, dict[str, Any]] = {}  # "fields.study" -> its GET parameter component
        self._move_misprinted_fields()
        self._check_corrections()

    def _move_misprinted_fields(self) -> None:
        """Return fields the document printed under Parameters become return fields."""
        for url, entry in self.corrections.section("commands").items():
            names = entry.get("returns_printed_as_parameters") or []
            if not names:
                continue
            command = self.commands.get(url)
            if command is None:
                raise DerivationError(f"corrections: command {url} is not in the document")
            moved = [p for p in command.params if p.name in names]
            if len(moved) != len(names):
                raise DerivationError(f"corrections: {url} does not print all of {names} under Parameters")
            command.params = [p for p in command.params if p.name not in names]
            command.returns.extend(NestedField(p.name, p.description, 0, p.line) for p in moved)
            command.returns_lines.extend(f"{p.name} • {p.description}" for p in moved)

    # -- corrections sanity -------------------------------------------------

    def _check_corrections(self) -> None:
        for url, entry in self.corrections.section("commands").items():
            command = self.commands.get(url)
            if command is None:
                raise DerivationError(f"corrections: command {url} is not in the document")
            known = self._parameter_names(command)
            for name in [*(entry.get("params") or {}), *(entry.get("optional") or [])]:
                if name not in known:
                    raise DerivationError(f"corrections: {url} has no parameter {name}")
            fields = {f.name for f in command.returns}
            for name in entry.get("returns") or {}:
                if name not in fields:
                    raise DerivationError(f"corrections: {url} returns no field {name}")
        for name, entry in self.corrections.section("schemas").items():
            source = entry.get("source")
            if source and source not in self.commands:
                raise DerivationError(f"corrections: schema {name} source {source} is not in the document")

    @staticmethod
    def _parameter_names(command: Command) -> set[str]:
        names = {p.name for p in command.params}
        for alt in command.alternatives:
            names.update(m for s in alt.sets for m in s)
        return names

    # -- resources -----------------------------------------------------------

    def resource_schema_name(self, url: str) -> str | None:
        """The component schema that holds the fields a command returns, if any."""
        url = self.corrections.section("reference_fixes").get(url, {}).get("to", url)
        if url in self.resource_names:
            return self.resource_names[url]
        core = self.core_schema_for(url)
        if core:
            self.resource_names[url] = core
            return core
        command = self.commands.get(url)
        if command is None or not command.returns:
            return None
        name = camel(url)
        self.resource_names[url] = name
        self.schemas[name] = {"__pending__": url}
        return name

    def core_schema_for(self, url: str) -> str | None:
        """The hand-written schema that replaces the reply fields of a command, if any."""
        for name, entry in self.corrections.section("schemas").items():
            if entry.get("source") == url and not entry.get("source_field"):
                return name
        return None

    def _fill_resource_schemas(self) -> None:
        while True:
            pending = [(n, s["__pending__"]) for n, s in self.schemas.items() if "__pending__" in s]
            if not pending:
                return
            for name, url in pending:
                command = self.commands[url]
                self.schemas[name] = self._object_schema(command.returns, command.url, f"Fields of {url}")

    def _object_schema(self, fields: list[NestedField], url: str, description: str | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        if description:
            schema["description"] = description
        props: dict[str, Any] = {}
        overrides = self.corrections.command(url).get("returns") or {} if url else {}
        for f in fields:
            if f.name in overrides and f.depth == 0:
                props[f.name] = {k: v for k, v in overrides[f.name].items() if k != "why"}
                continue
            props[f.name] = self._field_schema(f, url)
        schema["properties"] = props
        return schema

    def _field_schema(self, f: NestedField, url: str) -> dict[str, Any]:
        schema: dict[str, Any] = returned_schema(f.name, f.description)
        if f.name == "page" and "pagination" in f.description.lower():
            schema = ref("schemas", "PageHash")
        target = REFERENCE_RE.search(f.description)
        target_name = self.resource_schema_name(target.group(1)) if target else None
        if f.children:
            inner: dict[str, Any] = self._object_schema(f.children, "")
            if target_name:  # "the same fields as /x/get" plus fields listed here
                inner = {"allOf": [ref("schemas", target_name), inner]}
            schema = {"type": "array", "items": inner} if schema.get("type") == "array" else inner
        elif target_name:
            schema = (
                {"type": "array", "items": ref("schemas", target_name)} if schema.get("type") == "array" else ref("schemas", target_name)
            )
        schema = dict(schema)
        schema["description"] = f.description + (f"\n{chr(10).join(f.options)}" if f.options else "")
        if f.condition:
            schema["x-ambra-returned-if"] = f.condition
        return schema

    # -- parameters ----------------------------------------------------------

    def _type_rule(self, name: str) -> dict[str, Any] | None:
        rules: list[dict[str, Any]] = self.corrections.data.get("type_rules") or []
        for rule in rules:
            if re.search(rule["name"], name):
                return rule
        return None

    def param_schema(
        self, command: Command, name: str, description: str, options: list[str] | None = None, nested: list[NestedField] | None = None
    ) -> tuple[str, dict[str, Any]]:
        kind, schema = classify(name, description)
        rule = self._type_rule(name)
        if rule:
            kind, schema = rule["kind"], copy.deepcopy(rule["schema"])
        schema = dict(schema)
        if kind == "json" and (options or nested):
            content = dict(schema.get("contentSchema") or {"type": "object"})
            if options:
                props = {}
                for option in options:
                    match = OPTION_RE.match("• " + option)
                    if match:
                        json_type = {"boolean": "boolean", "array": "array", "number": "number"}.get(match.group(2) or "", "string")
                        props[match.group(1)] = {"type": json_type, "description": match.group(3)}
                        if json_type == "array":
                            props[match.group(1)]["items"] = {}
                if props:
                    content = {"type": "object", "properties": props}
            if nested:
                item = self._object_schema(nested, "")
                content = {"type": "array", "items": item} if content.get("type") == "array" else item
            schema["contentSchema"] = content
        if options and "contentSchema" not in schema:
            description = description + "\n" + "\n".join(options)
        schema["description"] = description
        override = (self.corrections.command(command.url).get("params") or {}).get(name)
        if override:
            if "schema" in override:
                schema = dict(copy.deepcopy(override["schema"]), description=description)
            kind = override.get("kind", kind)
        return kind, schema

    def request_model(self, command: Command) -> dict[str, Any]:
        """Properties, pattern properties, required names and alternatives of a command."""
        fixes = self.corrections.command(command.url)
        force_optional = set(fixes.get("optional") or [])
        props: dict[str, Any] = {}
        patterns: dict[str, Any] = {}
        kinds: dict[str, str] = {}
        required: list[str] = []
        passthrough: list[str] = []
        for p in command.params:
            if p.kind == "plain":
                kind, schema = self.param_schema(command, p.name, p.description, p.options, p.nested)
                if p.group_note:
                    schema["x-ambra-group"] = p.group_note
                if p.name == "sid":
                    schema = self.intern(schema, "sid")
                props[p.name] = schema
                kinds[p.name] = kind
                if not p.optional and p.name not in force_optional:
                    required.append(p.name)
            elif p.kind == "filter":
                # no sibling "type" here: x-ambra-query-patterns shares this node, and beside a $ref outside a schema
                # (an extension) only summary and description may stand (Redocly's spec-ref-siblings)
                patterns[FILTER_PATTERN] = dict(ref("schemas", "FilterValue"), description=p.description)
                props["filter.tz"] = self.intern(dict(ref("schemas", "FilterTimeZone"), type="string"), "filter-tz")
                kinds["filter.*"] = "filter"
                if not any(q.name == "filter_id" for q in command.params):  # the Filter clauses' saved filters
                    props["filter_id"] = self.intern(self.saved_filter_schema(), "filter-id")
                    kinds["filter_id"] = "string"
            elif p.kind == "page":
                # the sibling "type" repeats the referenced type for loaders that coerce form strings
                # by a property's declared type without following $ref
                rows = "PageRows1000" if self.page_rows_1000(command) else "PageRows"
                props["page.rows"] = self.intern(dict(ref("schemas", rows), type="integer"), "page-rows")
                props["page.number"] = self.intern(dict(ref("schemas", "PageNumber"), type="integer"), "page-number")
                kinds["page.rows"] = kinds["page.number"] = "integer"
            elif p.kind == "sort":
                props["sort_by"] = self.intern(dict(ref("schemas", "SortBy"), type="string"), "sort-by")
                kinds["sort_by"] = "sort"
            elif p.kind == "expand":
                patterns[EXPAND_PATTERN] = {"type": "string", "description": p.description}
            elif p.kind == "template":
                for pattern in TEMPLATE_PATTERNS[p.name]:
                    patterns[pattern] = {"type": "string", "description": f"{p.name}: {p.description}"}
            elif p.kind == "passthrough":
                passthrough.append(p.name)
        groups: list[list[list[str]]] = []
        optional_groups: list[list[list[str]]] = []
        for alt in command.alternatives:
            for member in [m for s in alt.sets for m in s]:
                if member not in props:
                    kind, schema = self.param_schema(command, member, alt.description)
                    schema["x-ambra-alternative"] = alt.raw
                    props[member] = schema
                    kinds[member] = kind
            sets = [list(s) for s in alt.sets]
            (optional_groups if alt.optional or all(m in force_optional for s in sets for m in s) else groups).append(sets)
        if "alternatives" in fixes:  # a reviewed regrouping, e.g. /session/login's deprecated credentials
            regrouped = [[list(s) for s in group] for group in fixes["alternatives"]]
            optional_groups += [
                g
                for g in groups
                if g not in regrouped and not any(set(m for s in g for m in s) <= set(m for s in r for m in s) for r in regrouped)
            ]
            groups = regrouped
            unknown = {m for g in groups for s in g for m in s} - set(props)
            if unknown:
                raise DerivationError(f"corrections: {command.url} alternatives name unknown parameters {unknown}")
        if patterns:
            patterns = self.intern(patterns, "patterns")
        conditions = [c for alt in command.alternatives for c in alternative_conditions(alt)]
        alternative_members = {m for g in groups + optional_groups for s in g for m in s}
        required = [r for r in required if r not in alternative_members]
        basic = self.basic_credentials(command)
        if basic is not None:
            for role in ("username", "password"):
                name = basic[role]
                if name not in required:
                    raise DerivationError(f"{command.url}: {name}, passed as basic auth's {role}, is no required parameter")
                props[name]["description"] += f" (or, in its place, the {role} of HTTP basic authentication: x-ambra-basic-credentials)"
        return {
            "props": props,
            "patterns": patterns,
            "kinds": kinds,
            "required": required,
            "groups": groups,
            "optional_groups": optional_groups,
            "passthrough": passthrough,
            "conditions": conditions,
            "basic": basic,
        }

    def basic_credentials(self, command: Command) -> dict[str, Any] | None:
        """A note "The uuid and serial_no can also be passed using basic auth as the username/password combination":
        the security scheme, the parameter basic auth's username stands for, the one its password stands for, and the note
        cited. Those parameters stay required (MISSING_FIELDS when neither form carries them) but leave the schemas'
        ``required``: a call may carry them in its Authorization header instead, which OpenAPI cannot make a condition."""
        for note in command.notes:
            match = BASIC_CREDENTIALS_RE.match(note.split("\n", 1)[0].strip())
            if match is None:
                continue
            username, password = match.groups()
            scheme = BASIC_CREDENTIAL_SCHEMES.get((username, password))
            if scheme is None:
                raise DerivationError(f"{command.url}: basic auth stands for {username} and {password}, which no security scheme names")
            first, last = command.spans.get("Notes") or command.block
            line = next((n for n in range(first, last + 1) if match.group(0) in self.cites.lines[n - 1]), None)
            if line is None:
                raise DerivationError(f"{command.url}: the basic auth note is not on a line of its Notes")
            return {
                "scheme": scheme,
                "username": username,
                "password": password,
                "x-medimock-cite": self.cites.span(line, line, command.block[0]),
            }
        return None

    # -- the general sections: saved filters, page defaults, field selection ----

    def saved_filter_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "description": "filter_id: the uuid of a saved filter (/filter/add) applied instead of, or together with, "
            "filter.* expressions; an unknown uuid is FILTER_NOT_FOUND (error_subtype: the uuid).",
            "x-medimock-cite": [
                self.general.fragment("A saved filter can be applied by passing the filter UUID as a filter_id parameter"),
                self.general.fragment("FILTER_NOT_FOUND • The filter can not be found"),
            ],
        }

    def page_rows_1000(self, command: Command) -> bool:
        """Whether a list defaults to 1000 rows (the Pagination section: "100 or 1000 depending on the object type")."""
        entry = self.corrections.section("page_rows_1000")
        resource = "_".join(command.url.strip("/").split("/")[:-1])
        return resource in (entry.get("resources") or [])

    def add_field_selection(self, command: Command, model: dict[str, Any], success: dict[str, Any]) -> dict[str, list[str]]:
        """The Fields section: ``fields._top`` on every command with a JSON hash reply, ``fields.OBJECT`` for each
        object the reply holds (where: ``""`` the top level, ``studies[]`` each item of ``studies``)."""
        schema = ((success.get("content") or {}).get("application/json") or {}).get("schema")
        if not isinstance(schema, dict) or command.url == "/terminology/i18next":
            return {}
        found: dict[str, list[str]] = {}
        self._field_objects(schema, "", found, 0, set())
        info = self.medimock(command, model, success)
        collection = info.get("collection")
        if collection and info.get("resource") and not any(f"{collection}[]" in where for where in found.values()):
            found.setdefault(str(info["resource"]), []).append(f"{collection}[]")
        selection = self.intern(
            {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"type": "array", "items": {"type": "string"}},
                "description": "A JSON array of the fields to return (the Fields section of the general information): "
                "fields._top limits the top-level fields (status is always returned), fields.OBJECT the fields of "
                "each OBJECT the reply holds (x-ambra-field-objects).",
                "x-medimock-cite": self.general.fragment("The returned fields for an object can be limited", lines=2),
            },
            "field-selection",
        )
        for name in ["_top", *sorted(found)]:
            key = f"fields.{name}"
            if key in model["props"]:  # a command documenting a parameter of that name keeps its own
                continue
            model["props"][key] = selection
            model["kinds"][key] = "json"
            # one parameter object per name, aliased by every GET that takes it
            self.field_parameters.setdefault(key, self.intern({"name": key, "in": "query", "schema": selection}, f"param-{key}"))
        return {name: sorted(set(where)) for name, where in sorted(found.items())}

    def _field_objects(self, schema: Any, where: str, found: dict[str, list[str]], depth: int, seen: set[str]) -> None:
        if not isinstance(schema, dict) or depth > 4:
            return
        target = schema.get("$ref", "")
        if target.startswith("#/components/schemas/"):
            name = target.rsplit("/", 1)[-1]
            if name in NOT_OBJECTS or name in seen:
                return
            found.setdefault(snake(name), []).append(where)
            core = (self.corrections.section("schemas").get(name) or {}).get("schema")
            self._field_objects(core, where, found, depth + 1, seen | {name})
            return
        for part in schema.get("allOf") or ():
            self._field_objects(part, where, found, depth, seen)
        for prop, sub in (schema.get("properties") or {}).items():
            self._field_objects(sub, f"{where}.{prop}" if where else prop, found, depth + 1, seen)
        if isinstance(schema.get("items"), dict):
            self._field_objects(schema["items"], f"{where}[]", found, depth + 1, seen)

    def body_schema(self, model: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": model["props"]}
        if model["patterns"]:
            schema["patternProperties"] = model["patterns"]
        required = self.schema_required(model)
        if required:
            schema["required"] = required
        any_ofs = [{"anyOf": [{"required": s} for s in group]} for group in model["groups"]]
        if len(any_ofs) == 1:
            schema.update(any_ofs[0])
        elif any_ofs:
            schema["allOf"] = any_ofs
        # The service ignores fields it does not know; every form value is a string.
        schema["additionalProperties"] = {"type": "string"}
        return schema

    @staticmethod
    def schema_required(model: dict[str, Any]) -> list[str]:
        """The required parameters a schema can state: those that basic auth may carry instead are left out."""
        basic = model["basic"] or {}
        return [name for name in model["required"] if name not in (basic.get("username"), basic.get("password"))]

    def query_parameters(self, model: dict[str, Any], op_id: str) -> list[dict[str, Any]]:
        """The GET parameters: the POST body properties as query parameters (same schema objects)."""
        params = []
        shared = {"page.rows": "PageRows", "page.number": "PageNumber", "sort_by": "SortBy", "filter.tz": "FilterTimeZone"}
        if str((model["props"].get("filter_id") or {}).get("description", "")).startswith("filter_id: the uuid of a saved"):
            shared["filter_id"] = "FilterId"
        if str((model["props"].get("page.rows") or {}).get("$ref", "")).endswith("/PageRows1000"):
            shared["page.rows"] = "PageRows1000"
        for name, schema in model["props"].items():
            if name in shared:
                params.append(ref("parameters", shared[name]))
                continue
            if name in self.field_parameters and schema is self.field_parameters[name]["schema"]:
                params.append(self.field_parameters[name])
                continue
            self.share(schema, f"{op_id}.{name}")
            param: dict[str, Any] = {"name": name, "in": "query"}
            if name in self.schema_required(model):
                param["required"] = True
            param["schema"] = schema
            params.append(param)
        return params

    def share(self, obj: Any, name: str) -> Any:
        """Register an object the GET operation shares with the POST operation."""
        self.anchors.setdefault(id(obj), re.sub(r"[^A-Za-z0-9_-]", "-", name))
        return obj

    def intern(self, obj: Any, name: str) -> Any:
        """Return one shared object per distinct value (sid schemas, security lists, tags)."""
        key = json.dumps(obj, sort_keys=True)
        if key not in self.interned:
            self.interned[key] = obj
            taken = re.compile(re.escape(name) + r"(-\d+)?$")
            count = sum(1 for v in self.anchors.values() if taken.match(v))
            self.share(obj, name if not count else f"{name}-{count + 1}")
        return self.interned[key]

    # -- responses -----------------------------------------------------------

    def success_response(self, command: Command) -> dict[str, Any]:
        fixes = self.corrections.command(command.url).get("response")
        if fixes:
            response = {k: v for k, v in fixes.items() if k not in ("why", "status")}
            return response
        if command.url.endswith("/get") or self.core_schema_for(command.url):
            name = self.resource_schema_name(command.url)
            if name:
                return self._json_response(command, {"allOf": [ref("schemas", "OkReply"), ref("schemas", name)]})
        schema = self._object_schema(command.returns, command.url)
        schema["required"] = ["status"]
        schema["properties"] = {"status": ref("schemas", "OkStatus"), **schema["properties"]}
        extra = []
        for prose in command.returns_prose:
            target = REFERENCE_RE.search(prose)
            name = self.resource_schema_name(target.group(1)) if target else None
            if name:
                extra.append(ref("schemas", name))
        if extra:
            schema = {"allOf": [schema, *extra]}
        return self._json_response(command, schema)

    def _json_response(self, command: Command, schema: dict[str, Any]) -> dict[str, Any]:
        description = "Success: JSON with status OK and the documented return fields."
        if command.returns_prose:
            description += "\n\nThe document adds: " + " ".join(command.returns_prose)
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    def error_response(self, command: Command, model: dict[str, Any]) -> dict[str, Any]:
        documented: list[str] = []
        entries: list[str] = []
        subtypes: dict[str, list[str]] = {}
        for error in command.errors:
            if error.error_type not in documented:
                documented.append(error.error_type)
            if error.subtype:
                subtypes.setdefault(error.error_type, []).append(error.subtype)
            head = f"{error.error_type} ({error.subtype})" if error.subtype else error.error_type
            entries.append(f"{head} • {error.description}")
        generic = [e for e in self.generic_errors(command, model) if e not in documented]
        types: list[Any] = documented + generic
        if "INVALID_JSON" in types:  # the live service names a hash field in error_type itself: ["INVALID_JSON", "settings"]
            hashes = [name for name, kind in model["kinds"].items() if kind == "json" and is_hash_field(model["props"].get(name))]
            types += [self.intern(["INVALID_JSON", name], f"invalid-json-{name}") for name in hashes]
        schema = {"allOf": [ref("schemas", "AmbraError"), {"properties": {"error_type": {"enum": types}}}]}
        cites = [self.intern(self.general.fragment("412 Precondition failed", lines=3), "cite-412")]
        listed = command.spans.get("Notes" if any(e.misplaced for e in command.errors) else "Errors")
        if listed and command.errors:
            cites.append(self.cites.span(*listed, command.block[0]))
        response = {
            "description": "Precondition failed: an Ambra error hash. error_type is one of the documented types "
            "of this command or a generic type every command of its shape can raise.",
            "content": {"application/json": {"schema": schema}},
            "x-ambra-errors": entries,
            "x-medimock-cite": cites,
        }
        if subtypes:
            response["x-ambra-error-subtypes"] = subtypes
        if any(error.misplaced for error in command.errors):
            response["x-ambra-errors-printed-under"] = "Notes"
        if generic:
            response["x-ambra-generic-errors"] = generic
        return response

    def generic_errors(self, command: Command, model: dict[str, Any]) -> list[str]:
        """The error types a command can raise although its block does not list them."""
        kinds = set(model["kinds"].values())
        lookups = [n for n in model["required"] if n == "uuid" or n.endswith("_id")]
        lookups += [m for g in model["groups"] for s in g for m in s if m == "uuid" or m.endswith("_id")]
        applies = {
            "MISSING_FIELDS": bool(model["required"] or model["groups"]),
            "INVALID_FLAG": "flag" in kinds,
            "INVALID_INTEGER": "integer" in kinds,
            "INVALID_JSON": "json" in kinds,
            "INVALID_SORT_FIELD": "sort" in kinds,
            "INVALID_SORT_ORDER": "sort" in kinds,
            "INVALID_FIELD": "filter" in kinds,
            "INVALID_CONDITION": "filter" in kinds,
            "FILTER_NOT_FOUND": "filter" in kinds,
            "NOT_PERMITTED": bool(command.permission),
            "NOT_FOUND": bool(lookups),
        }
        configured = self.corrections.section("generic_errors")
        unknown = set(applies) ^ set(configured)
        if unknown:
            raise DerivationError(f"corrections: generic_errors must define exactly {sorted(applies)}")
        return [name for name, yes in applies.items() if yes]

    # -- operations ----------------------------------------------------------

    def security(self, command: Command, model: dict[str, Any]) -> list[dict[str, list[str]]]:
        sid = next((p for p in command.params if p.name == "sid"), None)
        in_alternative = any("sid" in s for g in model["groups"] + model["optional_groups"] for s in g)
        if sid is not None:
            if SID_WITH_OTHER_AUTH in sid.description:
                return list(SESSION_SECURITY)
            if not sid.optional:
                return [{"sid": []}]
            return [*SESSION_SECURITY, {}]
        if in_alternative:
            return [*SESSION_SECURITY, {}]
        if model["basic"]:  # the node's uuid and serial_no as basic auth, or as parameters (no credentials then)
            return [{model["basic"]["scheme"]: []}, {}]
        return []

    def permission_flags(self, text: str | None) -> list[str]:
        if not text:
            return []
        words = re.findall(r"[a-z][a-z0-9_]+", text)
        return sorted({w for w in words if w in self.flag_names or w in ("sysadmin", "support")})

    @staticmethod
    def medimock(command: Command, model: dict[str, Any], success: dict[str, Any]) -> dict[str, Any]:
        parts = command.url.strip("/").split("/")
        action = parts[-1]
        if action not in GENERIC_ACTIONS or len(parts) < 2:
            return {"action": "custom"}
        resource = "_".join(p for p in parts[:-1] if p not in GENERIC_ACTIONS)
        info: dict[str, Any] = {"resource": resource, "action": action}
        if action == "list":
            schema = success.get("content", {}).get("application/json", {}).get("schema", {})
            props = schema.get("properties", {})
            arrays = [k for k, v in props.items() if isinstance(v, dict) and v.get("type") == "array"]
            if len(arrays) == 1:
                info["collection"] = arrays[0]
        return info

    def x_ambra(self, command: Command) -> dict[str, Any]:
        info: dict[str, Any] = {
            "group": command.group,
            "command": command.command,
            "section": command.section,
            "source_line": command.line,
            "permission": command.permission,
        }
        flags = self.permission_flags(command.permission)
        if flags:
            info["permission_flags"] = flags
        moved = self.corrections.command(command.url).get("returns_printed_as_parameters")
        if moved:
            info["returns_printed_under_parameters"] = moved
        info["notes"] = command.notes
        info["returns"] = command.returns_lines
        return info

    def path_item(self, command: Command) -> dict[str, Any]:
        fixes = self.corrections.command(command.url)
        model = self.request_model(command)
        op_id = command.operation_id
        success = self.success_response(command)
        success_status = str((fixes.get("response") or {}).get("status", "200"))
        field_objects = self.add_field_selection(command, model, success)
        floor = command.block[0]
        returns = command.spans.get("Returns") or command.block
        success["x-medimock-cite"] = self.cites.span(returns[0], returns[1], floor)
        self.responses[f"{op_id}_ok"] = success
        self.responses[f"{op_id}_error"] = self.error_response(command, model)
        security = self.security(command, model)
        security = self.intern(security, "security-" + "-or-".join(next(iter(s), "anonymous") for s in security or [{}]))
        responses: dict[str, Any] = {success_status: ref("responses", f"{op_id}_ok"), "412": ref("responses", f"{op_id}_error")}
        if any(name in SESSION_SCHEMES for requirement in security for name in requirement):  # a node's basic auth is no session
            responses["401"] = ref("responses", "Unauthorized")
        for status, text in command.http_errors.items():
            line = command.http_error_lines[status]
            responses[status] = {"description": text, "x-medimock-cite": self.cites.span(line, line, floor)}
        responses.setdefault("413", ref("responses", "TooLarge"))
        common: dict[str, Any] = {"tags": self.intern([command.group], f"tags-{command.group}"), "summary": command.description}
        if command.permission:
            common["description"] = f"{command.description}\n\nPermission: {command.permission}"
        extensions: dict[str, Any] = {}
        if model["groups"]:
            extensions["x-ambra-alternatives"] = model["groups"]
        if model["optional_groups"]:
            extensions["x-ambra-optional-alternatives"] = model["optional_groups"]
        if model["conditions"]:
            extensions["x-ambra-alternative-conditions"] = model["conditions"]
        if model["basic"]:
            extensions["x-ambra-basic-credentials"] = model["basic"]
        if model["passthrough"]:
            extensions["x-ambra-passthrough"] = model["passthrough"]
        if field_objects:
            extensions["x-ambra-field-objects"] = field_objects
        post_only = bool(fixes.get("post_only"))
        if post_only:
            extensions["x-ambra-post-only"] = True
        extensions["x-ambra"] = self.x_ambra(command)
        extensions["x-medimock"] = self.medimock(command, model, success)
        extensions["x-medimock-cite"] = self.cites.span(command.block[0], command.block[1], floor)
        post = {
            "operationId": op_id,
            **common,
            "security": security,
            "requestBody": {
                "description": "The parameters, form-encoded. Ambra also reads them from the query string of a POST "
                "(x-medimock-form-from-query); where both carry one, the body wins.",
                "required": bool(self.schema_required(model) or model["groups"]),
                "content": {"application/x-www-form-urlencoded": {"schema": self.body_schema(model)}},
            },
            "responses": responses,
            "x-medimock-form-from-query": True,
            **extensions,
        }
        get_responses = {"405": ref("responses", "MethodNotAllowed")} if post_only else self.share(responses, f"{op_id}.responses")
        get_id = f"{op_id}_get"
        if f"{command.url}/get" in self.commands:  # /customcode/deploy: customcode_deploy_get is /customcode/deploy/get
            get_id = f"{op_id}__get"
        get: dict[str, Any] = {"operationId": get_id, **common, "security": security}
        query = self.query_parameters(model, op_id)
        if query:
            get["parameters"] = query
        get["responses"] = get_responses
        if model["patterns"]:
            get["x-ambra-query-patterns"] = self.share(model["patterns"], f"{op_id}.patterns")
        for key, value in extensions.items():
            get[key] = self.share(value, f"{op_id}.{key}") if isinstance(value, (dict, list)) else value
        return {"post": post, "get": get}

    # -- the document --------------------------------------------------------

    def build(self) -> dict[str, Any]:
        for command in self.document.commands:
            if command.url.endswith("/get"):
                self.resource_schema_name(command.url)
        paths: dict[str, Any] = {}
        for command in self.document.commands:
            paths[command.url] = self.path_item(command)
        for url, entry in self.corrections.section("extra_paths").items():
            # a GET written as a YAML merge of its POST drops the POST's keys it sets to null (requestBody)
            paths[url] = {
                k: {name: value for name, value in v.items() if value is not None} if isinstance(v, dict) else v
                for k, v in entry.items()
                if k != "why"
            }
        self._fill_resource_schemas()
        tags, seen = [], set()
        for command in self.document.commands:
            if command.group not in seen:
                seen.add(command.group)
                tags.append({"name": command.group, "description": command.section})
        for entry in self.corrections.section("extra_paths").values():
            for op in entry.values():
                if isinstance(op, dict):
                    for tag in op.get("tags", []):
                        if tag not in seen:
                            seen.add(tag)
                            tags.append({"name": tag, "description": "Bundled calls"})
        static = copy.deepcopy(self.corrections.section("components"))
        schemas = dict(static.pop("schemas", {}))
        schemas["AmbraError"]["x-ambra-generic-errors"] = {
            name: entry["text"] for name, entry in self.corrections.section("generic_errors").items()
        }
        schemas["RolePermissions"] = self.role_permissions_schema()
        for name, entry in self.corrections.section("schemas").items():
            schemas[name] = self._checked_core_schema(name, entry)
        for name, schema in self.schemas.items():
            schemas.setdefault(name, schema)
        responses = dict(static.pop("responses", {}))
        responses.update(self.responses)
        parameters = static.pop("parameters")
        timestamps(schemas)
        timestamps(responses)
        schemes = static.pop("securitySchemes")
        for item in paths.values():
            basic = (item.get("post") or {}).get("x-ambra-basic-credentials")
            if basic:
                schemes.setdefault(basic["scheme"], dict(NODE_BASIC_SCHEME))
        components = {
            "securitySchemes": schemes,
            "schemas": dict(sorted(schemas.items())),
            "parameters": parameters,
            "responses": responses,
        }
        spec = copy.deepcopy(self.corrections.section("document"))
        spec["tags"] = tags
        spec["paths"] = paths
        spec["components"] = components
        spec["x-ambra-derivation"] = {
            "counts": self.document.counts,
            "source": str(DOCUMENT.relative_to(REPO)),
            "general_sections": str(PREAMBLE.relative_to(REPO)),
        }
        return spec

    def _checked_core_schema(self, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        """A hand-written schema must declare every field its source command documents."""
        schema = copy.deepcopy(entry["schema"])
        source = entry.get("source")
        if source:
            fields = self.commands[source].returns
            if entry.get("source_field"):
                fields = next(f.children for f in fields if f.name == entry["source_field"])
            missing = [f.name for f in fields if f.name not in schema.get("properties", {})]
            if missing:
                raise DerivationError(f"corrections: schema {name} misses fields documented by {source}: {missing}")
        schema.setdefault("description", entry["why"])
        return schema

    def role_permissions_schema(self) -> dict[str, Any]:
        """The role permission flags, read from the document's Permissions table."""
        props: dict[str, Any] = {"role_id": {"type": "string", "description": "The role uuid (added to every hash)"}}
        patterns: dict[str, Any] = {}
        for flag in self.document.permission_flags:
            name = flag["name"]
            if flag.get("json"):
                props[name] = {"description": flag["description"]}
                continue
            defaults = dict(zip(("admin", "user", "phr", "anonymous"), flag["defaults"], strict=True))
            if flag.get("field"):
                schema: dict[str, Any] = {"type": "string", "enum": ["F", "H", "O", "R"]}
            else:
                schema = {"type": "integer", "enum": [0, 1]}
                defaults = {k: int(v) for k, v in defaults.items()}
            schema["description"] = flag["description"]
            schema["x-ambra-defaults"] = defaults
            if flag.get("parent"):
                schema["x-ambra-parent"] = flag["parent"]
            if name == "study_field_customfield_UUID":
                patterns[r"^study_field_customfield_[0-9A-Fa-f-]+$"] = schema
            elif name == "setting_{SETTING_NAME}":
                patterns[r"^setting_[A-Za-z0-9_.-]+$"] = schema
            else:
                props[name] = schema
        return {
            "type": "object",
            "description": "Role permission flags as listed in the Permissions section; "
            "x-ambra-defaults gives the values of the default Admin, User, PHR and Anonymous roles.",
            "properties": props,
            "patternProperties": patterns,
            "additionalProperties": True,
        }


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


TIMESTAMP_FIELDS = ("created", "updated")


def timestamps(node: Any) -> None:
    """Every returned ``created``/``updated`` field is a ``Timestamp`` (the live service's form, see corrections.yaml)."""
    if isinstance(node, list):
        for item in node:
            timestamps(item)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name in TIMESTAMP_FIELDS:
            field_schema = properties.get(name)
            if (
                isinstance(field_schema, dict)
                and "$ref" not in field_schema
                and field_schema.get("type") in (None, "string", ["string", "null"])
            ):
                kept = {k: v for k, v in field_schema.items() if k.startswith("x-ambra-returned") or k == "description"}
                properties[name] = {**ref("schemas", "Timestamp"), **kept}
    for key, value in node.items():
        if key != "x-ambra-errors":
            timestamps(value)


class _Dumper(yaml.SafeDumper):
    """Block-style YAML; only the objects registered in ``anchor_names`` become YAML anchors.

    The GET operation of a command shares its parameter schemas, its extensions and
    its pattern table with the POST operation: they are emitted once, as a named anchor
    (``&study_list.x-ambra`` style, dots as dashes) and aliased, which halves what a
    loader has to parse.
    """

    anchor_names: dict[int, str] = {}  # "anchors" is taken: the Serializer keeps its own table

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._node_anchors: dict[int, str] = {}

    def represent_data(self, data: Any) -> Any:
        node = super().represent_data(data)
        name = self.anchor_names.get(id(data))
        if name:
            self._node_anchors[id(node)] = name
        return node

    def ignore_aliases(self, data: Any) -> bool:
        return id(data) not in self.anchor_names

    def generate_anchor(self, node: Any) -> Any:
        return self._node_anchors.get(id(node)) or super().generate_anchor(node)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data and not re.search(r"[ \t]\n|[ \t]$", data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _leaves(data: Any) -> list[Any] | None:
    """The scalars of a list of scalars or lists, or None when it holds a mapping."""
    found: list[Any] = []
    for item in data:
        if isinstance(item, dict):
            return None
        if isinstance(item, list):
            inner = _leaves(item)
            if inner is None:
                return None
            found += inner
        else:
            found.append(item)
    return found


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    """Short lists of short scalars ([string, 'null'], [[account_id], [namespace_id]]) in flow style."""
    leaves = _leaves(data)
    flow = leaves is not None and len(leaves) <= 16 and all(not isinstance(x, str) or (len(x) <= 40 and "\n" not in x) for x in leaves)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def render(spec: dict[str, Any], anchors: dict[int, str]) -> str:
    header = (
        "# GENERATED by specs/ambra/derive.py from specs/sources/ambra-v3-services-api.txt\n"
        "# and specs/ambra/corrections.yaml. Do not edit by hand: run `make spec-ambra`.\n"
        "# The GET operation of each command aliases (*name) the parameter schemas and\n"
        "# extensions its POST operation anchors (&name).\n"
    )
    dumper = type("_SpecDumper", (_Dumper,), {"anchor_names": anchors})
    return header + yaml.dump(spec, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def generate() -> tuple[str, Document]:
    document = parse_document()
    for key, floor in COUNT_FLOORS.items():
        if document.counts[key] < floor:
            raise DerivationError(f"only {document.counts[key]} {key} found, expected at least {floor}")
    builder = SpecBuilder(document, Corrections.load())
    spec = builder.build()
    return render(spec, builder.anchors), document


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed openapi.yaml is stale")
    parser.add_argument("--counts", action="store_true", help="print the document counts and exit")
    args = parser.parse_args(argv)
    try:
        text, document = generate()
    except DerivationError as exc:
        print(f"derive.py: {exc}", file=sys.stderr)
        return 2
    counts = " ".join(f"{k}={v}" for k, v in document.counts.items())
    if args.counts:
        print(counts)
        return 0
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{_shown(OUTPUT)} is stale: it differs from what derive.py generates "
                "from the document and corrections.yaml. Run `make spec-ambra` and commit the result.",
                file=sys.stderr,
            )
            return 1
        print(f"{_shown(OUTPUT)} is up to date ({counts})")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {_shown(OUTPUT)} ({len(text.encode())} bytes; {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
