"""The Clarius Research API in process (``medimock.intercept()``): its links, on Clarius's own host,
are answered too, and expire when the test moves the mock's clock."""

from __future__ import annotations

import io
import zipfile

import requests

import medimock


def test_research_session_in_process():
    with medimock.intercept(apis=["clarius"]) as mock:
        creds = mock.credentials["clarius"]
        base = creds["base_url"] + "/api/public/v0"
        login = {"username": creds["research_username"], "password": creds["research_password"]}
        headers = {"Authorization": "Token " + requests.post(f"{base}/token-auth/", json=login, timeout=10).json()["token"]}
        raw = requests.get(f"{base}/exams/rawdata/{creds['research_exam_id']}", headers=headers, timeout=10).json()
        assert raw[0]["raw_image"].startswith("https://cloud.clarius.com/media/clarius/research/raw/")
        assert requests.get(raw[0]["raw_image"], timeout=10).status_code == 200
        url = requests.post(f"{base}/exams/dicom/{creds['research_exam_id']}", headers=headers, json={"resolution": "64x48"}, timeout=10)
        download = requests.get(url.json()["download_url"], timeout=10)
        assert sorted(zipfile.ZipFile(io.BytesIO(download.content)).namelist()) == sorted(f"{item['capture_uuid']}.dcm" for item in raw)
        mock.control.advance_clock(7 * 86400 + 1)
        assert requests.get(url.json()["download_url"], timeout=10).status_code == 403
