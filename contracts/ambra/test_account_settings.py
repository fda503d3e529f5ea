"""/account/settings of the suite's account: "settings • A hash of the account settings", with "settings • A comma
delimited list of the settings to return" naming two settings of the document's Account settings table
(enable_viewer_print and viewer_default_mouse_tool): the hash holds those two and no other. Without a session ("sid •
The session id (optional if not passed then only un-authenticated settings are returned)"), a setting the table does not
allow un-authenticated (viewer_enable_mpr: "Un-authenticated access allowed" 0) is not in the hash.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

SETTINGS_URL = "Description Get the settings for an account"
ASKED = Document.of(
    Document(MAIN, "settings • A comma delimited list of the settings to return (optional)", after=SETTINGS_URL),
    Document(MAIN, "settings • A hash of the account settings", after=SETTINGS_URL),
    Document(MAIN, "enable_viewer_print Flag 1 0 1 0 0 0 Enable the print feature on the viewer"),
    Document(MAIN, "viewer_default_mouse_tool Text Scroll 0 1 0 0 0 The default mouse tool in the viewer"),
)
ANONYMOUS = Document.of(
    Document(MAIN, "(optional if not passed then only un-authenticated settings are returned)", after=SETTINGS_URL),
    Document(MAIN, "viewer_enable_mpr Flag 0 0 1 0 0 0 Flag to enable multi planar reconstruction in the viewer"),
)
WANTED = ("enable_viewer_print", "viewer_default_mouse_tool")


def test_account_settings_are_the_settings_asked_for(ambra):
    asked = {"account_id": ambra.account_id(), "settings": ",".join(WANTED)}
    settings = ok(ambra, "/account/settings", asked, ASKED, "/account/settings of two settings").get("settings")
    keys = sorted(settings) if isinstance(settings, dict) else settings
    expect(ASKED, keys == sorted(WANTED), f"the hash holds the two settings asked for, {sorted(WANTED)}, not {keys!r}")


def test_without_a_session_only_un_authenticated_settings(ambra):
    asked = {"account_id": ambra.account_id(), "settings": "viewer_enable_mpr,enable_viewer_print"}
    settings = ok(ambra, "/account/settings", asked, ANONYMOUS, "/account/settings without a session", sid=None).get("settings")
    held = sorted(settings) if isinstance(settings, dict) else settings
    expect(ANONYMOUS, isinstance(settings, dict) and "viewer_enable_mpr" not in settings, f"no setting that needs a session: {held!r}")
