"""README.md and docs/usage.md as a user reads them: every Python sample runs.

Samples whose first line is a path comment (``# dags/nightly_backup.py``) are files of a user's
project: they are written to those paths in a fresh directory and that project's tests run with
pytest in a child process, through the installed pytest plugin, as a user would run them. The
other samples run in this process; those defining ``test_*`` functions are run as tests.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.testing import BaasSimulator

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "docs" / "usage.md"]
PROJECT_FILE = re.compile(r"# ((?:dags|tests)/[\w/]+\.py)\n")


def python_samples(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def project_files(path: Path = README) -> dict[str, str]:
    """{relative path: text} of the samples that start with a path comment."""
    files = {}
    for sample in python_samples(path):
        match = PROJECT_FILE.match(sample)
        if match:
            files[match.group(1)] = sample
    return files


SAMPLES = [
    (f"{path.name} sample {i}", sample)
    for path in DOCUMENTS
    for i, sample in enumerate(python_samples(path))
    if not PROJECT_FILE.match(sample)
]


def test_documents_have_python_samples() -> None:
    assert len(python_samples(README)) >= 5 and len(python_samples(DOCUMENTS[1])) >= 2


@pytest.mark.parametrize(("name", "sample"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_sample_runs(name: str, sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for env_name in list(os.environ):
        if env_name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(env_name)
    namespace: dict = {"__name__": name.replace(" ", "_").replace(".", "_")}
    exec(compile(sample, name, "exec"), namespace)
    tests = [f for key, f in namespace.items() if key.startswith("test_") and callable(f)]
    for test in tests:
        with BaasSimulator(time_scale=3600) as sim:
            env_name, value = sim.airflow_conn_env()
            monkeypatch.setenv(env_name, value)
            assert list(inspect.signature(test).parameters) == ["baas_connection"]
            test(sim)


def test_the_minimal_dag_comes_first_and_its_test_is_in_the_readme() -> None:
    text = README.read_text()
    first_screen = text.split("\n## The connection", 1)[0]
    assert "pip install airflow-provider-baas\n" in first_screen
    assert "make demo" in first_screen and "make test" in first_screen
    assert "```python\n# dags/nightly_backup.py\n" in first_screen
    assert set(project_files()) == {"dags/nightly_backup.py", "tests/test_nightly_backup.py"}


@pytest.mark.dag
def test_the_minimal_dag_runs_under_the_readme_recipe(tmp_path: Path) -> None:
    """The README's DAG and its test, as a user's project: pytest (in a child process, with this
    suite's Airflow settings still in its environment) runs the DAG with deferral, one backup."""
    for relative, text in project_files().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout[-2000:]


def test_every_readme_link_is_absolute() -> None:
    # A package index shows the README without the repository: a relative link or image is dead.
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert targets and [t for t in targets if not t.startswith("https://")] == []


def test_the_connection_is_documented_once() -> None:
    text = README.read_text()
    assert text.count("| form field | stored as |") == 1
    for setting in ("site_id", "auth_mode", "private_key", "console_url", "headers", "proxies"):
        # one row whose "stored as" cell is the setting
        assert len(re.findall(rf"^\|[^|]*\| `{setting}` \|", text, flags=re.M)) == 1, setting


def test_the_install_commands_name_the_built_wheel() -> None:
    from airflow_provider_baas import __version__

    wheel = f"dist/airflow_provider_baas-{__version__}-py3-none-any.whl"
    assert f"pip install {wheel}\n" in README.read_text()
    assert f'pip install "{wheel}[testing]"' in README.read_text()


def test_connection_samples_parse_into_the_documented_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.connection import Connection

    for _, sample in SAMPLES:
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
