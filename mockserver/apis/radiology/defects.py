"""Deliberate radiology defects: ``medimock serve --defect NAME``. The contract suite must catch each.

Most break behaviour the spec and its README describe (scopes, expiry, organisation
isolation, acknowledgement, "only the most recent"), which no schema check sees; one
breaks the token response's schema.
"""

from __future__ import annotations

from ...api import Context, Defect
from ...http import MockResponse
from . import API


def _expires_in_string(ctx: Context, response: MockResponse) -> MockResponse:
    if response.status == 200 and isinstance(response.body, dict) and "expires_in" in response.body:
        response.body["expires_in"] = str(response.body["expires_in"])
    return response


API.defect(Defect("radiology.scope_not_enforced", "a token of either scope is accepted by every operation"))
API.defect(
    Defect("radiology.ack_ignored", "acknowledging answers as usual but marks nothing: acknowledged reports come back in the next poll")
)
API.defect(Defect("radiology.expired_token_accepted", "expired tokens keep working"))
API.defect(
    Defect("radiology.other_org_visible", "organisation isolation is off: other organisations' orders, groups and reports are visible")
)
API.defect(Defect("radiology.status_not_most_recent", "status and results by study_uid use the study's oldest order, not the most recent"))
API.defect(Defect("radiology.auth_ignored", "no operation checks the Bearer token", auth_ignored=True))
API.defect(
    Defect(
        "radiology.expires_in_string",
        "the token response gives expires_in as a string",
        operations=("getToken", "getTokenGet"),
        transform=_expires_in_string,
    )
)
