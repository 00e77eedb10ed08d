"""The provider is discoverable by Airflow and its metadata passes Airflow's own schema."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from airflow_provider_baas import __version__, get_provider_info


def _schema() -> dict:
    return json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())


def test_provider_info_validates_against_installed_airflow_schema() -> None:
    jsonschema.validate(get_provider_info(), _schema())


def test_provider_info_lists_only_importable_modules_and_classes() -> None:
    info = get_provider_info()
    modules = [
        m
        for section in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(section, [])
        for m in entry["python-modules"]
    ]
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
    assert modules, "the provider must list at least the hook module"
    for module in modules:
        importlib.import_module(module)
    for dotted in classes:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


def test_provider_info_names_the_distribution_and_version() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-baas"
    assert info["versions"] == [__version__]
    conn = info["connection-types"][0]
    assert conn["connection-type"] == "baas"
    assert conn["hook-name"] == "Teradata BaaS"
    fields = conn["conn-fields"]
    assert {"site_id", "auth_mode", "personal_access_token", "private_key", "verify"} <= set(fields)
    assert conn["conn-fields"]["personal_access_token"]["schema"]["format"] == "password"
    assert conn["conn-fields"]["private_key"]["schema"]["format"] == "password"
    assert conn["conn-fields"]["auth_mode"]["schema"]["enum"] == ["token", "pat"]
    assert "login" in conn["ui-field-behaviour"]["hidden-fields"]


def _airflow_cli(*args: str) -> str:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    # Airflow 3.0 writes INFO log lines to stdout ahead of the JSON.
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    result = subprocess.run([airflow, *args], capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("providers", "list", "-o", "json"), "airflow-provider-baas"),
        (("providers", "hooks", "-o", "json"), "airflow_provider_baas.hooks.baas.BaasHook"),
    ],
)
def test_airflow_cli_discovers_the_provider(command: tuple[str, ...], expected: str) -> None:
    rows = json.loads(_airflow_cli(*command))
    assert any(expected in json.dumps(row) for row in rows), f"{expected} not in {command} output"


def test_providers_hooks_lists_the_baas_connection_type() -> None:
    rows = json.loads(_airflow_cli("providers", "hooks", "-o", "json"))
    ours = [r for r in rows if "airflow_provider_baas" in json.dumps(r)]
    assert ours and "baas" in json.dumps(ours[0])
