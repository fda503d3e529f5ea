"""The contract suites read each spec through the mock's JSON cache (``medimock.suite.load_spec``): the document
must be the YAML's as libyaml reads it, so the suites generate and check exactly what the spec file says."""

from __future__ import annotations

import pytest
import yaml

from medimock.suite import SPECS, load_spec, spec_schemas

APIS = sorted(path.parent.name for path in SPECS.glob("*/openapi.yaml"))


@pytest.mark.parametrize("api", APIS)
def test_cached_document_is_the_yaml(api):
    with open(SPECS / api / "openapi.yaml", encoding="utf-8") as handle:
        parsed = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # the C *safe* loader
    assert load_spec(api) == parsed


def test_each_caller_gets_its_own_copy():
    first = load_spec("tscharts")
    first["paths"].clear()
    assert load_spec("tscharts")["paths"], "a caller changing its document changed another's"
    assert spec_schemas("tscharts").document["paths"]
