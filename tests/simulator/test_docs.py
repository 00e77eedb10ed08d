"""Every code sample of docs/simulator.md runs (scripts as scripts, ``# test_*.py`` blocks under pytest)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_baas.testing import Scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(language: str) -> list[str]:
    if not DOC.exists():
        pytest.skip("docs/simulator.md not found")
    return [code for lang, code in BLOCK.findall(DOC.read_text()) if lang == language]


def env(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIRFLOW_CONN_"))},
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


def test_python_scripts_run(tmp_path: Path) -> None:
    scripts = [code for code in blocks("python") if not code.startswith("# test_")]
    assert len(scripts) >= 4
    for code in scripts:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env(tmp_path)
        )
        assert result.returncode == 0, code + result.stderr[-2000:]


def test_pytest_examples_pass(tmp_path: Path) -> None:
    examples = [code for code in blocks("python") if code.startswith("# test_")]
    assert examples
    for code in examples:
        (tmp_path / code.splitlines()[0][2:].strip()).write_text(code)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--strict-markers",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_json_scenario_sample_is_valid() -> None:
    (sample,) = blocks("json")
    scenario = Scenario.from_json(json.loads(sample))
    assert [j.name for j in scenario.sites[0].jobs] == ["nightly", "flaky", "slow_verify", "restore_copy"]
