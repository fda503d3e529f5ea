"""The document's "Account settings" table, read from the document itself, and the commands that answer from it.

The table (specs/sources/ambra-v3-services-api.txt, "Account settings": "Name Type Default Un-authenticated access
allowed, User override allowed, Namespace override allowed, Node override allowed, Role override allowed") gives each
setting's type and default: a Flag or Number row's first number; a Text row's word before its flags, empty when it has
none. Some rows have fewer flag columns than the header; their first flag is still "Un-authenticated access allowed".

/account/settings answers "A hash of the account settings": each setting of the table with the value /account/set stored
in the account's ``settings``, else its default (and any other setting the account stored), with the namespace's
overrides where ``namespace_id`` is passed, only the ``settings`` asked for, and without a session "only
un-authenticated settings". Brand (``brand_settings``) and vanity settings are not modelled: medimock has no brands.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ...api import SPECS_DIR
from ...http import MockResponse
from .call import Call
from .engine import command, ok

DOCUMENT = SPECS_DIR / "sources" / "ambra-v3-services-api.txt"
_ROW = re.compile(r"^([a-z][a-z0-9_]*) (Flag|Number|Text) (.*)$")
_FLAG = frozenset({"0", "1"})


@dataclass(frozen=True)
class AccountSetting:
    name: str
    type: str  # Flag, Number or Text
    default: Any  # an int for a Flag or Number, a string for a Text
    unauthenticated: bool  # "Un-authenticated access allowed"
    line: int


def _leading_flags(tokens: list[str]) -> list[str]:
    count = 0
    while count < len(tokens) and tokens[count] in _FLAG:
        count += 1
    return tokens[:count]


def parse_row(line: str, number: int) -> AccountSetting | None:
    """One row of the table ("enable_viewer_print Flag 1 0 1 0 0 0 Enable the print feature..."), None for other lines."""
    found = _ROW.match(line)
    if found is None:
        return None
    name, kind, rest = found.groups()
    tokens = rest.split()
    lead = _leading_flags(tokens)
    default: Any
    if kind in ("Flag", "Number"):  # the default is a number: "max_match_study_hl7 Number 100 0 0 0 0 0"
        if not tokens or not tokens[0].isdigit():
            return None
        default, columns = int(tokens[0]), _leading_flags(tokens[1:])
    elif len(lead) >= 6:  # a Text row whose default is 0 or 1
        default, columns = tokens[0], lead[1:]
    elif not lead and len(tokens) > 1 and tokens[1] in _FLAG:  # "viewer_default_mouse_tool Text Scroll 0 1 0 0 0"
        default, columns = tokens[0], _leading_flags(tokens[1:])
    else:  # "viewer3_config Text 0 0 0 0 0": no default
        default, columns = "", lead
    return AccountSetting(name, kind, default, bool(columns) and columns[0] == "1", number)


@functools.cache
def table() -> dict[str, AccountSetting]:
    """Every row of the table, by name (read once, on first use)."""
    lines = DOCUMENT.read_text(encoding="utf-8").splitlines()
    start = lines.index("Account settings")
    found: dict[str, AccountSetting] = {}
    for number, line in enumerate(lines[start:], start + 1):
        if line.startswith("Description "):  # the commands begin: the table is long over
            break
        setting = parse_row(line, number)
        if setting is not None:
            found.setdefault(setting.name, setting)
    return found


def default(name: str) -> Any:
    setting = table().get(name)
    return setting.default if setting is not None else ""


def stored(value: Any) -> dict[str, Any]:
    """An object's ``settings`` hash ({} when it holds none)."""
    return value if isinstance(value, dict) else {}


class StudySettings:
    """The account settings that apply to one study: its account's (else the table's defaults), and its PHI namespace's
    overrides; the account and the namespace are read once."""

    def __init__(self, call: Call, study: dict[str, Any]) -> None:
        self.account_id = str(study.get("account_id") or "")
        account = call.db.object(self.account_id, "account") or {}
        namespace = call.db.object(str(study.get("phi_namespace") or ""), "namespace") or {}
        self.account = stored(account.get("settings"))
        self.namespace = stored(namespace.get("settings"))

    def flag(self, name: str) -> Any:
        return self.account.get(name, default(name))

    def on(self, name: str) -> bool:
        return str(self.flag(name)).strip() not in ("", "0", "false", "False", "None")


@command("/account/settings")
def account_settings(call: Call) -> MockResponse:
    call.check()
    account = None
    if call.get("account_id") is not None:
        account = call.db.object(str(call.get("account_id")), "account")
    elif call.get("vanity") is not None:  # accounts are keyed by their vanity, as find_user reads them
        matches = call.db.by_key("account", str(call.get("vanity")).strip().lower())
        account = matches[0] if matches else None
    if account is None:
        raise call.error("NOT_FOUND", subtype="account_id" if call.get("account_id") is not None else "vanity")
    values = {name: setting.default for name, setting in table().items()} | stored(account.get("settings"))
    namespace_id = call.get("namespace_id")
    if namespace_id is not None:
        namespace = call.db.object(str(namespace_id), "namespace")
        if namespace is None:
            raise call.error("NOT_FOUND", subtype="namespace_id")
        values |= stored(namespace.get("settings"))
    if call.principal is None:  # "optional if not passed then only un-authenticated settings are returned"
        values = {name: value for name, value in values.items() if name in table() and table()[name].unauthenticated}
    asked = call.get("settings")
    if asked is not None:
        wanted = {part.strip() for part in str(asked).split(",") if part.strip()}
        values = {name: value for name, value in values.items() if name in wanted}
    return ok({"settings": values})
