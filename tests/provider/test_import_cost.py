"""Importing the package (as Airflow's provider discovery does) must stay cheap and warning-free."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_provider_baas

HEAVY = ("requests", "aiohttp", "httpx", "jwt", "cryptography")


def _run(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_package_loads_no_http_or_crypto_library() -> None:
    loaded = _run(
        "import json, sys\n"
        "import airflow_provider_baas\n"
        "airflow_provider_baas.get_provider_info()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    assert loaded == []


def test_our_modules_raise_no_deprecation_warning() -> None:
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(airflow_provider_baas.__path__, "airflow_provider_baas.")
        if not m.name.endswith("__main__")
    )
    assert "airflow_provider_baas.hooks.baas" in modules
    found = _run(
        "import json, warnings, importlib\n"
        "import airflow\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    for m in {modules!r}: importlib.import_module(m)\n"
        "ours = [f'{w.category.__name__}: {w.message} ({w.filename})' for w in caught\n"
        "        if 'airflow_provider_baas' in w.filename]\n"
        "print(json.dumps(ours))\n"
    )
    assert found == []
