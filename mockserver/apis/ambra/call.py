"""One Ambra call as the handlers see it: the merged parameters (query string and form
body, typed), who is calling, and the checks every command shares — missing fields and
alternatives, flags, integers and JSON values, role permissions.

Errors are ``ambra_error(...)`` problems that the dialect renders as 412 error hashes;
``Call.error`` picks, of the candidate types, one the command documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...api import Context, Principal
from ...http import MockRequest, Problem
from . import auth as sessions
from .catalog import Catalog, Plan, catalog
from .store import AmbraStore

SPECIAL_FLAGS = ("sysadmin", "support")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def ambra_error(error_type: str | list[str], subtype: Any = None, data: Any = None, status: int = 412) -> Problem:
    """An Ambra error hash; ``error_type`` is a token, or ``["INVALID_JSON", field]`` as the live service sends it."""
    extra: dict[str, Any] = {"error_type": error_type}
    if subtype is not None:
        extra["error_subtype"] = subtype
    if data is not None:
        extra["error_data"] = data
    return Problem("ambra", status, error_type if isinstance(error_type, str) else error_type[0], extra=extra)


def merged_values(ctx: Context) -> dict[str, Any]:
    """Query string and form body together (the body wins), typed where the core typed them."""
    values: dict[str, Any] = dict(ctx.request.query)
    if ctx.operation.method == "GET":
        values.update(ctx.query)
    elif isinstance(ctx.body, dict):
        values.update(ctx.body)
    elif ctx.request.form:
        values.update(dict(ctx.request.form))
    return values


def closest_missing(groups: list[list[list[str]]], present: Any, usable: Any = None) -> list[str]:
    """For each alternative group with no complete set, the missing members of its most complete set.

    ``usable(option)`` says whether a set counts for this call at all (``x-ambra-alternative-conditions``:
    the study_uid of /study/set identifies a study only under node authentication)."""
    missing: list[str] = []
    for group in groups:
        counted = [option for option in group if usable is None or usable(option)] or group
        if any(all(present(name) for name in option) for option in counted):
            continue
        best = max(counted, key=lambda option: (sum(1 for n in option if present(n)), -group.index(option)))
        missing += [name for name in best if not present(name) and name not in missing]
    return missing


def basic_values(plan: Plan, request: MockRequest, values: Mapping[str, Any]) -> dict[str, str]:
    """A node's uuid and serial_no as HTTP basic auth's username and password, where the command's Notes allow it
    (x-ambra-basic-credentials: /node/ping, /node/configuration...) and ``values`` carry neither: the parameters win. A
    header holding no user-pass (not base64, no colon) gives empty values: what it lacks is MISSING_FIELDS."""
    names = plan.basic_credentials
    if names is None or any(values.get(name) not in (None, "") for name in names):
        return {}
    found = sessions.basic_credentials(request)
    return dict(zip(names, found, strict=True)) if found is not None else {}


class Call:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.catalog: Catalog = catalog()
        self.plan: Plan = self.catalog.plans[ctx.operation.operation_id]
        self.db = AmbraStore(ctx.store)
        self.values = merged_values(ctx)
        self._principal: Principal | None = ctx.principal
        self._resolved = ctx.principal is not None
        self._user: dict[str, Any] | None = None
        self._memberships: list[dict[str, Any]] | None = None
        self.node: dict[str, Any] | None = None  # the node a call authenticated as (uuid/node_id and serial_no)

    # -- who ------------------------------------------------------------------------------
    @property
    def principal(self) -> Principal | None:
        """The caller; for commands whose sid is optional, credentials are read here (a bad sid is still a 401).

        A command that takes no sid at all (it documents no 401) treats bad credentials as none: it is anonymous.
        """
        if not self._resolved:
            self._resolved = True
            # where basic auth is a node's uuid and serial_no, it is never read as a user's login
            read = sessions.session_principal if self.plan.basic_credentials else sessions.optional_principal
            try:
                self._principal = read(self.ctx.request, self.ctx.app)
            except Problem as problem:
                if problem.kind != "unauthenticated" or self.plan.documents_401:
                    raise
                self._principal = None
        return self._principal

    def require_session(self) -> Principal:
        principal = self.principal
        if principal is None:
            raise Problem("unauthenticated", 401, "A valid sid, Bearer token or basic authentication is required.")
        return principal

    @property
    def user(self) -> dict[str, Any]:
        if self._user is None:
            principal = self.require_session()
            found = self.db.object(principal.identity, "user")
            if found is None:
                raise Problem("unauthenticated", 401, "The session's user no longer exists.")
            self._user = found
        return self._user

    @property
    def user_id(self) -> str:
        return self.require_session().identity

    def memberships(self) -> list[dict[str, Any]]:
        if self._memberships is None:
            self._memberships = self.db.objects("kind = 'account_user' AND key = ?", [self.user_id])
        return self._memberships

    def account_ids(self) -> list[str]:
        return [m["__parent_id"] for m in self.memberships()]

    def default_account(self) -> str | None:
        ids = self.account_ids()
        return ids[0] if ids else None

    def namespace_account(self, namespace: dict[str, Any]) -> str | None:
        """The account whose role the caller holds in a namespace: the account it belongs to; for a personal namespace
        its owner's first account (the caller's), None for another user's or for an owner in no account."""
        if namespace.get("type") == "user_id":
            return self.default_account() if namespace.get("type_uuid") == self.user_id else None
        return namespace.get("__account_id") or namespace.get("type_uuid")

    def namespaces(self) -> list[str]:
        """Every namespace whose studies the user sees: accounts, groups and locations they belong to, and their own."""
        return member_namespaces(self.db, self.user, self.account_ids())

    # -- values ---------------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def present(self, name: str) -> bool:
        if name == "sid" and self.principal is not None:
            return True
        value = self.values.get(name)
        return value is not None and value != ""

    def error(self, *types: str, subtype: Any = None, data: Any = None) -> Problem:
        return ambra_error(self.plan.pick(*types), subtype, data)

    def check(self) -> None:
        """The checks every command shares, in Ambra's order: missing fields, then bad flags, integers and JSON."""
        self.read_basic_credentials()
        missing = [name for name in self.plan.required if not self.present(name)]
        missing += [name for name in closest_missing(self.plan.alternatives, self.present, self.usable) if name not in missing]
        if missing:
            raise self.error("MISSING_FIELDS", subtype=[] if self.ctx.defect("ambra.missing_fields_subtype_empty") else missing)
        for name, kind in self.plan.kinds.items():
            value = self.values.get(name)
            if kind == "integer" and isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
                raise self.error("INVALID_INTEGER", subtype=name)  # no stored integer is wider than 64 bits
            if value is None or value == "" or not isinstance(value, str):
                continue
            if kind == "flag":
                if value not in ("0", "1"):
                    raise self.error("INVALID_FLAG", subtype=name)
                self.values[name] = int(value)
            elif kind == "integer":
                try:
                    self.values[name] = int(value, 10)
                except ValueError as exc:
                    raise self.error("INVALID_INTEGER", subtype=name) from exc
                if not INT64_MIN <= self.values[name] <= INT64_MAX:
                    raise self.error("INVALID_INTEGER", subtype=name)
            elif kind == "json":
                self.values[name] = self.parse_json(name, value)
        self.check_node_credentials()

    def read_basic_credentials(self) -> None:
        """The node's uuid and serial_no from basic auth where the parameters carry neither (``basic_values``); a header
        holding no user-pass, or an empty half, supplies nothing, so what it lacks is MISSING_FIELDS; a pair that names no
        node is the command's NOT_FOUND (check_node_credentials)."""
        self.values.update(basic_values(self.plan, self.ctx.request, self.values))

    def usable(self, option: list[str]) -> bool:
        """Whether an alternative's set counts for this call: "the study_uid if node authentication",
        "the namespace_id if the action is STUDY_UPLOAD" (the spec's x-ambra-alternative-conditions)."""
        for condition in self.plan.conditions:
            if condition.get("set") != option:
                continue
            wanted = condition.get("if") or {}
            if wanted.get("auth") == "sid" and self.principal is None:
                return False
            if wanted.get("auth") == "node" and (self.principal is not None or not self.present("serial_no")):
                return False
            if "action" in wanted and str(self.get("action") or "") != wanted["action"]:
                return False
        return True

    def check_node_credentials(self) -> None:
        """A node authenticates with its uuid (or node_id) and serial number instead of a sid; a command that takes no
        sid at all (/node/ping, /node/configuration...) checks them whatever session the call also carries."""
        serial = self.get("serial_no")
        node_id = self.get("node_id") or self.get("uuid")
        if serial is None or node_id is None or "serial_no" not in self.plan.kinds:
            return
        if "sid" in self.plan.kinds and self.principal is not None:  # (sid || node_id && serial_no): the session counts
            return
        node = self.db.object(str(node_id), "node")
        if node is None or str(node.get("serial_no")) != str(serial):
            raise self.error("INVALID_CREDENTIALS", "INVALID_SERIAL_NO", "NOT_FOUND", subtype="serial_no" if node else "uuid")
        self.node = node

    def parse_json(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if name in self.plan.json_error_fields and self.plan.pick("INVALID_JSON") == "INVALID_JSON":
                raise ambra_error(["INVALID_JSON", name], name) from exc  # as the live service sends it for a hash
            raise self.error("INVALID_JSON", subtype=name) from exc
        expected = self.plan.json_types.get(name)
        if expected == "object" and not isinstance(parsed, dict):
            raise self.error("NOT_HASH", "INVALID_JSON", subtype=name)
        if expected == "array" and not isinstance(parsed, list):
            raise self.error("NOT_LIST", "INVALID_JSON", subtype=name)
        return parsed

    def json(self, name: str, default: Any = None) -> Any:
        value = self.get(name)
        return default if value is None else self.parse_json(name, value)

    # -- permissions ----------------------------------------------------------------------
    def permissions(self, account_id: str | None) -> dict[str, Any]:
        """The role permission flags of the user in the account (empty when not a member)."""
        for membership in self.memberships():
            if membership["__parent_id"] == account_id:
                role = self.db.object(membership.get("role_id") or "", "role")
                perms = dict((role or {}).get("permissions") or {})
                perms["role_id"] = membership.get("role_id")
                return perms
        return {}

    def permits(self, flags: tuple[str, ...], account_id: str | None) -> bool:
        if not flags or self.user.get("sysadmin") == 1:
            return True
        if any(self.user.get(flag) == 1 for flag in SPECIAL_FLAGS if flag in flags):
            return True
        perms = self.permissions(account_id)
        return any(perms.get(flag) == 1 for flag in flags if flag not in SPECIAL_FLAGS)

    def require_permission(self, account_id: str | None = None, flags: tuple[str, ...] | None = None) -> None:
        flags = self.plan.permission_flags if flags is None else flags
        if not flags or not self.plan.documents("NOT_PERMITTED") or self.ctx.defect("ambra.not_permitted_ignored"):
            return
        if self.principal is None:
            return
        account = account_id or self.account_for_values() or self.default_account()
        if not self.permits(flags, account):
            if set(flags) <= set(SPECIAL_FLAGS) and self.plan.documents("NOT_SYSADMIN_OR_SUPPORT"):  # "Permission sysadmin or support"
                raise ambra_error("NOT_SYSADMIN_OR_SUPPORT")
            raise ambra_error("NOT_PERMITTED", flags[0] if len(flags) == 1 else None)

    def account_for_values(self) -> str | None:
        """The account a call is about, from its account_id or the namespace/group/location/study it names."""
        account = self.get("account_id")
        if isinstance(account, str) and account:
            return account
        study_id = self.get("study_id")
        if isinstance(study_id, str) and study_id:
            study = self.db.study(study_id)
            if study is not None:
                return study.get("account_id")
        for name in ("namespace_id", "group_id", "location_id"):
            value = self.get(name)
            if isinstance(value, str) and value:
                found = self.db.object(value)
                if found is not None:
                    return found.get("__account_id")
        return None


def member_namespaces(db: AmbraStore, user: dict[str, Any], accounts: list[str] | None = None) -> list[str]:
    """Every namespace a user belongs to: their accounts' (``accounts``: their memberships' when not given), their
    groups' and locations', and their own."""
    user_id = str(user.get("uuid") or "")
    if accounts is None:
        accounts = [m["__parent_id"] for m in db.objects("kind = 'account_user' AND key = ?", [user_id])]
    found = [user.get("namespace_id")]
    if accounts:
        marks = ",".join("?" * len(accounts))
        found += [a.get("namespace_id") for a in db.objects(f"kind = 'account' AND uuid IN ({marks})", accounts)]
    units = db.objects("kind IN ('group_user', 'location_user') AND key = ?", [user_id])
    parents = [u["__parent_id"] for u in units]
    if parents:
        marks = ",".join("?" * len(parents))
        found += [u.get("namespace_id") for u in db.objects(f"uuid IN ({marks})", parents)]
    return [ns for ns in dict.fromkeys(found) if ns]
