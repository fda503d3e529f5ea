"""The packages of the medimock distribution, found rather than listed (the metadata is in pyproject.toml).

The repository's top-level folders stay where they are and are installed inside the ``medimock``
package: ``fixtures/`` as ``medimock.fixtures``, ``specs/`` as ``medimock.specs``, ``contracts/`` as
``medimock.contracts`` and ``loadtests/`` as ``medimock.loadtests``. "fixtures" and "contracts" are
unrelated packages on PyPI, so nothing of medimock is importable under those names.

Every folder below them is a package of its own (a namespace package where it has no
``__init__.py``, as ``contracts/<api>/`` on purpose), each with all its files: a new API folder, a
new spec or a new media file ships without an edit here, and setuptools has no data folder to
warn about ("Package 'medimock.fixtures.media' is absent from the packages configuration").
"""

from __future__ import annotations

from setuptools import find_namespace_packages, find_packages, setup

MAPPED = {
    "medimock.fixtures": "fixtures",
    "medimock.specs": "specs",
    "medimock.contracts": "contracts",
    "medimock.loadtests": "loadtests",
}
NOT_SHIPPED = ["__pycache__", "*.__pycache__", "*.egg-info", "*.egg-info.*"]


def packages_and_data() -> tuple[list[str], dict[str, list[str]]]:
    packages = find_packages(include=["medimock", "medimock.*", "mockserver", "mockserver.*"])
    data: dict[str, list[str]] = {}
    for name, folder in MAPPED.items():
        found = [name] + [f"{name}.{sub}" for sub in find_namespace_packages(where=folder, exclude=NOT_SHIPPED)]
        packages += found
        data.update({package: ["*"] for package in found})  # every file of the folder; build_py leaves out *.pyc
    data["medimock.diff"] = ["rules/*.yaml"]  # the diff's default normalisation rules
    return packages, data


PACKAGES, PACKAGE_DATA = packages_and_data()

setup(packages=PACKAGES, package_dir=MAPPED, package_data=PACKAGE_DATA, exclude_package_data={"": ["*.py[cod]"]})
