"""A node's own call: /node/configuration takes the node's uuid and serial_no and no sid (its block: "Parameters uuid
• The node id / serial_no • The serial number of the node"), so a node that names itself gets its configuration
(status OK) without any session. The node is the first of the administrator's account that /node/list shows with
its serial number ("Each object holds the following same fields as the /node/get call", serial_no among them); the
call only reads ("Get the node configuration"). Skipped when the account has no node or may not list them.
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, STATUS
from medimock.verdict import Document, expect, json_body

NODE_CONFIGURATION = Document.of(
    Document(MAIN, "Description Get the node configuration"),
    Document(MAIN, "Parameters uuid • The node id", 3, after="Description Get the node configuration"),  # uuid, serial_no, Returns status
)


def test_a_node_gets_its_configuration_with_its_uuid_and_serial_number(ambra):
    listed = ambra.call("/node/list", {"account_id": ambra.account_id(), "page.rows": 100})
    body = json_body(listed, STATUS, "/node/list") if listed.status_code == 200 else None
    nodes = body.get("nodes") if isinstance(body, dict) else None
    node = next((n for n in nodes or [] if isinstance(n, dict) and n.get("uuid") and n.get("serial_no")), None)
    if node is None:
        pytest.skip(f"/node/list of the administrator's account shows no node with its serial number ({listed.status_code})")
    response = ambra.call("/node/configuration", {"uuid": node["uuid"], "serial_no": node["serial_no"]}, sid=None)
    what = f"/node/configuration of node {node['uuid']} with its serial number and no sid"
    expect(NODE_CONFIGURATION, response.status_code == 200, f"{what} succeeds (HTTP 200); it answered {response.status_code}", response)
    reply = json_body(response, NODE_CONFIGURATION, what)
    expect(STATUS, isinstance(reply, dict) and reply.get("status") == "OK", f"{what}: a 200 reply holds status OK", response)
