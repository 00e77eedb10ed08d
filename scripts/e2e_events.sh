#!/usr/bin/env bash
# make e2e-events: the asset watcher on a real Airflow 3.3 deployment, with a triggerer crash.
#
# Scheduler, DAG processor, triggerer and API server run as separate processes (LocalExecutor,
# sqlite) from .venv; the BaaS simulator runs job 34 on its own schedule (--run-schedules: a
# backup every 20 s, 3 s long; nobody calls execute). The DAG example_baas_etl_after_baas_backup
# is scheduled on baas_backup_asset(..., 34). Checked:
#   - no backup that had ended before the triggerer started is reported (no flood on deploy);
#   - every backup that ended after the watcher's first read creates exactly one asset event and
#     exactly one DAG run, and no execution is reported twice;
#   - the triggerer is SIGKILLed; a backup ends while it is down; the restarted triggerer reports
#     it (watermark in the asset state store) and nothing it had reported before.
# Every process is stopped afterwards, whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${E2E_PYTHON:-$ROOT/.venv/bin/python}"
AIRFLOW="$(dirname "$PY")/airflow"
QUERY="$ROOT/scripts/e2e_events_query.py"
DAG_FILE=example_baas_after_scheduled_backup
DAG_ID=example_baas_etl_after_baas_backup
TIME_SCALE="${E2E_TIME_SCALE:-180}"  # hourly backups of 10 min: one every 20 s, 3.3 s long
STARTED_AT=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/baas-e2e-events-XXXXXX")"
E2E_NAME=e2e-events
# shellcheck source=scripts/e2e_lib.sh
source "$ROOT/scripts/e2e_lib.sh"

# What the simulator ran and what Airflow stored (scripts/e2e_events_query.py).
executions() { "$PY" "$QUERY" executions "$SIM_BASE" "$SIM_TOKEN"; }
ended_ok() { executions | "$PY" -c 'import json, sys; print(" ".join(str(e["id"]) for e in json.load(sys.stdin) if e["ended"] and e["status"] == "SUCCESSFUL"))'; }
max_id() { executions | "$PY" -c 'import json, sys; print(max([e["id"] for e in json.load(sys.stdin)] or [0]))'; }
fired_json() { "$PY" "$QUERY" fired "$WORK/airflow.db"; }
fired_ids() { fired_json | "$PY" -c 'import json, sys; print(" ".join(str(e["execution_id"]) for e in json.load(sys.stdin)["events"]))'; }
fired_count() { local ids; ids="$(fired_ids)"; wc -w <<<"$ids"; }
fired_at_least() { [ "$(fired_count)" -ge "$1" ]; }
contains_all() { local have=" $(fired_ids) "; for id in $1; do [[ "$have" == *" $id "* ]] || return 1; done; }
watcher_reads() { grep -c '^GET .*/jobs/34 -> 200' "$LOGS/simulator.log" || true; }
watcher_read_since() { [ "$(watcher_reads)" -gt "$1" ]; }
# ended_ok_from ID: ids of the successful ended executions from ID on.
ended_ok_from() { local id; for id in $(ended_ok); do if [ "$id" -ge "$1" ]; then echo "$id"; fi; done | tr '\n' ' '; }
ended_after() { [ -n "$(ended_ok_from "$(($1 + 1))")" ]; }
# runs_done CUTOFF: every reported execution up to CUTOFF has a DAG run that ended.
runs_done() { fired_json | "$PY" -c '
import json, sys
events = [e for e in json.load(sys.stdin)["events"] if e["execution_id"] <= int(sys.argv[1])]
sys.exit(0 if events and all(e["runs"] and e["runs"][0] in ("success", "failed") for e in events) else 1)' "$1"; }

cat >"$WORK/scenario.json" <<'JSON'
{"sites": [{"site_id": "demo-site", "jobs": [
  {"job_id": 34, "name": "daily_warehouse_backup", "duration": 600, "backup_size": 850000000000,
   "schedule_interval": 3600, "history": 3, "history_interval": 3600}
]}]}
JSON

API_PORT="$(free_port)"
cp "$ROOT/example_dags/$DAG_FILE.py" "$WORK/dags/"
airflow_env "$API_PORT"
export BAAS_EXAMPLE_POLL_INTERVAL=1

say "Airflow $("$AIRFLOW" version 2>/dev/null | tail -n 1) in $WORK"
"$AIRFLOW" db migrate >"$LOGS/db-migrate.log" 2>&1

start_simulator --time-scale "$TIME_SCALE" --scenario "$WORK/scenario.json" --run-schedules
SIM_BASE="$(sed -n 's/^# base URL \([^,]*\),.*/\1/p' "$LOGS/simulator.log")"
SIM_TOKEN="$("$PY" -c 'import json, os; print(json.loads(os.environ["AIRFLOW_CONN_BAAS_DEFAULT"])["password"])')"
say "the simulator runs job 34 on its own schedule"

start api-server "$AIRFLOW" api-server --port "$API_PORT"
start scheduler "$AIRFLOW" scheduler
start dag-processor "$AIRFLOW" dag-processor
wait_for 120 "the API server" curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health"
wait_for 120 "the DAG to be parsed" "$AIRFLOW" dags unpause "$DAG_ID"

# Everything that has ended before the triggerer starts is old: it must never be reported.
OLD="$(ended_ok)"
start triggerer "$AIRFLOW" triggerer
TRIGGERER=$PGID
say "old backups (ended before the triggerer started): $OLD"
wait_for 120 "the watcher's first read" watcher_read_since 0
FIRST_NEW=$(($(max_id) + 1))  # executions from this id on start after the watcher's first read
say "watching; every backup from execution $FIRST_NEW on must create one DAG run"

wait_for 120 "two backups reported" fired_at_least 2
say "reported so far: $(fired_ids); killing the triggerer (SIGKILL, whole process group)"
kill_sessions KILL "$TRIGGERER"
BEFORE_CRASH="$(fired_ids)"
LAST_SEEN=$(max_id)
wait_for 60 "a backup that ends while the triggerer is down" ended_after "$LAST_SEEN"
DURING_DOWNTIME="$(ended_ok_from $((LAST_SEEN + 1)))"
[ -z "$(comm -12 <(tr ' ' '\n' <<<"$DURING_DOWNTIME" | sort) <(tr ' ' '\n' <<<"$(fired_ids)" | sort) | tr -d '\n')" ] \
    || { say "a backup was reported without a triggerer"; exit 1; }
start triggerer-restarted "$AIRFLOW" triggerer
say "ended while the triggerer was down: $DURING_DOWNTIME; triggerer restarted"
wait_for 120 "the restarted triggerer to report them" contains_all "$DURING_DOWNTIME"
LAST_DOWN=$(tr ' ' '\n' <<<"$DURING_DOWNTIME" | sort -n | tail -n 1)
wait_for 60 "one more backup after the restart" ended_after "$LAST_DOWN"
AFTER="$(ended_ok_from $((LAST_DOWN + 1)))"
wait_for 60 "the backup after the restart to be reported" contains_all "$AFTER"
# The simulator goes on running backups: judge those up to the last one waited for.
CUTOFF=$(tr ' ' '\n' <<<"$AFTER" | sort -n | tail -n 1)
EXPECTED="$(for id in $(ended_ok_from "$FIRST_NEW"); do if [ "$id" -le "$CUTOFF" ]; then echo "$id"; fi; done)"
wait_for 120 "the DAG runs of backups up to $CUTOFF to end" runs_done "$CUTOFF"

REPORT="$(fired_json)"
"$PY" - "$REPORT" "$CUTOFF" "$OLD" "$EXPECTED" "$BEFORE_CRASH" <<'PY'
import json
import sys

report, cutoff = json.loads(sys.argv[1]), int(sys.argv[2])
old, expected, before_crash = (set(map(int, a.split())) for a in sys.argv[3:])
fired = [e["execution_id"] for e in report["events"]]
problems = []
if len(fired) != len(set(fired)):
    problems.append(f"an execution was reported twice: {sorted(fired)}")
if old & set(fired):
    problems.append(f"backups that ended before the triggerer started were reported: {sorted(old & set(fired))}")
if missing := expected - set(fired):
    problems.append(f"backups that ended while watched were not reported: {sorted(missing)}")
for event in report["events"]:
    # up to the cutoff: exactly one run, ended; later ones: at most one run, maybe still going
    allowed = [["success"]] if event["execution_id"] <= cutoff else [[], ["success"], ["running"], ["queued"]]
    if event["runs"] not in allowed:
        problems.append(f"execution {event['execution_id']}: DAG runs {event['runs']} (want exactly one, success)")
if len(report["runs"]) > len(fired):
    problems.append(f"{len(report['runs'])} DAG runs for {len(fired)} backups")
if not report["watermarks"]:
    problems.append("no watermark in the asset state store")
print(f"e2e-events: reported {sorted(fired)}; before the crash {sorted(before_crash)}; "
      f"DAG runs {len(report['runs'])}; watermark {list(report['watermarks'].values())}")
if problems:
    print("e2e-events: " + "\ne2e-events: ".join(problems))
    sys.exit(1)
PY
say "OK in $((SECONDS - STARTED_AT))s: one DAG run per backup BaaS ran, none twice, none old, through a triggerer SIGKILL"
