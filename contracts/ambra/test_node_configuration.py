"""A node's own call: /node/configuration takes the node's uuid and serial_no and no sid (its block: "Parameters uuid
• The node id / serial_no • The serial number of the node"), so a node that names itself gets its configuration
(status OK) without any session. The node is the first of the administrator's account that /node/list shows with
its serial number ("Each object holds the following same fields as the /node/get call", serial_no among them); the
call only reads ("Get the node configuration"). Skipped when the account has no node or may not list them.

/node/add: a node added with a uuid of the caller's choosing gets it and a serial number it then authenticates
with; a malformed uuid is INVALID_UUID. Whatever the suite added is deleted afterwards.

Basic auth: "The uuid and serial_no can also be passed using basic auth as the username/password combination" (the
Notes of /node/configuration and /node/ping, among five): a node the suite added reaches both with only its uuid and
serial_no as HTTP basic credentials and no parameters, and /node/configuration then answers the same storage_namespace
as with the parameters; a wrong serial number in basic auth is the node not found.
"""

from __future__ import annotations

import uuid

import pytest

from medimock.ambra_contract import MAIN, STATUS, error_type, skip_if_not_permitted
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


CHOSEN_UUID = Document(MAIN, "uuid • uuid of the node (optional, you can use this to explicitly set the UUID)")
NODE_ADD = Document.of(CHOSEN_UUID, Document(MAIN, "uuid • The node uuid", 2, after="URL /node/add"))  # Returns uuid, serial_no
INVALID_UUID = Document.of(CHOSEN_UUID, Document(MAIN, "INVALID_UUID • Invalid uuid format or this uuid is already in use"))


def test_an_added_node_has_the_chosen_uuid_and_a_serial_number_it_authenticates_with(ambra):
    """/node/add: the node gets the uuid the caller chose and a serial number (its Returns line), with which it then
    gets its configuration like any node; that uuid, now in use, is INVALID_UUID; the suite deletes the node afterwards."""
    chosen = str(uuid.uuid4())
    params = {"name": f"contract node {chosen[:8]}", "account_id": ambra.account_id(), "type": "HARVESTER", "uuid": chosen}
    added = ambra.call("/node/add", params)
    skip_if_not_permitted(added, NODE_ADD, "/node/add", "the suite's administrator may not add a node here")
    try:
        expect(
            NODE_ADD, added.status_code == 200, f"/node/add with a new uuid={chosen} succeeds (HTTP 200), not {added.status_code}", added
        )
        reply = json_body(added, NODE_ADD, "the /node/add reply")
        expect(
            NODE_ADD,
            isinstance(reply, dict) and reply.get("uuid") == chosen,
            f"/node/add with uuid={chosen} answers that uuid: {reply}",
            added,
        )
        serial = reply.get("serial_no") if isinstance(reply, dict) else None
        expect(NODE_ADD, isinstance(serial, str) and bool(serial), f"/node/add answers the node's serial number, not {serial!r}", added)
        response = ambra.call("/node/configuration", {"uuid": chosen, "serial_no": serial}, sid=None)
        what = f"/node/configuration of the node just added, with the serial number /node/add gave ({serial!r}) and no sid"
        expect(NODE_CONFIGURATION, response.status_code == 200, f"{what} succeeds (HTTP 200); it answered {response.status_code}", response)
        again = ambra.call("/node/add", {**params, "name": f"contract node {chosen[:8]} again"})
        if again.status_code == 200:  # wrongly added twice: the suite deletes what it can name
            extra = json_body(again, INVALID_UUID, "/node/add")
            if isinstance(extra, dict) and extra.get("uuid") and extra["uuid"] != chosen:
                ambra.call("/node/delete", {"uuid": extra["uuid"]})
        found = error_type(json_body(again, INVALID_UUID, "/node/add again")) if again.status_code == 412 else None
        what = f"/node/add with the uuid {chosen} already in use"
        expect(INVALID_UUID, found == "INVALID_UUID", f"{what}: HTTP 412 INVALID_UUID, not {again.status_code} {found!r}", again)
    finally:
        ambra.call("/node/delete", {"uuid": chosen})


def test_node_add_with_a_malformed_uuid_is_invalid_uuid(ambra):
    bad = f"not-a-uuid-{uuid.uuid4().hex[:8]}"
    params = {"name": f"contract node {bad}", "account_id": ambra.account_id(), "type": "HARVESTER", "uuid": bad}
    response = ambra.call("/node/add", params)
    try:
        skip_if_not_permitted(response, INVALID_UUID, "/node/add", "the suite's administrator may not add a node here")
        what = f"/node/add with uuid={bad}"
        expect(INVALID_UUID, response.status_code == 412, f"{what} is refused (HTTP 412), not {response.status_code}", response)
        found = error_type(json_body(response, INVALID_UUID, what))
        expect(INVALID_UUID, found == "INVALID_UUID", f"{what}: error_type INVALID_UUID, not {found!r}", response)
    finally:
        if response.status_code == 200:
            added = json_body(response, INVALID_UUID, "/node/add")
            if isinstance(added, dict) and added.get("uuid"):
                ambra.call("/node/delete", {"uuid": added["uuid"]})


BASIC_CONFIGURATION = Document.of(
    Document(MAIN, "The uuid and serial_no can also be passed using basic auth", after="URL /node/configuration"),
    NODE_CONFIGURATION,
)
BASIC_PING = Document.of(
    Document(MAIN, "The uuid and serial_no can also be passed using basic auth", after="Description Ping node"),
    Document(MAIN, "Description Ping node"),
)
BASIC_NOT_FOUND = Document.of(
    Document(MAIN, "The uuid and serial_no can also be passed using basic auth", after="URL /node/configuration"),
    Document(MAIN, "NOT_FOUND • The node can not be found", after="URL /node/configuration"),
)


def test_a_node_passes_its_uuid_and_serial_number_as_basic_auth(ambra):
    """A node the suite adds gets its configuration, and pings, with its uuid and serial_no as the username and password
    of HTTP basic authentication and no parameters (no sid either): the same storage_namespace as with the parameters;
    with a wrong serial number as the password, /node/configuration is NOT_FOUND. The suite deletes the node afterwards."""
    name = f"contract node basic {uuid.uuid4().hex[:8]}"
    added = ambra.call("/node/add", {"name": name, "account_id": ambra.account_id(), "type": "HARVESTER"})
    skip_if_not_permitted(added, NODE_ADD, "/node/add", "the suite's administrator may not add a node here")
    reply = json_body(added, NODE_ADD, "the /node/add reply")
    node, serial = (reply.get("uuid"), reply.get("serial_no")) if isinstance(reply, dict) else (None, None)
    try:
        expect(NODE_ADD, added.status_code == 200 and bool(node), f"/node/add succeeds with the node's uuid: {added.status_code}", added)
        expect(NODE_ADD, isinstance(serial, str) and bool(serial), f"/node/add answers the node's serial number, not {serial!r}", added)
        by_parameters = ambra.call("/node/configuration", {"uuid": node, "serial_no": serial}, sid=None)
        what = f"/node/configuration of node {node} with its uuid and serial_no as parameters"
        expect(
            NODE_CONFIGURATION, by_parameters.status_code == 200, f"{what} succeeds; it answered {by_parameters.status_code}", by_parameters
        )
        expected = json_body(by_parameters, NODE_CONFIGURATION, what)
        by_basic = ambra.call("/node/configuration", sid=None, auth=(node, serial))
        what = f"/node/configuration of node {node} with its uuid and serial_no as basic auth and no parameters"
        expect(
            BASIC_CONFIGURATION, by_basic.status_code == 200, f"{what} succeeds (HTTP 200); it answered {by_basic.status_code}", by_basic
        )
        found = json_body(by_basic, BASIC_CONFIGURATION, what)
        expect(STATUS, isinstance(found, dict) and found.get("status") == "OK", f"{what}: a 200 reply holds status OK", by_basic)
        namespaces = [body.get("storage_namespace") if isinstance(body, dict) else None for body in (expected, found)]
        expect(
            BASIC_CONFIGURATION,
            namespaces[0] == namespaces[1],
            f"{what}: the storage_namespace of the same node, {namespaces[0]!r} with the parameters, not {namespaces[1]!r}",
            by_basic,
        )
        ping = ambra.call("/node/ping", sid=None, auth=(node, serial))
        what = f"/node/ping of node {node} with its uuid and serial_no as basic auth and no parameters"
        expect(BASIC_PING, ping.status_code == 200, f"{what} succeeds (HTTP 200); it answered {ping.status_code}", ping)
        pinged = json_body(ping, BASIC_PING, what)
        expect(STATUS, isinstance(pinged, dict) and pinged.get("status") == "OK", f"{what}: a 200 reply holds status OK", ping)
        wrong = ambra.call("/node/configuration", sid=None, auth=(node, f"{serial}-wrong"))
        what = f"/node/configuration with node {node}'s uuid and a wrong serial_no as basic auth"
        refused = error_type(json_body(wrong, BASIC_NOT_FOUND, what)) if wrong.status_code == 412 else None
        expect(BASIC_NOT_FOUND, refused == "NOT_FOUND", f"{what}: HTTP 412 NOT_FOUND, not {wrong.status_code} {refused!r}", wrong)
    finally:
        if node:
            ambra.call("/node/delete", {"uuid": node})
