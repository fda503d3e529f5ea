"""Studies: add, get, set, delete, list and count, on ``ambra_studies`` (real, indexed columns
for what lists filter and sort by, so a filtered, sorted page of 10,000 studies is one SQL
query). A user sees the studies of the namespaces they belong to (accounts, groups,
locations, their own); a sysadmin sees every study.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ...http import MockResponse
from . import columns, filters, selection
from .call import Call
from .engine import command, ok
from .shapes import conform_value, new_uuid, now_stamp
from .store import INTEGER_COLUMNS, STUDY_COLUMNS, study_customfields

DICOM_DATES = frozenset({"study_date", "patient_birth_date"})
NOT_STORED = frozenset(
    {"sid", "uuid", "serial_no", "node_id", "study_id", "thin", "use_upload_permission", "find_order_uuid", "parital_save"}
)


# -- who sees what ------------------------------------------------------------------------------
def visibility(call: Call) -> tuple[str, list[Any]]:
    if call.user.get("sysadmin") == 1:
        return "1", []
    namespaces = call.namespaces() or [""]
    return f"phi_namespace IN ({','.join('?' * len(namespaces))})", namespaces


def visible(call: Call, study: dict[str, Any]) -> bool:
    return call.user.get("sysadmin") == 1 or study.get("phi_namespace") in call.namespaces()


def locate(call: Call, uuid_param: str = "uuid") -> dict[str, Any]:
    """The study a call names (by uuid, or by the storage triplet), NOT_FOUND/NOT_PERMITTED otherwise."""
    uuid = call.get(uuid_param)
    if uuid is not None:
        study = call.db.study(str(uuid))
        subtype = uuid_param
    else:
        study = call.db.study_by_uid(str(call.get("study_uid")), call.get("storage_namespace"), call.get("phi_namespace"))
        subtype = "study_uid"
    if study is None:
        raise call.error("NOT_FOUND", subtype=subtype)
    if call.principal is not None and not visible(call, study):
        raise call.error("NOT_PERMITTED", "NOT_FOUND", subtype=subtype)
    return study


# -- output -------------------------------------------------------------------------------------
# Secondary tables of a study: filter.account.name.like, filter.phi_namespace.name.equals...
STUDY_TABLES = {
    "account": ("account_id", "account"),
    "namespace": ("phi_namespace", "namespace"),
    "phi_namespace": ("phi_namespace", "namespace"),
    "storage_namespace": ("storage_namespace", "namespace"),
}


def study_column(call: Call) -> Callable[[str], filters.Column | None]:
    properties = call.catalog.resources["study"].properties

    def direct(field: str) -> filters.Column | None:
        if field in STUDY_COLUMNS:
            return filters.Column(
                field, numeric=field in INTEGER_COLUMNS, dicom_date=field in DICOM_DATES, timestamp=field in columns.TIMESTAMPS
            )
        return columns.plain(properties, field)

    return columns.Columns(call, "study", properties, direct, STUDY_TABLES)


def tag_filter(field: str, condition: str, value: Any, key: str, error: Any) -> tuple[str, list[Any]] | None:
    if field != "tags":
        return None
    if condition in ("in", "in_or_null"):
        tags = [str(t) for t in filters.parse_list(value, key, error)]
        return f"uuid IN (SELECT object_id FROM ambra_tags WHERE object = 'Study' AND tag IN ({','.join('?' * len(tags)) or 'NULL'}))", tags
    if condition in ("equals", "like"):
        operator = "=" if condition == "equals" else "LIKE"
        return f"uuid IN (SELECT object_id FROM ambra_tags WHERE object = 'Study' AND tag {operator} ?)", [str(value)]
    if condition == "not_equals":
        return "uuid NOT IN (SELECT object_id FROM ambra_tags WHERE object = 'Study' AND tag = ?)", [str(value)]
    raise error("INVALID_CONDITION", subtype=key)


def study_permissions(call: Call, account_id: Any, cache: dict[Any, Any]) -> dict[str, Any]:
    """The document's "hash of the study_* type permissions for this study": the caller's, in the study's
    account (with permissions_diff=1 only those that differ from the namespace's, which these are: none)."""
    if account_id not in cache:
        perms = call.permissions(account_id) if call.principal is not None else {}
        cache[account_id] = {} if call.values.get("permissions_diff") == 1 else {k: v for k, v in perms.items() if k.startswith("study_")}
    return dict(cache[account_id])


def viewer_link(call: Call, uuid: str) -> str:
    """The document's "link to the study viewer", on the host the caller reached (no viewer is served there)."""
    return f"{call.ctx.request.base_url}/viewer/study/{uuid}"


GET_ONLY = frozenset({"permissions", "viewer_link"})


def listed_extras(call: Call) -> frozenset[str]:
    """The fields of /study/get a list item carries only when asked for (``fields.study`` naming them, or
    ``permissions_diff=1``): the caller's permissions (80 study_* flags would make a page of 100 four times
    larger) and the viewer link (it names the host the caller reached, which a pre-rendered page cannot)."""
    chosen = call.values.get("fields.study")
    chosen = call.json("fields.study") if isinstance(chosen, str) else chosen
    asked: set[str] = set(GET_ONLY & set(map(str, chosen))) if isinstance(chosen, list) else set()
    if call.values.get("permissions_diff") == 1:
        asked.add("permissions")
    return frozenset(asked)


def shown(call: Call, studies: list[dict[str, Any]], extras: frozenset[str] = GET_ONLY) -> list[dict[str, Any]]:
    """Studies as replies show them: with tags, the PHI namespace's name, every custom field of the account,
    the ``extras`` (the caller's permissions, the viewer link), ``fields`` selection and ``customfield_h``."""
    names: dict[str, str | None] = {}
    cache: dict[Any, Any] = {}
    defined = call.db.customfield_definitions()
    wanted = call.values.get("fields")
    keep = set(map(str, wanted)) | {"uuid", "study_uid", "phi_namespace", "storage_namespace"} if isinstance(wanted, list) else None
    out = []
    for study in studies:
        item = dict(study)
        del item["account_id"]
        ns = study.get("phi_namespace") or ""
        if ns not in names:
            names[ns] = (call.db.object(ns, "namespace") or {}).get("name")
        item["phi_namespace_name"] = names[ns]
        fields = defined.get(str(study.get("account_id")))
        if fields:
            item["customfields"] = study_customfields(study.get("customfields"), fields)
        else:
            item.pop("customfields", None)
        if "permissions" in extras:
            item["permissions"] = study_permissions(call, study.get("account_id"), cache)
        if "viewer_link" in extras:
            item["viewer_link"] = viewer_link(call, str(study["uuid"]))
        if call.values.get("customfield_h") == 1:
            item["customfield_h"] = {c.get("uuid"): c.get("value") for c in item.get("customfields") or [] if isinstance(c, dict)}
        if keep is not None:
            item = {k: v for k, v in item.items() if k in keep}
        out.append(item)
    return out


def study_fields(call: Call, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The DICOM and other study fields of a request, typed as the Study schema declares them; custom
    field values (``customfield-UUID``) merged into those of the ``current`` study."""
    properties = call.catalog.resources["study"].properties
    out: dict[str, Any] = {}
    for name, value in call.values.items():
        if name in NOT_STORED or name.startswith(("filter.", "page.", "customfield-")) or name not in properties:
            continue
        keep, coerced = conform_value(call.catalog.resolver, properties[name], value)
        if keep:
            out[name] = coerced
    given = {k[len("customfield-") :].lower(): v for k, v in call.values.items() if k.startswith("customfield-")}
    if given:  # the values the study holds, by custom field uuid (a set changes only those it names)
        kept = [c for c in (current or {}).get("customfields") or () if isinstance(c, dict) and str(c.get("uuid")).lower() not in given]
        out["customfields"] = kept + [{"uuid": uuid, "value": value} for uuid, value in given.items()]
    return out


def audit(call: Call, study: dict[str, Any], action: str, detail: dict[str, Any] | None = None, with_: str | None = None) -> None:
    principal = call.principal
    call.db.audit(
        {
            "uuid": new_uuid(),
            "object_id": study["uuid"],
            "account_id": study.get("account_id"),
            "user_id": principal.identity if principal else None,
            "action": action,
            "type": "Study",
            "what": study.get("study_description") or study.get("patient_name"),
            "who": call.user.get("name") if principal else None,
            "detail": {**(detail or {}), **({"with": with_} if with_ else {})},
            "client_address": call.ctx.request.remote_addr,
            "sid": principal.data.get("sid") if principal else None,
        }
    )


# -- commands -----------------------------------------------------------------------------------
@command("/study/list")
def study_list(call: Call) -> MockResponse:
    call.check()
    where, params = visibility(call)
    clauses, args = [where], list(params)
    resolve = study_column(call)
    if not call.ctx.defect("ambra.filter_ignored"):
        more, values = columns.where(
            call, resolve, lambda field, condition, value, key: tag_filter(field, condition, value, key, call.error)
        )
        clauses += more
        args += values
    default = "created DESC, seq DESC"
    order = default if call.ctx.defect("ambra.sort_ignored") else filters.order_by(call.values, resolve, call.error, default)
    page = filters.page(call.values, call.error, call.plan.page_rows)
    where = " AND ".join(clauses)
    wrong_more = call.ctx.defect("ambra.page_more_wrong")
    extras = listed_extras(call)
    plain = (
        not isinstance(call.values.get("fields"), list)
        and call.values.get("customfield_h") != 1
        and not selection.requested(call)
        and not extras
    )
    docs = call.db.study_docs(where, args, order, page.rows + 1, page.offset) if plain else None
    if docs is None:  # ``fields``, ``fields.*``, extras or ``customfield_h`` asked for (or a row without a doc): shape each study here
        rows = call.db.studies(where, args, order, page.rows + 1, page.offset)
        return ok({"page": page.hash(len(rows), wrong_more), "studies": shown(call, rows[: page.rows], extras)})
    return ok({"page": page.hash(len(docs), wrong_more), "studies": rendered(call, docs[: page.rows])})


def rendered(call: Call, docs: list[bytes]) -> Any:
    """The studies of a page from their stored ``doc``: the JSON ``shown`` makes (without the extras),
    key for key, without a dict per study. The reply carries them as one pre-encoded JSON array
    (``orjson.Fragment``). In strict mode they are parsed, so the response validator checks
    exactly what is sent; with deliberate defects too, so a ``Defect.transform`` can rewrite them."""
    config = call.ctx.app.config
    if config.strict or config.defects:
        return [orjson.loads(doc) for doc in docs]
    return orjson.Fragment(b"[" + b",".join(docs) + b"]")


@command("/study/count")
def study_count(call: Call) -> MockResponse:
    call.check()
    where, params = visibility(call)
    more, values = columns.where(
        call, study_column(call), lambda field, condition, value, key: tag_filter(field, condition, value, key, call.error)
    )
    if more in ([], [COUNTED_FILTER]):  # the caller's namespaces (and a modality): summed from the counts per namespace
        return ok({"count": call.db.study_count(" AND ".join([where, *more]), [*params, *values])})
    return ok({"count": call.db.count("ambra_studies", " AND ".join([where, *more]), [*params, *values])})


COUNTED_FILTER = "modality = ?"  # what filter.modality.equals becomes: ambra_study_counts has the column too


@command("/study/get")
def study_get(call: Call) -> MockResponse:
    call.check()
    study = shown(call, [locate(call)])[0]
    reports = call.db.objects("kind = 'radreport' AND parent_id = ?", [study["uuid"]])
    if reports and not isinstance(call.values.get("fields"), list):
        study["radreports"] = [{k: r.get(k) for k in ("uuid", "type", "user_id", "created", "updated")} for r in reports]
    return ok(study)


@command("/study/add")
def study_add(call: Call) -> MockResponse:
    call.check()
    if call.node is None:
        call.require_session()
    thin = call.values.get("thin") == 1
    needed = ("study_uid",) if call.node is not None else ("study_uid", "storage_namespace", "phi_namespace")
    if not thin and not all(call.present(n) for n in needed):
        raise call.error("MISSING_FIELDS", subtype=[n for n in needed if not call.present(n)])
    if call.node is not None:  # a node uploads into its account's namespace unless told otherwise
        node_account = call.db.object(str(call.node.get("__account_id")), "account") or {}
        phi = call.get("phi_namespace") or node_account.get("namespace_id")
    else:
        phi = call.get("phi_namespace") or call.user.get("namespace_id")
    namespace = call.db.object(str(phi), "namespace")
    if namespace is None:
        raise call.error("NAMESPACE_NOT_FOUND", "NOT_FOUND", subtype="phi_namespace")
    account_id = namespace.get("__account_id")
    call.require_permission(account_id)
    study_uid = str(call.get("study_uid") or f"2.25.{int(new_uuid().replace('-', ''), 16)}")
    storage = str(call.get("storage_namespace") or phi)
    existing = call.db.study_by_uid(study_uid, storage, str(phi))
    if existing is not None:
        raise call.error("ALREADY_EXISTS", subtype=existing["uuid"], data=shown(call, [existing])[0])
    stamp = now_stamp()
    study = {
        "must_approve": 0,
        "star": 0,
        "image_count": 0,
        **study_fields(call),
        "uuid": new_uuid(),
        "account_id": account_id,
        "study_uid": study_uid,
        "phi_namespace": phi,
        "storage_namespace": storage,
        "source": "upload",
        "thin": 1 if thin else 0,
        "phantom": 0,
        "engine_fqdn": "engine1.storage.example.org",
        "created": stamp,
        "updated": stamp,
    }
    call.db.insert_study(study)
    audit(call, study, "CREATE")
    return ok({"uuid": study["uuid"], "engine_fqdn": study["engine_fqdn"]})


@command("/study/set")
def study_set(call: Call) -> MockResponse:
    call.check()
    study = locate(call, "study_id")
    call.require_permission(study.get("account_id"))
    changes = study_fields(call, study)
    changed = {k: [study.get(k), v] for k, v in changes.items() if study.get(k) != v}
    if changed:
        call.db.update_study(study["uuid"], changes)
        audit(call, study, "EDIT", changed)
    return ok({"uuid": study["uuid"]})


@command("/study/delete")
def study_delete(call: Call) -> MockResponse:
    call.check()
    study = locate(call)
    call.require_permission(study.get("account_id"))
    call.db.delete_study(study["uuid"])
    audit(call, study, "DELETED", {k: study.get(k) for k in ("study_uid", "patient_name", "patientid", "accession_number")})
    return ok()


@command("/study/exists")
def study_exists(call: Call) -> MockResponse:
    call.check()
    if call.get("uuid") is not None:
        study = call.db.study(str(call.get("uuid")))
    else:
        study = call.db.study_by_uid(str(call.get("study_uid")), call.get("storage_namespace"), call.get("phi_namespace"))
        if study is not None and call.get("account_id") and study.get("account_id") != call.get("account_id"):
            study = None
    return ok({"exists": 1 if study is not None and visible(call, study) else 0})


def require_study(call: Call, uuid_param: str = "uuid") -> dict[str, Any]:
    study = locate(call, uuid_param)
    call.require_permission(study.get("account_id"))
    return study
