"""A command POSTed with a body of a content type that is not a form (text/plain): the preamble's "Errors are flagged by
an HTTP error code as follows" lists 401, 405 and 412 (an error hash with status ERROR). /account/add (the system
administrators' command the suite's client setup uses, beyond the public document) is sent only a sid in the query
string and a text/plain body without any parameter: it is refused as the document flags errors (412 with an error
hash; medimock: MISSING_FIELDS naming name), or as a call without credentials or permission (401, 412), or a target
without the command answers 404 or 405; never another code (a 415, a server error). Nothing can be created: the body
names no account.
"""

from __future__ import annotations

import orjson

from medimock.ambra_contract import GENERAL
from medimock.verdict import Document, expect

FLAGGED = Document.of(
    Document(GENERAL, "Errors are flagged by an HTTP error code as follows", lines=4),
    Document(GENERAL, "Every returned data structure has a status field that holds either OK or ERROR"),
)


def test_a_text_plain_body_is_refused_as_the_document_flags_errors(ambra):
    response = ambra.session.post(
        ambra.url("/account/add") + f"?sid={ambra.sid}",
        data=b"a body that is not a form",
        headers={"Content-Type": "text/plain"},
        timeout=60,
    )
    what = "/account/add with the sid in the query and a text/plain body naming no account"
    codes = (401, 404, 405, 412)  # 404/405: a target without this system-administrator command
    expect(FLAGGED, response.status_code in codes, f"{what}: one of HTTP {codes}, not {response.status_code}", response)
    if response.status_code == 412:
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        status = body.get("status") if isinstance(body, dict) else None
        expect(FLAGGED, status == "ERROR", f"{what}: the 412 reply is an error hash with status ERROR, not {status!r}", response)
