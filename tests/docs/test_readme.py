"""Every Python sample in README.md runs (samples defining test_* functions are run as tests)."""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

import pytest

from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.testing import BaasSimulator

README = Path(__file__).resolve().parents[2] / "README.md"
SAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_readme_sample_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(name)
    namespace: dict = {"__name__": f"readme_sample_{index}"}
    exec(compile(SAMPLES[index], f"README.md sample {index}", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    for test in tests:
        with BaasSimulator(time_scale=3600) as sim:
            env_name, value = sim.airflow_conn_env()
            monkeypatch.setenv(env_name, value)
            assert list(inspect.signature(test).parameters) == ["baas_connection"]
            test(sim)


def test_connection_samples_parse_into_the_documented_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.connection import Connection

    for sample in SAMPLES:
        if "AIRFLOW_CONN_BAAS" in sample:
            exec(compile(sample, "README.md", "exec"), {})
    token = Connection(conn_id="baas_default", **_conn_kwargs(os.environ.pop("AIRFLOW_CONN_BAAS_DEFAULT")))
    config = BaasConnectionConfig.from_connection(token)
    assert config.base_url == "https://baas.example.com/data-protection/v2"
    assert (config.site_id, config.read_timeout, config.auth_mode) == ("prod-site", 60.0, "token")
    pat = Connection(conn_id="baas_pat", **_conn_kwargs(os.environ.pop("AIRFLOW_CONN_BAAS_PAT")))
    extra = json.loads(pat.extra)
    assert extra["auth_mode"] == "pat" and extra["org_claim_name"] == "org_key"
    assert pat.host == "baas.example.com/custom-prefix"


def test_uri_form_in_readme_gives_https_and_the_site(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.connection import Connection

    uri = re.search(r"AIRFLOW_CONN_BAAS_DEFAULT='(baas://[^']+)'", README.read_text()).group(1)
    config = BaasConnectionConfig.from_connection(Connection(conn_id="baas_default", uri=uri))
    assert config.base_url == "https://baas.example.com/data-protection/v2"
    assert config.site_id == "prod-site" and config.token == "my-api-token"


def _conn_kwargs(value: str) -> dict:
    data = json.loads(value)
    return {
        "conn_type": data["conn_type"],
        "host": data.get("host"),
        "password": data.get("password"),
        "extra": json.dumps(data.get("extra", {})),
    }
