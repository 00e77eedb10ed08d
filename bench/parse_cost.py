"""DAG-parse cost: what importing our operator and sensors adds on top of ``import airflow.sdk``.

Every DAG file that uses a provider pays its imports on every parse. Each sample is a fresh Python
process that imports ``airflow.sdk`` (Airflow 3.x), then one of:

* ours: ``from airflow_provider_baas.operators.baas import BaasExecuteJobOperator`` and
  ``from airflow_provider_baas.sensors.baas import BaasExecutionSensor, BaasBackupFreshnessSensor``
* dbt-cloud: ``from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator``
  (apache-airflow-providers-dbt-cloud, installed only in the bench environment)

and reports the wall time and the modules that second import added. The two cases alternate, and
the medians of ``--runs`` processes each are printed with their ratio. Our package is byte-compiled
first (``compileall``), as pip does for an installed wheel, so both sides load cached bytecode::

    .venv-bench/bin/python bench/parse_cost.py            # 15 processes per case
    .venv-bench/bin/python bench/parse_cost.py --runs 31
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import airflow_provider_baas

CASES = {
    "ours": (
        "from airflow_provider_baas.operators.baas import BaasExecuteJobOperator\n"
        "from airflow_provider_baas.sensors.baas import BaasExecutionSensor, BaasBackupFreshnessSensor\n"
    ),
    "dbt-cloud": "from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator\n",
}

PROBE = """
import sys, time, json
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
before = set(sys.modules)
exec(compile({code!r}, "<case>", "exec"))
t2 = time.perf_counter()
added = sorted(set(sys.modules) - before)
print(json.dumps({{"base_ms": 1000 * (t1 - t0), "extra_ms": 1000 * (t2 - t1), "modules": added}}))
"""


def sample(case: str, env: dict[str, str]) -> dict:
    code = PROBE.format(code=CASES[case])
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{case}: import failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per case (>= 15)")
    args = parser.parse_args()

    package = Path(airflow_provider_baas.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    home = tempfile.mkdtemp(prefix="baas-parse-cost-")
    env = dict(os.environ, AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False")

    samples: dict[str, list[dict]] = {case: [] for case in CASES}
    t0 = time.monotonic()
    for _ in range(args.runs):
        for case in CASES:  # alternate, so drift on a shared machine hits both alike
            samples[case].append(sample(case, env))

    print(
        f"import cost on top of `import airflow.sdk`: median of {args.runs} fresh processes per case "
        f"({time.monotonic() - t0:.0f} s)"
    )
    base = statistics.median(s["base_ms"] for ss in samples.values() for s in ss)
    print(f"  import airflow.sdk itself: {base:.0f} ms (median of all {2 * args.runs} processes)")
    medians = {}
    for case, ss in samples.items():
        ms = statistics.median(s["extra_ms"] for s in ss)
        mods = statistics.median(len(s["modules"]) for s in ss)
        lo, hi = min(s["extra_ms"] for s in ss), max(s["extra_ms"] for s in ss)
        medians[case] = (ms, mods)
        print(f"  {case:10s} +{ms:7.1f} ms (min {lo:.1f}, max {hi:.1f})  +{mods:.0f} modules")
    ours_mods = samples["ours"][0]["modules"]
    print("  modules ours adds: " + ", ".join(ours_mods))
    ratio = medians["ours"][0] / medians["dbt-cloud"][0]
    mod_ratio = medians["ours"][1] / medians["dbt-cloud"][1]
    print(f"  ours/dbt-cloud: time {ratio:.3f}x, modules {mod_ratio:.3f}x")
    print()
    for text, ok in (
        (f"extra import {medians['ours'][0]:.1f} ms <= 15 ms", medians["ours"][0] <= 15),
        (f"extra import ours/dbt-cloud {ratio:.3f} <= 0.333", ratio <= 1 / 3),
    ):
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
