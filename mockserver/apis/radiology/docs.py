"""What a newcomer sees of radiology (``GET /`` and ``/docs``): a first call, and seeded values for "Try it out"."""

from __future__ import annotations

from typing import Any

from ...api import DocsExamples
from . import API

API.quickstart = """\
TOKEN=$(curl -s -d grant_type=client_credentials -d client_id={client_id} -d client_secret={client_secret} \\
        {base_url}/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -H "Authorization: Bearer $TOKEN" "{base_url}/status?order_id={order_id}"
curl -s -H "Authorization: Bearer $TOKEN" "{base_url}/reports?organizationId={organizationId}\""""


def docs_examples(app: Any) -> DocsExamples:
    """The seeded client of the first organisation (both scopes), and one of its orders, studies and study groups."""
    credentials = API.credentials(app, "") if API.credentials else {}
    examples = credentials.get("examples") or {}
    values: dict[str, Any] = {
        "client_id": credentials.get("client_id"),
        "client_secret": credentials.get("client_secret"),
        "grant_type": "client_credentials",
        "scope": credentials.get("scope"),
        "organizationId": credentials.get("organization_id"),
        **{name: examples[name] for name in ("order_id", "study_uid", "report_type", "study_group") if examples.get(name)},
        "getOrderIds.study_uid": examples.get("study_uid_with_several_orders") or examples.get("study_uid"),
    }
    # /status and /results take order_id or study_uid: the order alone, so the pre-filled call is unambiguous
    values.update({"getStatus.study_uid": None, "getResults.study_uid": None})
    return DocsExamples({key: value for key, value in values.items() if value is not None or "." in key})


API.docs_examples = docs_examples
