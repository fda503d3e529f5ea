"""/bundle with inherit_sid=1: the document's "If passed and equals to 1, then all the bundled API calls will inherit
the current sid, it will be passed in the X-AmbraHealth-SID header". All of them: also calls that carry parameters of
their own (the workflow suite's inherit_sid check bundles only calls without any). A bundled /account/get of the
suite's account (uuid given, no sid) runs with the bundle's session and answers that account.
"""

from __future__ import annotations

from typing import Any

import orjson

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect, json_body

INHERIT_SID = Document.of(
    Document(MAIN, "You can bundle a series of calls into a single call"),
    Document(MAIN, "The templated values can use dot notation"),  # the same line goes on with inherit_sid
)


def test_inherit_sid_reaches_a_bundled_call_with_parameters(ambra):
    account = str(ambra.account_id())
    name = ok(ambra, "/account/get", {"uuid": account}).get("name")
    calls: list[dict[str, Any]] = [{"URL": "/account/get", "uuid": account}]
    response = ambra.session.post(ambra.url("/bundle") + f"?inherit_sid=1&sid={ambra.sid}", json=calls, timeout=60)
    what = "a bundle (inherit_sid=1) of /account/get with the account's uuid and no sid"
    expect(INHERIT_SID, response.status_code == 200, f"{what} succeeds (HTTP 200); it answered {response.status_code}", response)
    results = json_body(response, INHERIT_SID, what)
    reply = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
    expect(
        INHERIT_SID,
        reply.get("HTTP_STATUS_CODE") == 200 and reply.get("uuid") == account and reply.get("name") == name,
        f"{what}: the call inherits the bundle's sid and answers the account: {orjson.dumps(reply)[:300].decode()}",
        response,
    )
