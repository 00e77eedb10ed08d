"""The Python sample of docs/restores.md runs against the simulator (baas_default, teradata_default)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "restores.md"
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_sample_creates_one_restore(baas_restore_connections, capsys):
    assert len(SAMPLES) == 2
    exec(compile(SAMPLES[0], "docs/restores.md", "exec"), {"__name__": "restores_doc"})
    (restore,) = baas_restore_connections.restores()
    assert restore["name"].startswith("fix-customers-from-")
    assert restore["job_settings"]["run_as_a_copy_job"] is True
    assert capsys.readouterr().out.strip().splitlines()[-1] == restore["status"]


def test_the_operator_sample_restores_two_tables_into_the_dr_site(baas_restore_connections, monkeypatch):
    from airflow_provider_baas.testing.pytest_plugin import use_teradata_connection

    use_teradata_connection(baas_restore_connections, monkeypatch, "teradata_restore")
    namespace: dict = {"__name__": "restores_doc_operator"}
    exec(compile(SAMPLES[1], "docs/restores.md", "exec"), namespace)
    op = namespace["restore"]
    op.deferrable = False  # the sample defers; here the same wait runs in the test's process
    op.poll_interval = 0.2
    record = op.execute({})
    (restore,) = baas_restore_connections.restores()
    assert record["status"] == "SUCCESSFUL" and restore["target_site"] == "dr-site"
    assert [o["object_name"] for o in restore["job_settings"]["objects"]] == ["ORDERS", "CUSTOMERS"]
    assert restore["job_settings"]["skip_statstics"] is True
