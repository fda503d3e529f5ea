"""What points a client at stored bytes: ``/namespace/engine/fqdn`` (the storage engine of a
namespace or study: the host the caller reached, so a client building
``https://{engine_fqdn}/api/v3/storage/...`` stays on the mock) and custom code's zip file
(``/customcode/add`` and ``/customcode/set`` keep the uploaded ``zip``, ``/customcode/zip``
streams it back).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from ...http import MockResponse
from .call import Call, ambra_error
from .engine import command, do_add, do_set, not_found, ok
from .studies import locate

ZIP_CONTENT_TYPE = "application/zip; charset=ISO-8859-1"  # as the live service labels it (a client's tests check it)


@command("/namespace/engine/fqdn")
def engine_fqdn(call: Call) -> MockResponse:
    call.check()
    if call.get("namespace_id") is not None:
        namespace = call.db.object(str(call.get("namespace_id")), "namespace")
        if namespace is None:
            raise ambra_error("NOT_FOUND", "namespace_id")
        storage = str(namespace["uuid"])
    else:
        study = locate(call, "study_id")  # by study_id, else by the study_uid/storage_namespace/phi_namespace triplet
        storage = str(study.get("storage_namespace") or study.get("phi_namespace"))
    base = call.ctx.request.base_url
    return ok({"engine_fqdn": urlsplit(base).netloc, "engine_url": base, "storage_namespace": storage})


@command("/customcode/add", "/customcode/set")
def customcode_save(call: Call) -> MockResponse:
    """Custom code with its zip (base64, as the document says; kept as sent when it is not base64)."""
    call.check()
    zipped = call.values.pop("zip", None)
    info = call.catalog.resources["customcode"]
    if call.plan.action == "set" and call.db.object(str(call.get("uuid")), "customcode") is None:
        raise not_found(call, info)
    response = (do_add if call.plan.action == "add" else do_set)(call, info)
    uuid = response.body.get("uuid") if isinstance(response.body, dict) else None
    if zipped not in (None, "") and uuid:
        call.db.update(str(uuid), {"_zip": str(zipped), "has_zip": 1})
    return response


@command("/customcode/zip")
def customcode_zip(call: Call) -> MockResponse:
    """The zip uploaded with the code; the document's [404] when there is no such code or it has no zip."""
    call.check()
    code = call.db.object(str(call.get("uuid")), "customcode")
    if code is None or not code.get("_zip"):
        return MockResponse(404, b"", content_type="", raw=True)
    text = str(code["_zip"])
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        data = text.encode("utf-8")
    return MockResponse(200, data, content_type=ZIP_CONTENT_TYPE, raw=True)
