"""Queries of make e2e-events: what the simulator ran, what Airflow stored. Prints JSON.

``executions BASE_URL TOKEN``: the job's executions (id, status, ended) as the simulator lists them.
``fired DB``: the watcher's asset events (execution id per event) and the DAG runs each one created.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import urllib.request

SITE, JOB = "demo-site", 34
CONSUMER = "example_baas_etl_after_baas_backup"


def executions(base_url: str, token: str) -> list[dict]:
    request = urllib.request.Request(
        f"{base_url}/sites/{SITE}/jobs/{JOB}/executions?page=1&page-size=1000",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        rows = json.load(answer)
    return [
        {"id": int(r["execution_id"]), "status": r["status"], "ended": r["end_time"] is not None}
        for r in rows
    ]


def fired(db: str) -> dict:
    with sqlite3.connect(db, timeout=30) as conn:
        events = conn.execute("select id, extra from asset_event").fetchall()
        links = conn.execute(
            "select e.event_id, r.state from dagrun_asset_event e join dag_run r on r.id = e.dag_run_id "
            "where r.dag_id = ?",
            (CONSUMER,),
        ).fetchall()
        runs = conn.execute("select state from dag_run where dag_id = ?", (CONSUMER,)).fetchall()
        stores = conn.execute("select key, value from asset_state_store").fetchall()
    out: list[dict] = []
    for event_id, extra in events:
        payload = (json.loads(extra) if extra else {}).get("payload") or {}
        if payload.get("job_id") == str(JOB):
            states = [state for linked, state in links if linked == event_id]
            out.append({"execution_id": int(payload["execution_id"]), "runs": states})
    return {
        "events": out,
        "runs": [state for (state,) in runs],
        "watermarks": {key: json.loads(value) for key, value in stores},
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    result = executions(*args) if command == "executions" else fired(*args)
    print(json.dumps(result))
