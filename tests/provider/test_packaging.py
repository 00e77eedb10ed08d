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
