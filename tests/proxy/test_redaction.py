"""No credential reaches any output of the proxy: journal, report (Markdown, HTML, JSON), recording, logs."""

from __future__ import annotations

import base64
import json
import logging

import requests

from mockserver.recording import Redactor, encode_body


def test_credentials_are_redacted_everywhere(upstream, start_proxy, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    creds = upstream.credentials
    secrets: list[str] = []
    proxies = {}
    for api in ("clarius", "tscharts", "radiology", "ambra"):
        suffix = ".html" if api == "ambra" else ".md"
        proxies[api] = start_proxy(api, upstream.base(api), record=str(tmp_path / f"{api}.jsonl"), report=str(tmp_path / f"{api}{suffix}"))

    # Clarius: the API key in a header, a newly created key in a response body, a cookie.
    clarius = proxies["clarius"].url + "/api/public/v0"
    key = creds["clarius"]["api_key"]
    secrets += [key, key.split(".", 1)[1], "COOKIE-SECRET-VALUE-1"]
    auth = {"Authorization": creds["clarius"]["authorization"], "Cookie": "sessionid=COOKIE-SECRET-VALUE-1; theme=dark"}
    assert requests.get(clarius + "/exams/accessible/?limit=1", headers=auth, timeout=10).status_code == 200
    created = requests.post(clarius + "/services/api-keys/", json={"name": "redaction"}, headers=auth, timeout=10)
    assert created.status_code == 201
    secrets.append(created.json()["key"].split(".", 1)[1])
    bad_key = "Service-API-Key abcdefgh.WRONG-SECRET-PRESENTED-42"
    secrets.append("WRONG-SECRET-PRESENTED-42")
    assert requests.get(clarius + "/services/settings/", headers={"Authorization": bad_key}, timeout=10).status_code == 401

    # tscharts: a password in a JSON body, the token in its response and then in a header.
    tscharts = proxies["tscharts"].url + "/tscharts/v1"
    login = requests.post(
        tscharts + "/login/", json={"username": creds["tscharts"]["username"], "password": creds["tscharts"]["password"]}, timeout=10
    )
    assert login.status_code == 200
    token = login.json()["token"]
    secrets += [creds["tscharts"]["password"], token]
    patient = creds["tscharts"]["patients"][0]
    requests.get(tscharts + "/image/", params={"patient": patient}, headers={"Authorization": f"Token {token}"}, timeout=10)

    # radiology: client_secret in a query string, in a form body and in HTTP Basic; the access token back and forth.
    radiology = proxies["radiology"].url + "/radiology"
    rad = creds["radiology"]
    secrets.append(rad["client_secret"])
    by_get = requests.get(
        radiology + "/oauth2/token",
        params={"grant_type": "client_credentials", "client_id": rad["client_id"], "client_secret": rad["client_secret"]},
        timeout=10,
    )
    by_form = requests.post(
        radiology + "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": rad["client_id"], "client_secret": rad["client_secret"]},
        timeout=10,
    )
    by_basic = requests.post(
        radiology + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(rad["client_id"], rad["client_secret"]), timeout=10
    )
    for granted in (by_get, by_form, by_basic):
        assert granted.status_code == 200, granted.text
        secrets.append(granted.json()["access_token"])
    secrets.append(base64.b64encode(f"{rad['client_id']}:{rad['client_secret']}".encode()).decode())
    requests.get(
        radiology + "/status",
        params={"order_id": rad["examples"]["order_id"]},
        headers={"Authorization": f"Bearer {by_form.json()['access_token']}"},
        timeout=10,
    )

    # Ambra: a password in a form, the sid it returns in queries and forms, an OAuth client secret and token.
    ambra = proxies["ambra"].url + "/api/v3"
    amb = creds["ambra"]
    secrets += [amb["password"], amb["oauth_client_secret"]]
    logged_in = requests.post(ambra + "/session/login", data={"login": amb["login"], "password": amb["password"]}, timeout=10)
    sid = logged_in.json()["sid"]
    secrets.append(sid)
    requests.get(ambra + "/session/user", params={"sid": sid}, timeout=10)
    requests.post(ambra + "/study/list", data={"sid": sid, "page.rows": "1"}, timeout=10)
    requests.post(ambra + "/study/list", params={"sid": sid}, data={"page.rows": "not-a-number"}, timeout=10)
    oauth = requests.post(
        ambra + "/session/oauth/token",
        data={"grant_type": "client_credentials", "client_id": amb["oauth_client_id"], "client_secret": amb["oauth_client_secret"]},
        timeout=10,
    )
    assert oauth.status_code == 200, oauth.text
    secrets.append(oauth.json()["access_token"])
    requests.get(ambra + "/session/user", headers={"Authorization": f"Bearer {oauth.json()['access_token']}"}, timeout=10)

    outputs = {}
    for api, proxy in proxies.items():
        outputs[f"{api} journal"] = json.dumps(proxy.journal())
        for fmt in ("markdown", "html", "json"):
            outputs[f"{api} report {fmt}"] = proxy.report(fmt) if fmt != "json" else json.dumps(proxy.report())
        proxy.proxy.close()  # writes --report and closes the recording
    for path in tmp_path.iterdir():
        outputs[path.name] = path.read_text()
    outputs["logs"] = caplog.text

    secrets = [s for s in secrets if s]
    assert len(secrets) >= 15
    leaks = [(name, secret) for name, text in outputs.items() for secret in secrets if secret in text]
    assert leaks == []
    # ...and the outputs are not empty: the exchanges are there, with their redactions.
    recorded = [json.loads(line) for line in (tmp_path / "ambra.jsonl").read_text().splitlines()]
    assert len(recorded) == 6
    login_line = recorded[0]
    assert login_line["request"]["body"]["redacted"] is True
    assert json.loads(login_line["response"]["body"]["text"])["sid"] == "[redacted]"
    assert recorded[1]["request"]["query"] == "sid=%5Bredacted%5D"
    assert ["Cookie", "sessionid=[redacted]; theme=[redacted]"] in json.loads((tmp_path / "clarius.jsonl").read_text().splitlines()[0])[
        "request"
    ]["headers"]
    assert (tmp_path / "ambra.html").read_text().startswith("<!doctype html>")
    assert "client_secret=%5Bredacted%5D" in outputs["radiology journal"]  # the token request's query


def test_redactor_scrubs_echoed_secrets_from_free_text():
    redactor = Redactor()
    assert redactor.header("Authorization", "Bearer tok-123456") == "Bearer [redacted]"
    assert redactor.header("X-Api-Key", "k-abcdef") == "[redacted]"
    assert redactor.query("sid=s-99999&page=2&client_secret=cs%2Fxyz") == "sid=%5Bredacted%5D&page=2&client_secret=%5Bredacted%5D"
    assert redactor.header("Location", "https://h/next?page=2&access_token=at-31415") == "https://h/next?page=2&access_token=%5Bredacted%5D"
    assert redactor.header("Set-Cookie", "sessionid=sc-271828; Path=/; HttpOnly") == "sessionid=[redacted]; Path=/; HttpOnly"
    assert redactor.text("invalid token tok-123456 for sid s-99999 (cs/xyz)") == "invalid token [redacted] for sid [redacted] ([redacted])"
    nested = {"user": {"password": "pw-777777", "name": "n"}, "items": [{"refresh_token": "rt-1"}], "note": "was pw-777777"}
    assert redactor.json(nested) == {
        "user": {"password": "[redacted]", "name": "n"},
        "items": [{"refresh_token": "[redacted]"}],
        "note": "was [redacted]",
    }
    body = encode_body(b"login=a&password=p%40ss-word", "application/x-www-form-urlencoded", redactor)
    assert body == {"text": "login=a&password=%5Bredacted%5D", "redacted": True}
    assert encode_body(b'{"a":  1}', "application/json", Redactor()) == {"text": '{"a":  1}'}  # untouched bytes when nothing is removed
    assert encode_body(b"\x89PNG\x00", "image/png", Redactor()) == {"base64": base64.b64encode(b"\x89PNG\x00").decode()}
