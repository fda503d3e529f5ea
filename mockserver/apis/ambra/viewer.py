"""The viewer's settings for a study: /study/viewer/settings and /study/viewer3/settings.

Both name a study ("(study_id || study_uid && storage_namespace && phi_namespace) • Either the study uuid or the
storage triplet"; NOT_FOUND "The study can not be found") and answer the account flags of the study's account ("Value
for the account flag": the value /account/set stored in the account's settings, else the default of the document's
"Account settings" table, ``account_settings.table()``). /study/viewer3/settings adds the viewer3 configurations of
the account, of the caller's role and of the caller, the user settings it is asked for ("settings • A JSON list of user
settings set via /setting/set to return"), and "The rest of the fields are the same as /user/get": the caller's own
user fields.
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .account_settings import StudySettings
from .call import Call
from .engine import command, ok
from .session import requested_settings
from .store import public
from .studies import locate
from .user_settings import setting_value

# /study/viewer/settings' "Value for the account flag" fields, in the document's order (lines 2678-2701)
VIEWER_FLAGS = (
    "enable_v2_viewer", "enable_v3_viewer", "enable_viewer_print", "viewer_show_reports", "enable_viewer_export",
    "viewer_diagnostic_quality", "viewer_diagnostic_quality_always", "viewer_preload_diagnostic_images", "viewer_enable_mpr",
    "viewer_single_instance_series", "viewer_multiframe_split_method", "viewer_study_page_link_visible",
    "viewer_study_page_link_url", "viewer_setting_not_diagnostic", "auto_transcode", "auto_transcode_modalities",
    "viewer_default_mouse_tool", "viewer_link_series", "enable_viewer_toggle_annotations", "enable_dicom_tag_customfields",
    "radreport_branding_from_phi_namespace", "viewer_anon_annotations_clear", "accession_number_for_study_uid",
)  # fmt: skip
# /study/viewer3/settings' (lines 2720-2722)
VIEWER3_FLAGS = ("enable_dicom_tag_customfields", "accession_number_for_study_uid", "viewer_study_page_link_visible")


class ViewerSettings(StudySettings):
    """The study's account settings, and what both viewer commands answer from them."""

    def common(self) -> dict[str, Any]:
        """What both commands answer besides their flags: the cpp-transcoding flag ("Value for the namespace || account
        flag"), the DICOM tags that can not be edited (only when enable_dicom_tag_customfields is on: none here, the
        mock's customfields hold any tag) and the accelerators (only when probe_for_accelerator is on: the mock has none)."""
        name = "viewer_study_enable_cpp_transcoding"
        out: dict[str, Any] = {name: self.namespace.get(name, self.flag(name))}
        if self.on("enable_dicom_tag_customfields"):
            out["no_edit_dicom_tags"] = []
        if self.on("probe_for_accelerator"):
            out["accelerators"] = []
        return out


@command("/study/viewer/settings")
def viewer_settings(call: Call) -> MockResponse:
    call.check()
    study = locate(call, "study_id")
    settings = ViewerSettings(call, study)
    role = call.permissions(settings.account_id) if call.principal is not None else {}
    body = {name: settings.flag(name) for name in VIEWER_FLAGS}
    return ok({**body, **settings.common(), "viewer_config": role.get("viewer_config", "")})


@command("/study/viewer3/settings")
def viewer3_settings(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    study = locate(call, "study_id")
    settings = ViewerSettings(call, study)
    role = call.permissions(settings.account_id)
    body: dict[str, Any] = {
        **public(call.user),  # "The rest of the fields are the same as /user/get"
        "account_config": settings.flag("viewer3_config"),
        "role_config": role.get("viewer3_config", ""),
        "user_config": setting_value(call, "viewer3_config") or "",
        **{name: settings.flag(name) for name in VIEWER3_FLAGS},
        **settings.common(),
    }
    wanted = call.json("settings")
    if isinstance(wanted, list):
        body["settings"] = requested_settings(call, wanted)
    return ok(body)
