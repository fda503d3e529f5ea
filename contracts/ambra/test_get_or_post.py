"""A command answers a GET as it answers a POST: the preamble's "A call is made to a URL using either a POST or a GET".

Checked where the two could part: a command whose sid has the node alternative ("(sid || node_id && serial_no) • Either
the sid or the node uuid and serial number": /destination/list, /hl7/get), called with the user's HTTP basic
authentication instead of a sid (the preamble's 401 line: "a valid, logged in session id (sid), valid basic
authentication user name and password or an OAuth token") and without its other required parameter (with an optional
one: page.number, raw). The POST is
MISSING_FIELDS ("The error_subtype holds a array of all the missing fields"); the GET names the same missing fields.
A target that refuses basic authentication is test_workflows.py's test_http_basic_authentication's finding: skipped here.
"""

from __future__ import annotations

from typing import Any

import pytest

from medimock.ambra_contract import ERRORS, GENERAL, MAIN, error_type
from medimock.verdict import Document, expect, json_body

GET_OR_POST = Document(GENERAL, "A call is made to a URL using either a POST or a GET")
MISSING = Document.of(
    GET_OR_POST,
    Document(GENERAL, "401 Authorization required"),
    Document(
        MAIN, "Parameters (sid || node_id && serial_no) • Either the sid or the node uuid and serial number", after="URL /destination/list"
    ),
    Document(MAIN, "MISSING_FIELDS • A required field is missing or does not have data in it", after="URL /destination/list"),
)


@pytest.mark.parametrize(("path", "optional"), [("/destination/list", {"page.number": 1}), ("/hl7/get", {"raw": 0})])
def test_a_get_names_the_missing_fields_a_post_names(ambra: Any, path: str, optional: dict[str, Any]) -> None:
    basic = (ambra.login_name, ambra.password)  # HTTP basic authentication (requests' auth=)
    by_post = ambra.call(path, optional, sid=None, auth=basic)
    if by_post.status_code != 412:
        pytest.skip(f"POST {path} with basic authentication is not a 412 error hash ({by_post.status_code})")
    posted = json_body(by_post, ERRORS, f"POST {path} with basic authentication and only {sorted(optional)}")
    if by_post.status_code != 412 or error_type(posted) != "MISSING_FIELDS" or not isinstance(posted.get("error_subtype"), list):
        pytest.skip(
            f"POST {path} with basic authentication is not a MISSING_FIELDS listing fields ({by_post.status_code}, {error_type(posted)!r})"
        )
    by_get = ambra.call(path, optional, method="GET", sid=None, auth=basic)
    got = json_body(by_get, ERRORS, f"GET {path} with basic authentication and only {sorted(optional)}")
    wanted = sorted(map(str, posted["error_subtype"]))
    found = (
        sorted(map(str, got.get("error_subtype") or [])) if isinstance(got, dict) and isinstance(got.get("error_subtype"), list) else None
    )
    expect(
        MISSING,
        by_get.status_code == 412 and error_type(got) == "MISSING_FIELDS" and found == wanted,
        f"GET {path} with basic authentication names the missing fields the POST names ({wanted}): it answered "
        f"{by_get.status_code} {error_type(got)!r} {found}",
        by_get,
    )
