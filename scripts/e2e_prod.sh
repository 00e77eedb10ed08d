#!/usr/bin/env bash
# make e2e-prod: a production-shaped Airflow 3.3 deployment, with a triggerer and a worker killed.
#
# Throw-away PostgreSQL and Redis (scripts/e2e_services.sh) on loopback ports under a temp
# directory; CeleryExecutor from .venv-prod (constraints/e2e-prod.txt): scheduler, dag-processor,
# api-server, two triggerers, two Celery workers, each in a session of its own; the `baas` connection
# in the database; the BaaS simulator as the endpoint. 20 concurrent runs of scripts/e2e_prod_dag.py
# (the pre-ETL gate, ten mapped deferrable backups, the ETL), with ids long enough that the reattach
# memory's name would exceed Airflow's 250-character key limit.
#   - A worker is SIGKILLed (its whole session: worker, supervisors, task runners) between a task's
#     execute POST and its deferral. Deterministic: the simulator holds that task's first poll (the
#     GET of its job, sent right after the POST's 202) for HOLD seconds, and the kill comes as soon
#     as the POST is in the simulator's request log. The retry must reattach, not POST again.
#   - While triggers wait, the triggerer holding the most is SIGKILLed; the other takes them over.
#   - At the end (scripts/e2e_prod_report.py): every run and task instance succeeded, exactly one
#     BaaS execution per mapped task instance and one warehouse backup for all 20 gates, no task
#     lost or stuck. Exit 1 when any check fails. Every process and the temp directory are removed
#     afterwards, whatever happens (e2e_lib.sh), and ps must show none left.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${E2E_PYTHON:-$ROOT/.venv-prod/bin/python}"
AIRFLOW="$(dirname "$PY")/airflow"
HELPER="$ROOT/scripts/e2e_prod_report.py"
RUNS=20
TIME_SCALE="${E2E_TIME_SCALE:-60}"  # the 2.5-4 h backups take 150-240 s
HOLD=90                              # seconds the simulator holds the target task's first poll
TARGET_RUN=3 TARGET_SLOT=4           # the task instance whose worker is killed
TARGET_JOB=$((1000 + (TARGET_RUN - 1) * 10 + TARGET_SLOT))
STARTED_AT=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/baas-e2e-prod-XXXXXX")"
E2E_NAME=e2e-prod
# shellcheck source=scripts/e2e_lib.sh
source "$ROOT/scripts/e2e_lib.sh"
# shellcheck source=scripts/e2e_services.sh
source "$ROOT/scripts/e2e_services.sh"
EVENTS="$WORK/events.jsonl"

# event WHAT [JSON-FIELDS]: one line of the timeline the report prints.
event() {
    local fields=${2:-}
    [ -n "$fields" ] || fields='{}'
    "$PY" -c 'import json, sys, time; print(json.dumps({"at": time.time(), "what": sys.argv[1], **json.loads(sys.argv[2])}))' \
        "$1" "$fields" >>"$EVENTS"
    say "$1"
}
sql() { psql -h 127.0.0.1 -p "$PG_PORT" -U airflow -d airflow -XAtq -F ' ' -c "$1"; }
posted() { grep -c "^POST .*/jobs/$1/execute -> 202" "$LOGS/simulator.log" || true; }
target_posted() { [ "$(posted "$TARGET_JOB")" -ge 1 ]; }
target_host() {
    sql "select hostname from task_instance where run_id like 'e2e_prod_$(printf %02d "$TARGET_RUN")%' and map_index = $TARGET_SLOT and task_id like 'backup_%'"
}
# triggers_by_host: "HOST COUNT" per triggerer, most first.
triggers_by_host() {
    sql "select j.hostname, count(*) from trigger t join job j on j.id = t.triggerer_id group by j.hostname order by 2 desc"
}
busy_triggerer() { [ "$(triggers_by_host | awk 'NR == 1 { print $2 }')" -ge "${1:-10}" ] 2>/dev/null; }
triggers_of() { sql "select t.id from trigger t join job j on j.id = t.triggerer_id where j.hostname = '$1' order by 1" | tr '\n' ' '; }
# none_left_with HOST IDS: none of these triggers is still assigned to HOST's dead job.
none_left_with() {
    local ids=${2// /,}
    [ "$(sql "select count(*) from trigger t join job j on j.id = t.triggerer_id where j.hostname = '$1' and t.id in (${ids%,})")" = 0 ]
}
moved_to() { local ids=${2// /,}; sql "select count(*) from trigger t join job j on j.id = t.triggerer_id where j.hostname = '$1' and t.id in (${ids%,})"; }
runs_over() { [ "$(sql "select count(*) from dag_run where state in ('success', 'failed')")" = "$RUNS" ]; }
dag_parsed() { [ "$(sql "select count(*) from dag where dag_id like 'e2e_prod_%' and not is_paused")" = 1 ]; }

# start_airflow NAME HOST CMD...: an Airflow process whose hostname (task instances, triggerer jobs) is HOST.
start_airflow() {
    local name=$1 host=$2
    shift 2
    start "$name" env E2E_HOSTNAME="$host" "$AIRFLOW" "$@"
}

PG_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
API_PORT="$(free_port)"
cp "$ROOT/scripts/e2e_prod_dag.py" "$WORK/dags/"
airflow_env "$API_PORT"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow@127.0.0.1:$PG_PORT/airflow"
export E2E_PG_DSN="host=127.0.0.1 port=$PG_PORT user=airflow dbname=airflow"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://airflow@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__CELERY__WORKER_CONCURRENCY=8
export AIRFLOW__CORE__PARALLELISM=64
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=512
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG=32
export AIRFLOW__API__WORKERS=2
# A killed worker's tasks are failed (and retried) 60 s after their last heartbeat; a killed
# triggerer's triggers move on 15 s after its last one (loaded 2-core machines miss 5 s).
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=60
# Tasks the killed worker had taken from Redis but not started are unacknowledged messages there
# (acks_late) until Celery's visibility timeout (6 h); the scheduler requeues them after this
# (default 600 s).
export AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT=120
export AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=2
export AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=15
# Which worker runs a task, which triggerer holds a trigger: each process says its own name.
mkdir -p "$WORK/pylib"
printf 'import os, socket\n\n\ndef hostname():\n    return os.environ.get("E2E_HOSTNAME") or socket.getfqdn()\n' \
    >"$WORK/pylib/e2e_prod_hostname.py"
export PYTHONPATH="$WORK/pylib"
export AIRFLOW__CORE__HOSTNAME_CALLABLE=e2e_prod_hostname.hostname
export BAAS_EXAMPLE_POLL_INTERVAL=10

say "Airflow $("$AIRFLOW" version 2>/dev/null | tail -n 1) with CeleryExecutor in $WORK; load: $(cut -d' ' -f1-3 /proc/loadavg)"
start_postgres "$PG_PORT"
start_redis "$REDIS_PORT"

"$PY" "$HELPER" scenario "$WORK/scenario.json" "$RUNS"
start_simulator --time-scale "$TIME_SCALE" --scenario "$WORK/scenario.json" \
    --fault "{\"kind\": \"delay\", \"method\": \"GET\", \"path\": \"*/jobs/$TARGET_JOB\", \"delay\": $HOLD, \"count\": 1}"
SIM_BASE="$(sed -n 's/^# base URL \([^,]*\),.*/\1/p' "$LOGS/simulator.log")"
SIM_TOKEN="$("$PY" -c 'import json, os; print(json.loads(os.environ["AIRFLOW_CONN_BAAS_DEFAULT"])["password"])')"
CONN_JSON="$AIRFLOW_CONN_BAAS_DEFAULT"
unset AIRFLOW_CONN_BAAS_DEFAULT  # the connection lives in the database, as in production

"$AIRFLOW" db migrate >"$LOGS/db-migrate.log" 2>&1
"$AIRFLOW" connections add baas_default --conn-json "$CONN_JSON" >"$LOGS/connections.log" 2>&1
say "connection baas_default stored in PostgreSQL ($(sql "select conn_type from connection where conn_id = 'baas_default'"))"
"$PY" "$HELPER" variable-names "$RUNS" | tee -a "$LOGS/variable-names.log"

start api-server "$AIRFLOW" api-server --port "$API_PORT"
start_airflow scheduler scheduler scheduler
start_airflow dag-processor dag-processor dag-processor
start_airflow triggerer-1 triggerer-1 triggerer --skip-serve-logs
TRIGGERER_SESSION[1]=$PGID
start_airflow triggerer-2 triggerer-2 triggerer --skip-serve-logs
TRIGGERER_SESSION[2]=$PGID
start_airflow worker-1 worker-1 celery worker --skip-serve-logs --celery-hostname worker-1@%h
WORKER_SESSION[1]=$PGID
start_airflow worker-2 worker-2 celery worker --skip-serve-logs --celery-hostname worker-2@%h
WORKER_SESSION[2]=$PGID
wait_for 180 "the API server" curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health"
wait_for 180 "the DAG to be parsed" dag_parsed
wait_for 180 "both Celery workers" grep -q "ready" "$LOGS/worker-2.log"
wait_for 60 "both Celery workers" grep -q "ready" "$LOGS/worker-1.log"
event start "{\"gate_executions\": $("$PY" "$HELPER" executions "$SIM_BASE" "$SIM_TOKEN" 34)}"
"$PY" "$HELPER" trigger "$RUNS" | tee -a "$LOGS/trigger.log"

# A worker dies between a task's execute POST and its deferral.
wait_for 600 "the target task's execute POST (job $TARGET_JOB)" target_posted
host="$(target_host)"
victim="${host#worker-}"
[ -n "${WORKER_SESSION[$victim]:-}" ] || { say "the target task runs on '$host', not on a worker of ours"; exit 1; }
kill_sessions KILL "${WORKER_SESSION[$victim]}"
event "SIGKILL $host (its whole session) after the execute POST of job $TARGET_JOB (run $TARGET_RUN, map index $TARGET_SLOT), before its deferral; its first poll held ${HOLD}s"
start_airflow "$host-restarted" "$host" celery worker --skip-serve-logs --celery-hostname "$host-restarted@%h"
event "$host restarted (new session)"

# A triggerer dies while triggers wait.
wait_for 600 "a triggerer with 10 waiting triggers" busy_triggerer 10
read -r victim_host count < <(triggers_by_host | head -n 1)
survivor_host="triggerer-$((3 - ${victim_host#triggerer-}))"
held="$(triggers_of "$victim_host")"
kill_sessions KILL "${TRIGGERER_SESSION[${victim_host#triggerer-}]}"
event "SIGKILL $victim_host (its whole session) holding $count triggers: $(triggers_by_host | tr '\n' ';')"
wait_for 180 "$survivor_host to take over the triggers of $victim_host" none_left_with "$victim_host" "$held"
event "$survivor_host took over: of the $count triggers, $(moved_to "$survivor_host" "$held") now on $survivor_host, the rest have fired"

wait_for 1500 "all $RUNS DAG runs to end" runs_over
event end
requeued="$(grep -c "Task stuck in queued; will try to requeue" "$LOGS/scheduler.log" || true)"
event "the scheduler had requeued $requeued task(s) stuck in queued (taken by the killed worker, never started)"

problems=()
[ "$(posted "$TARGET_JOB")" = 1 ] || problems+=("job $TARGET_JOB: $(posted "$TARGET_JOB") execute POSTs")
grep -rlq "Reattaching to execution" "$AIRFLOW_HOME/logs"/dag_id=*/run_id=e2e_prod_$(printf %02d "$TARGET_RUN")*/task_id=backup_*/map_index=$TARGET_SLOT/ \
    || problems+=("the target task's retry did not log a reattach")
grep -q "GET .*/jobs/$TARGET_JOB -> .*\[fault: delay\]" "$LOGS/simulator.log" || problems+=("the target's poll was not held")
# Killed before it deferred: its first try has no trigger log.
! ls "$AIRFLOW_HOME/logs"/dag_id=*/run_id=e2e_prod_$(printf %02d "$TARGET_RUN")*/task_id=backup_*/map_index=$TARGET_SLOT/attempt=1.log.trigger.* >/dev/null 2>&1 \
    || problems+=("the target task's first try had deferred before the kill")
printf '%s\n' "${problems[@]}" | "$PY" -c 'import json, sys, time; print(json.dumps({"at": time.time(), "what": "shell checks", "problems": [l.strip() for l in sys.stdin if l.strip()]}))' >>"$EVENTS"
say "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$HELPER" report "$EVENTS" "$RUNS" "$SIM_BASE" "$SIM_TOKEN" "$AIRFLOW_HOME/logs"
say "OK in $((SECONDS - STARTED_AT))s in all (set-up included)"
