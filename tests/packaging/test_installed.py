"""The wheel in a fresh virtual environment, used from outside the checkout: it serves every API, runs
every contract suite, intercepts ``requests`` in another project's tests and runs a load test.

The environment is built once (``conftest.installed``: the sdist, the wheel from it, a venv, pip install);
the mock these tests call is ``medimock serve`` of that environment. Most of the time is the build and
install and the contract suites, which run every test with a small budget (3 examples per operation).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"fixtures": "medimock/fixtures", "specs": "medimock/specs", "contracts": "medimock/contracts", "loadtests": "medimock/loadtests"}
COMMANDS = ("serve", "contract", "load", "mutation", "proxy", "spec", "credentials", "defects")


def shipped_files(folder: str) -> list[str]:
    """Every file of a top-level folder that a command may read (what the wheel must carry)."""
    root = ROOT / folder
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".sqlite3")
    )


def test_the_wheel_and_the_sdist_carry_every_folder_a_command_reads(installed):
    wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    for folder, inside in MAPPED.items():
        missing = [name for name in shipped_files(folder) if f"{inside}/{name}" not in wheel]
        assert not missing, f"the wheel lacks {folder}/ files: {missing[:10]}"
    assert not [name for name in wheel if name.split("/")[0] in ("fixtures", "contracts", "specs", "loadtests")], "no top-level package"
    with tarfile.open(installed.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for folder in (*MAPPED, "medimock", "mockserver", "tests", "examples"):
        missing = [name for name in shipped_files(folder) if f"{folder}/{name}" not in names]
        assert not missing, f"the sdist lacks {folder}/ files: {missing[:10]}"
    assert {"setup.py", "pyproject.toml", "README.md", "Makefile", "pytest.ini"} <= names


def test_nothing_comes_from_the_checkout(installed):
    probe = (
        "import importlib.util, json, sys, medimock, mockserver, medimock.fixtures, medimock.loadtests.run as load;"
        "from medimock.resources import specs_dir, contracts_dir;"
        "print(json.dumps({'files': [medimock.__file__, mockserver.__file__, medimock.fixtures.__file__, load.__file__,"
        " str(specs_dir()), str(contracts_dir())], 'path': sys.path,"
        " 'top_level': [importlib.util.find_spec(n) is not None for n in ('fixtures', 'contracts', 'specs', 'loadtests')]}))"
    )
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for file in found["files"]:
        assert Path(file).resolve().is_relative_to(installed.venv.resolve()), file
    assert not [entry for entry in found["path"] if entry and Path(entry).resolve().is_relative_to(ROOT)], found["path"]
    assert found["top_level"] == [False] * 4, "medimock installs no top-level fixtures, contracts, specs or loadtests"


def test_every_command_documents_itself(installed):
    for command in COMMANDS:
        result = installed.run("medimock", command, "--help")
        assert result.returncode == 0 and f"usage: medimock {command}" in result.stdout, result.stdout + result.stderr
        assert "exit codes" in result.stdout, f"medimock {command} --help documents its exit codes"
    assert "exit codes" in installed.run("medimock", "contract", "--help").stdout
    assert installed.run("medimock", "--version").stdout.startswith("medimock ")
    assert installed.run("medimock", "contract", "--api", "nosuch").returncode == 2


def test_every_api_is_served(served):
    creds = requests.get(served.url + "/__mock__/credentials", timeout=10).json()
    with requests.Session() as http:
        page = http.get(
            served.url + "/api/public/v0/exams/accessible/", headers={"Authorization": creds["clarius"]["authorization"]}, timeout=10
        ).json()
        assert page["count"] == 135
        exam = http.get(page["results"][0]["download_url"], headers={"Authorization": creds["clarius"]["authorization"]}, timeout=10)
        capture = http.get(exam.json()["captures"][0]["url"], timeout=10)  # a media file of the package
        assert capture.status_code == 200 and capture.content[:3] in (b"\xff\xd8\xff", b"\x89PN", b"\x00\x00\x00")

        tscharts = creds["tscharts"]
        images = http.get(
            served.url + "/tscharts/v1/image/",
            params={"patient": tscharts["patients"][0]},
            headers={"Authorization": tscharts["authorization"]},
            timeout=10,
        )
        assert images.status_code in (200, 404), images.text  # 404: no image of that patient (the document's "NOT FOUND")

        radiology = creds["radiology"]
        token = http.post(
            served.url + "/radiology/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": radiology["client_id"], "client_secret": radiology["client_secret"]},
            timeout=10,
        ).json()["access_token"]
        status = http.get(
            served.url + "/radiology/status",
            params={"order_id": radiology["examples"]["order_id"]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert status.status_code == 200, status.text

        ambra = creds["ambra"]
        sid = http.post(
            served.url + "/api/v3/session/login", data={"login": ambra["login"], "password": ambra["password"]}, timeout=10
        ).json()["sid"]
        studies = http.post(served.url + "/api/v3/study/list", data={"sid": sid, "page.rows": 5}, timeout=10).json()
        assert studies["status"] == "OK" and len(studies["studies"]) == 5

        assert http.get(served.url + "/docs", timeout=10).status_code == 200
        assert http.get(served.url + "/specs/ambra.yaml", timeout=10).text.startswith("openapi:")
        front = http.get(served.url + "/", headers={"Accept": "application/json"}, timeout=10).json()
        assert sorted(front["apis"]) == ["ambra", "clarius", "radiology", "tscharts"]
        assert "<h2>APIs</h2>" in http.get(served.url + "/", timeout=10).text


def test_the_front_doors_first_calls_work(installed, served):
    """Each API's "first call" on GET /, run as a newcomer would paste it into a shell."""
    front = requests.get(served.url + "/", headers={"Accept": "application/json"}, timeout=10).json()
    for name, api in front["apis"].items():
        result = installed.run("bash", "-eo", "pipefail", "-c", api["quickstart"])
        assert result.returncode == 0 and result.stdout.strip(), f"{name}:\n{api['quickstart']}\n{result.stdout}{result.stderr}"
        replies, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
        while text:  # curl -s prints each JSON reply without a newline
            reply, end = decoder.raw_decode(text)
            replies.append(reply)
            text = text[end:].lstrip()
        assert len(replies) == api["quickstart"].count("curl -s") - api["quickstart"].count("$(curl"), (name, replies)
        for reply in replies:
            assert not (isinstance(reply, dict) and ({"detail", "error"} & set(reply) or reply.get("status") == "ERROR")), (name, reply)


def test_spec_and_credentials_commands(installed, served):
    listed = installed.run("medimock", "spec")
    assert listed.returncode == 0 and all(api in listed.stdout for api in ("clarius", "tscharts", "radiology", "ambra"))
    path = Path(installed.run("medimock", "spec", "clarius", "--path").stdout.strip())
    assert path.is_file() and path.resolve().is_relative_to(installed.venv.resolve())
    assert installed.run("medimock", "spec", "tscharts").stdout.startswith("openapi:")
    assert json.loads(installed.run("medimock", "spec", "radiology", "--format", "json").stdout)["openapi"].startswith("3.")

    env = installed.run("medimock", "credentials", "--target", served.url, "--format", "env")
    assert env.returncode == 0, env.stderr
    variables = dict(line.split("=", 1) for line in env.stdout.splitlines())
    assert variables["CLARIUS_API_KEY"].count(".") == 1 and variables["AMBRA_LOGIN"].endswith("@northwind.example.org")
    assert variables["MEDIMOCK_AMBRA_URL"] == served.url + "/api/v3"
    assert installed.run("medimock", "credentials", "--target", "http://127.0.0.1:9").returncode == 2


def test_every_contract_suite_runs_from_the_package(installed, served):
    """Every test of the four suites, with a small budget: 3 examples per operation (Ambra: 1, and its property
    run over its session commands); the suites' mock-started path is run by test_contract_exit_codes."""
    run = installed.run(
        "medimock",
        *("contract", "--target", served.url, "--examples", "3"),
        env={"MEDIMOCK_AMBRA_OPERATIONS": "^/session/"},
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert "[100%]" in run.stdout, run.stdout[-3000:]
    summary = run.stdout[run.stdout.index("medimock conformance") :]
    for api in ("clarius", "tscharts", "radiology", "ambra"):
        assert re.search(rf"^{api}\s+ok\s", summary, re.MULTILINE), summary
    reports = installed.work / "reports"
    assert (reports / "junit-contracts.xml").is_file() and (reports / "conformance-contracts.html").is_file()


def test_contract_exit_codes(installed):
    unreachable = installed.run("medimock", "contract", "--api", "clarius", "--target", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    broken = installed.run(
        "medimock",
        *("contract", "--api", "clarius", "--report", "off", "--", "-k", "test_bad_credentials_are_401"),
        env={"MEDIMOCK_EMBEDDED_ARGS": "--api clarius --defect clarius.auth_ignored", "MEDIMOCK_EMBEDDED_STRICT": "0"},
    )
    assert broken.returncode == 1, broken.stdout[-3000:]
    assert "FAILED contracts/clarius/test_workflows.py::test_bad_credentials_are_401" in broken.stdout


INTERCEPT_TEST = """
import medimock
import requests


def test_intercept_outside_a_fixture():
    with medimock.intercept(apis=["radiology"]) as mock:
        creds = mock.credentials["radiology"]
        token = requests.post(creds["base_url"] + "/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
        assert token.status_code == 200 and token.json()["token_type"].lower() == "bearer"
"""


def test_another_project_intercepts_requests(installed):
    project = installed.work / "client-project"
    project.mkdir()
    for name in ("clarius_client.py", "test_clarius_client.py", "conftest.py"):
        shutil.copy(ROOT / "examples" / name, project / name)
    (project / "test_intercept.py").write_text(INTERCEPT_TEST)
    result = installed.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    passed = re.search(r"\b(\d+) passed\b", result.stdout)
    assert passed is not None and int(passed.group(1)) >= 9, result.stdout[-2000:]  # the example's tests and the one above


def test_a_load_test_runs(installed, served):
    result = installed.run(
        "medimock",
        *("load", "--api", "clarius", "--target", served.url, "--users", "2", "--spawn-rate", "2", "--duration", "3s"),
        *("--thresholds", "--reports", "load-reports"),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "result: PASS" in result.stdout and "reports: load-reports/load-clarius.html" in result.stdout
    with open(installed.work / "load-reports" / "load-clarius_stats.csv", newline="") as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    printed = re.search(r"^\s+Aggregated\s+(\d+)\s", result.stdout + result.stderr, re.MULTILINE)
    assert printed is not None and printed.group(1) == total["Request Count"], "Locust's table and the CSV count the same requests"
