"""The Python sample of docs/restores.md runs against the simulator (baas_default, teradata_default)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "restores.md"
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_sample_creates_one_restore(baas_restore_connections, capsys):
    assert len(SAMPLES) == 1
    exec(compile(SAMPLES[0], "docs/restores.md", "exec"), {"__name__": "restores_doc"})
    (restore,) = baas_restore_connections.restores()
    assert restore["name"].startswith("fix-customers-from-")
    assert restore["job_settings"]["run_as_a_copy_job"] is True
    assert capsys.readouterr().out.strip().splitlines()[-1] == restore["status"]
