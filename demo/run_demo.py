"""`make demo`: the pre-ETL example pipeline, end to end, against the embedded BaaS simulator.

1. starts the simulator (demo scenario) in its own process, 2. points AIRFLOW_CONN_BAAS_DEFAULT
at it, 3. runs `airflow dags test example_baas_pre_etl_gate` (the gate is deferrable: its trigger
runs in line and logs each poll), 4. prints a short summary, 5. stops the simulator.
Exits non-zero if anything failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "example_baas_pre_etl_gate"
JOB_NAME = "daily_warehouse_backup"
TIME_SCALE = "900"  # the 2-hour warehouse backup takes 8 s


def airflow_env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY="True",
        BAAS_EXAMPLE_POLL_INTERVAL="2",
    )
    return env


def start_simulator() -> tuple[subprocess.Popen[str], str, str]:
    cmd = [sys.executable, "-m", "airflow_provider_baas.testing", "--port", "0", "--time-scale", TIME_SCALE]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    url = conn = ""
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline and not (url and conn):
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            url = line.rsplit(" ", 1)[-1].strip()
        elif line.startswith("AIRFLOW_CONN_BAAS_DEFAULT="):
            conn = line.split("=", 1)[1].strip().strip("'")
    if not (url and conn):
        proc.kill()
        sys.exit("demo: the BaaS simulator did not start")
    return proc, url, conn


def run(cmd: list[str], env: dict[str, str], quiet: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, text=True, capture_output=quiet, timeout=300)


def stream_dags_test(airflow: str, env: dict[str, str]) -> int:
    """Run the DAG, showing the provider's own progress lines (all output on failure)."""
    proc = subprocess.Popen(
        [airflow, "dags", "test", DAG_ID],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if (shown := progress_line(line)) is not None:
            print("  " + shown, flush=True)
    code = proc.wait(timeout=300)
    if code != 0:
        print("".join(lines[-80:]))
    return code


def progress_line(line: str) -> str | None:
    """The readable part of a log line worth showing: the provider's own and task starts."""
    if "[DAG TEST] running task" in line and f"{DAG_ID}." in line:
        return "task " + line.split(f"{DAG_ID}.", 1)[1].split(" ", 1)[0]
    if "BaaS" in line and "] " in line:
        return line.split("] ", 1)[1].split(" [airflow", 1)[0].strip()
    return None


def summary(env: dict[str, str]) -> bool:
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "BAAS"))})
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    from airflow_provider_baas.hooks.baas import BaasHook

    with create_session() as session:
        dag_run = session.query(DagRun).filter(DagRun.dag_id == DAG_ID).order_by(DagRun.id.desc()).first()
        if dag_run is None:
            print("demo: no DAG run found")
            return False
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id
        )
        states = {ti.task_id: str(ti.state) for ti in tis}
        run_state = str(dag_run.state)
    hook = BaasHook()
    job = hook.find_job_by_name(JOB_NAME)
    newest = max(
        hook.list_job_executions(job.job_id), key=lambda e: e.start_time.timestamp() if e.start_time else 0
    )
    duration = newest.duration_seconds or 0
    print("\n================ BaaS demo summary ================")
    print(f"DAG run      : {DAG_ID}: {run_state}")
    print(f"Job          : {job.name} (id {job.job_id}, site {hook.resolve_site_id()})")
    print(f"Execution    : {newest.execution_id}: {newest.status}")
    print(f"Duration     : {duration / 3600:.1f} h of BaaS time ({duration / float(TIME_SCALE):.0f} s here)")
    print(f"Backup size  : {(newest.backup_set_size or 0) / 1e9:,.0f} GB")
    for task_id, state in states.items():
        print(f"Task         : {task_id:<28} {state}")
    print("===================================================")
    ok = run_state == "success" and newest.status == "SUCCESSFUL"
    return ok and all(state == "success" for state in states.values())


def main() -> int:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with tempfile.TemporaryDirectory(prefix="baas-demo-") as home:
        env = airflow_env(home)
        print("demo: preparing a throw-away Airflow home ...", flush=True)
        if run([airflow, "db", "migrate"], env, quiet=True).returncode != 0:
            sys.exit("demo: airflow db migrate failed")
        proc, url, conn = start_simulator()
        print(f"demo: BaaS simulator at {url} (demo scenario, time x{TIME_SCALE})", flush=True)
        env["AIRFLOW_CONN_BAAS_DEFAULT"] = conn
        try:
            ok = stream_dags_test(airflow, env) == 0 and summary(env)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    print("demo: OK" if ok else "demo: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
