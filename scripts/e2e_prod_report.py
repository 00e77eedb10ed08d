"""Helpers of make e2e-prod (scripts/e2e_prod.sh) that need Python: the scenario, the DAG runs, the
Variable naming check on PostgreSQL, and the final verdict.

``scenario FILE RUNS``: the simulator's scenario: the warehouse job of the gate (stale: its last
backup ended two days ago) and ten jobs per DAG run (``job_of(run, slot)``).
``trigger RUNS``: creates the DAG runs, each naming its ten jobs in its conf (needs Airflow's env).
``variable-names``: on this deployment's database, the reattach Variable of the longest task
instance of the DAG: its raw name is refused, the name ``reattach.variable_name`` gives is stored.
``executions BASE_URL TOKEN JOB``: the ids of the job's executions, as a JSON list.
``report EVENTS_FILE RUNS BASE_URL TOKEN LOGS``: every check, and the summary; exit 1 when one fails.
LOGS is Airflow's task log folder: the task logs tell how often each task instance deferred and
resumed; the trigger logs (``attempt=N.log.trigger.<triggerer job>.log``) which triggerers ran it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

SITE = "demo-site"
GATE_JOB = 34
FIRST_JOB = 1000
SLOTS = 10
RUN_ID_PAD = "_run_id_of_a_production_shaped_deployment_test"


def job_of(run: int, slot: int) -> int:
    """The job of mapped slot ``slot`` (0-9) in DAG run ``run`` (1-20)."""
    return FIRST_JOB + (run - 1) * SLOTS + slot


def run_id(run: int) -> str:
    return f"e2e_prod_{run:02d}{RUN_ID_PAD}"


def scenario(path: str, runs: int) -> None:
    hour = 3600
    jobs = [
        {
            "job_id": GATE_JOB,
            "name": "daily_warehouse_backup",
            "duration": 4 * hour,
            "history": [{"ended_ago": 2 * 24 * hour, "duration": 4 * hour}],
        }
    ]
    for run in range(1, runs + 1):
        for slot in range(SLOTS):
            job = job_of(run, slot)
            # 2.5 to 4 BaaS hours: the waits end over a minute and a half, not all at once
            jobs.append({"job_id": job, "name": f"backup_{job}", "duration": (150 + 10 * slot) * 60})
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"sites": [{"site_id": SITE, "jobs": jobs}]}, out)


def trigger(runs: int) -> None:
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    sys.path.insert(0, os.path.dirname(__file__))
    from e2e_prod_dag import DAG_ID

    for run in range(1, runs + 1):
        jobs = [job_of(run, slot) for slot in range(SLOTS)]
        trigger_dag(DAG_ID, triggered_by=DagRunTriggeredByType.CLI, run_id=run_id(run), conf={"jobs": jobs})
    print(f"triggered {runs} runs of {DAG_ID[:40]}... ({len(DAG_ID)} characters)")


def variable_names(runs: int) -> None:
    """The 2.11/3.0-3.2 reattach memory's name against a real PostgreSQL ``variable.key`` column."""
    from airflow.models.variable import Variable
    from sqlalchemy.exc import DataError

    from airflow_provider_baas.reattach import VARIABLE_PREFIX, variable_name

    sys.path.insert(0, os.path.dirname(__file__))
    from e2e_prod_dag import BACKUP_TASK_ID, DAG_ID

    raw = ".".join([VARIABLE_PREFIX, DAG_ID, BACKUP_TASK_ID, run_id(runs), str(SLOTS - 1)])
    name = variable_name(DAG_ID, BACKUP_TASK_ID, run_id(runs), SLOTS - 1)
    try:
        Variable.set(raw, {"probe": 1}, serialize_json=True)
    except DataError:
        refused = True
    else:
        refused = False
    Variable.set(name, {"baas_execution": {"execution_id": "1"}}, serialize_json=True)
    stored = Variable.get(name, deserialize_json=True)
    Variable.delete(name)
    print(
        f"Variable naming on PostgreSQL: raw name {len(raw)} characters "
        f"{'refused' if refused else 'ACCEPTED (the limit is not enforced?)'}; "
        f"reattach.variable_name gives {len(name)} characters, stored and read back: "
        f"{stored == {'baas_execution': {'execution_id': '1'}}}"
    )
    if not refused or len(name) > 250 or stored != {"baas_execution": {"execution_id": "1"}}:
        sys.exit(1)


def _executions(base_url: str, token: str) -> list[dict]:
    request = urllib.request.Request(
        f"{base_url}/sites/{SITE}/executions", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def job_executions(base_url: str, token: str, job: int) -> list[str]:
    return sorted(str(e["execution_id"]) for e in _executions(base_url, token) if int(e["job_id"]) == job)


def _rows(query: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(os.environ["E2E_PG_DSN"]) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def task_logs(logs: str) -> dict[str, dict]:
    """Per deferred task instance (its log folder, all tries): how often it deferred, how often it
    resumed with a trigger's event, and which triggerers (job ids) ran its trigger."""
    out: dict[str, dict] = defaultdict(lambda: {"deferrals": 0, "resumes": 0, "triggerers": set()})
    for path in Path(logs).rglob("attempt=*.log*"):
        ti = out[str(path.parent.relative_to(logs))]
        if (match := re.search(r"\.trigger\.(\d+)\.log$", path.name)) is not None:
            ti["triggerers"].add(int(match.group(1)))
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        ti["deferrals"] += text.count('"event":"Pausing task as DEFERRED.')
        # the provider's own line when a resumed task concludes the wait (execute_complete)
        ti["resumes"] += len(re.findall(r'"event":"BaaS execution \d+ of job \d+ finished with status', text))
    return {ti: info for ti, info in out.items() if info["deferrals"] or info["triggerers"]}


def report(events_file: str, runs: int, base_url: str, token: str, logs: str) -> None:
    lines = Path(events_file).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    started_at = next(e["at"] for e in events if e["what"] == "start")
    ended_at = next(e["at"] for e in reversed(events) if e["what"] == "end")
    before = set(next(e["gate_executions"] for e in events if e["what"] == "start"))
    problems: list[str] = []

    dag_runs = dict(_rows("select run_id, state from dag_run"))
    tis = _rows("select run_id, task_id, map_index, state, try_number, hostname from task_instance")
    xcoms = {
        (r, m): v
        for r, t, m, v in _rows(
            "select run_id, task_id, map_index, value from xcom where key = 'return_value'"
        )
    }
    by_job: dict[int, list[str]] = defaultdict(list)
    for e in _executions(base_url, token):
        by_job[int(e["job_id"])].append(str(e["execution_id"]))

    expected_runs = {run_id(k) for k in range(1, runs + 1)}
    if set(dag_runs) != expected_runs:
        problems.append(f"DAG runs {sorted(dag_runs)} are not the {runs} triggered")
    failed_runs = sorted(r for r, s in dag_runs.items() if s != "success")
    if failed_runs:
        problems.append(f"DAG runs not successful: {failed_runs}")
    not_done = [t for t in tis if t[3] != "success"]
    if not_done:
        problems.append(f"{len(not_done)} task instances lost or stuck: {not_done[:5]}")

    sys.path.insert(0, os.path.dirname(__file__))
    from e2e_prod_dag import BACKUP_TASK_ID

    per_ti: dict[tuple[str, int], int] = {}
    for k in range(1, runs + 1):
        for slot in range(SLOTS):
            job = job_of(k, slot)
            ids = by_job.get(job, [])
            per_ti[(run_id(k), slot)] = len(ids)
            record = xcoms.get((run_id(k), slot))
            if len(ids) == 1 and (not isinstance(record, dict) or str(record.get("execution_id")) != ids[0]):
                problems.append(f"run {k} slot {slot}: returned {record!r}, BaaS ran {ids}")
    mapped = [t for t in tis if t[1] == BACKUP_TASK_ID]
    if len(mapped) != runs * SLOTS:
        problems.append(f"{len(mapped)} mapped task instances, want {runs * SLOTS}")
    gate_new = sorted(set(by_job.get(GATE_JOB, [])) - before)
    duplicates = sum(max(0, n - 1) for n in per_ti.values()) + max(0, len(gate_new) - 1)
    never = [key for key, n in per_ti.items() if n == 0]
    if duplicates:
        problems.append(f"{duplicates} duplicate executions: {Counter(per_ti.values())}, gate job {gate_new}")
    if never:
        problems.append(f"{len(never)} task instances without an execution: {never[:5]}")
    if len(gate_new) != 1:
        problems.append(f"the 20 gates ran {len(gate_new)} warehouse backups, want exactly 1: {gate_new}")

    failed_tries = _rows(
        "select run_id, task_id, map_index, try_number, hostname, state from task_instance_history"
    )
    retried = sorted(
        f"run {r[-len(RUN_ID_PAD) - 2 :][:2]} {t[:16]}... [{m}] try {n} on {h}: {st}"
        for r, t, m, n, h, st in failed_tries
    )
    triggerers = dict(_rows("select id, hostname from job where job_type = 'TriggererJob'"))
    by_ti = task_logs(logs)
    fired = Counter(info["resumes"] for info in by_ti.values())
    moved = Counter(
        " and ".join(sorted(triggerers.get(j, str(j)) for j in info["triggerers"]))
        for info in by_ti.values()
        if len(info["triggerers"]) > 1
    )
    deferred_mapped = sum(1 for ti in by_ti if f"task_id={BACKUP_TASK_ID}/" in ti + "/")
    if set(fired) != {1} or any(info["deferrals"] != 1 for info in by_ti.values()):
        problems.append(
            f"resumes per deferred task instance: {dict(fired)}, deferrals: "
            f"{dict(Counter(i['deferrals'] for i in by_ti.values()))} (want 1 each)"
        )
    if deferred_mapped != runs * SLOTS:
        problems.append(f"{deferred_mapped} mapped task instances deferred, want {runs * SLOTS}")
    if not moved:
        problems.append("no trigger was taken over by the other triggerer")
    for e in events:
        problems.extend(e.get("problems", []))

    counts = Counter(per_ti.values())
    print("e2e-prod: ---- summary ----")
    print(f"e2e-prod: DAG runs: {len(dag_runs)}; states {dict(Counter(dag_runs.values()))}")
    for r in sorted(dag_runs):
        print(f"e2e-prod:   {r[:11]}...  {dag_runs[r]}")
    print(
        f"e2e-prod: task instances: {len(tis)} ({dict(Counter(t[3] for t in tis))}); "
        f"by host: {dict(Counter(t[5] for t in tis))}"
    )
    print(
        f"e2e-prod: executions per mapped task instance ({len(per_ti)}): "
        f"{dict(sorted(counts.items()))} (count of TIs per number of executions; must all be 1)"
    )
    print(f"e2e-prod: the {runs} gates shared {len(gate_new)} warehouse backup(s): {gate_new}")
    print(f"e2e-prod: duplicate executions: {duplicates}; task instances lost or stuck: {len(not_done)}")
    print(
        f"e2e-prod: deferred task instances: {sum(fired.values())}; resumed with an event (times: TIs): "
        f"{dict(fired)} (must all be 1); triggers that ran on both triggerers: {dict(moved)}"
    )
    print(f"e2e-prod: tries that did not end the task instance ({len(retried)}):")
    for line in retried:
        print(f"e2e-prod:   {line}")
    print(f"e2e-prod: wall time: {ended_at - started_at:.0f} s from the first DAG run to the last one's end")
    for e in events:
        if e["what"] not in ("start", "end"):
            print(f"e2e-prod: T+{e['at'] - started_at:5.0f}s {e['what']}")
    if problems:
        print("e2e-prod: FAILED:\ne2e-prod:   " + "\ne2e-prod:   ".join(problems))
        sys.exit(1)
    print("e2e-prod: all checks passed")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "scenario":
        scenario(args[0], int(args[1]))
    elif command == "trigger":
        trigger(int(args[0]))
    elif command == "variable-names":
        variable_names(int(args[0]))
    elif command == "executions":
        print(json.dumps(job_executions(args[0], args[1], int(args[2]))))
    elif command == "report":
        report(args[0], int(args[1]), args[2], args[3], args[4])
    else:
        raise SystemExit(f"unknown command {command!r}")
