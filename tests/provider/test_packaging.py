"""The package's metadata is what a package index and a licence scanner need (issue 17)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_and_notice_exist_and_are_declared_for_the_wheel() -> None:
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "NOTICE").read_text().strip()
    assert _project()["license-files"] == ["LICENSE", "NOTICE"]


def test_metadata_has_keywords_and_classifiers_for_the_tested_python() -> None:
    project = _project()
    assert "airflow-provider" in project["keywords"]
    classifiers = project["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)


def test_changelog_has_the_current_version() -> None:
    from airflow_provider_baas import __version__

    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_testing_extra_is_pytest_only_and_dev_builds_on_it() -> None:
    extras = _project()["optional-dependencies"]
    assert [req.split(">")[0] for req in extras["testing"]] == ["pytest"]
    assert "airflow-provider-baas[testing]" in extras["dev"]


def test_runtime_floors_are_not_below_what_the_tests_install() -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement

    for spec in _project()["dependencies"]:
        req = Requirement(spec)
        assert req.specifier.contains(version(req.name)), spec
        assert req.specifier, f"{req.name} has no floor"
