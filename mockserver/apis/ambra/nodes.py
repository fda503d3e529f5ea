"""``/node/add``: a node with the serial number it authenticates with, under the uuid its caller chose, if any.

The document: "uuid • uuid of the node (optional, you can use this to explicitly set the UUID)", "Returns ... uuid • The
node uuid, serial_no • The node serial number", "INVALID_UUID • Invalid uuid format or this uuid is already in use". A
node then calls the node commands (/node/ping, /node/configuration...) with that uuid and serial_no.
"""

from __future__ import annotations

import secrets
import string

from ...http import MockResponse, json_response
from .call import Call, ambra_error
from .engine import command, do_add
from .shapes import is_uuid


@command("/node/add")
def node_add(call: Call) -> MockResponse:
    call.check()
    chosen = call.values.pop("uuid", None) or None
    if chosen is not None and (not is_uuid(chosen) or call.db.object(str(chosen)) is not None):
        raise ambra_error("INVALID_UUID", "uuid")
    response = do_add(call, call.catalog.resources["node"], uuid=chosen)
    body = response.body
    if response.status != 200 or not isinstance(body, dict) or not body.get("uuid"):
        return response
    serial = new_serial_number()
    call.db.update(str(body["uuid"]), {"serial_no": serial})
    return json_response({**body, "serial_no": serial} if "serial_no" in body else body)


def new_serial_number() -> str:
    """In the seeded nodes' form (``SN-1469-KMLU``)."""
    digits = "".join(secrets.choice(string.digits) for _ in range(4))
    letters = "".join(secrets.choice(string.ascii_uppercase) for _ in range(4))
    return f"SN-{digits}-{letters}"
