#!/usr/bin/env bash
# make e2e: the pre-ETL example DAG on a real Airflow 3.3 deployment, with a triggerer crash.
#
# Scheduler, DAG processor, triggerer and API server run as separate processes (LocalExecutor,
# sqlite) from .venv, the BaaS simulator in a process of its own. The DAG's freshness gate finds
# the warehouse backup stale, starts one and defers onto the triggerer; mid-wait the triggerer
# (its whole process group) is killed with SIGKILL and started again. The run must end `success`
# with exactly one execute request on the simulator's request log. Every process is stopped
# afterwards, whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${E2E_PYTHON:-$ROOT/.venv/bin/python}"
AIRFLOW="$(dirname "$PY")/airflow"
DAG_ID=example_baas_pre_etl_gate
GATE=warehouse_backup_is_fresh
RUN_ID="e2e_$(date +%s)"
TIME_SCALE="${E2E_TIME_SCALE:-180}"  # the 2-hour warehouse backup takes 40 s
WORK="$(mktemp -d "${TMPDIR:-/tmp}/baas-e2e-XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/dags"
GROUPS_STARTED=()

say() { printf 'e2e: %s\n' "$*"; }

stop_all() {
    local code=$?
    trap - EXIT INT TERM
    for pgid in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
    for _ in $(seq 1 20); do
        local alive=0
        for pgid in "${GROUPS_STARTED[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pgid in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
    if [ "$code" != 0 ]; then
        say "FAILED (exit $code); last lines of each log:"
        for f in "$LOGS"/*.log; do echo "---- $f"; tail -n 25 "$f"; done
        say "logs kept in $LOGS"
    else
        rm -rf "$WORK"
    fi
    exit "$code"
}
trap stop_all EXIT INT TERM

# start NAME CMD...: run CMD in a process group of its own, output to $LOGS/NAME.log; sets PGID.
start() {
    local name=$1
    shift
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    PGID=$!
    GROUPS_STARTED+=("$PGID")
}

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for SECONDS WHAT CMD...: until CMD succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local until=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || { say "timed out after ${seconds}s waiting for $what"; return 1; }
        sleep 1
    done
}

sql() { "$PY" -c 'import sqlite3, sys; print(*(r[0] for r in sqlite3.connect(sys.argv[1], timeout=30).execute(sys.argv[2], sys.argv[3:]).fetchall()), sep="\n")' "$WORK/airflow.db" "$@"; }
gate_state() { sql "select state from task_instance where dag_id=? and task_id=? and run_id=?" "$DAG_ID" "$GATE" "$RUN_ID"; }
run_state() { sql "select state from dag_run where dag_id=? and run_id=?" "$DAG_ID" "$RUN_ID"; }
gate_is_deferred() { [ "$(gate_state)" = deferred ]; }
run_is_over() { case "$(run_state)" in success|failed) return 0 ;; *) return 1 ;; esac; }
executes() { grep -c '^POST .*/execute -> ' "$LOGS/simulator.log" || true; }
polls() { grep -c '^GET .*/jobs/34' "$LOGS/simulator.log" || true; }
polled_at_least() { [ "$(polls)" -ge "$1" ]; }

API_PORT="$(free_port)"
cp "$ROOT/example_dags/$DAG_ID.py" "$WORK/dags/"
export AIRFLOW_HOME="$WORK/home"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$WORK/dags"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$WORK/airflow.db"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
export AIRFLOW__API__PORT="$API_PORT"
AIRFLOW__API_AUTH__JWT_SECRET="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
export AIRFLOW__API_AUTH__JWT_SECRET
export AIRFLOW__API__SECRET_KEY="$AIRFLOW__API_AUTH__JWT_SECRET"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=1
export AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=5  # a dead triggerer's triggers move on
export AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY=True
export BAAS_EXAMPLE_POLL_INTERVAL=2
export BAAS_EXAMPLE_MAX_AGE_HOURS=1  # last night's backup is stale: the gate starts one
mkdir -p "$AIRFLOW_HOME"

say "Airflow $("$AIRFLOW" version 2>/dev/null | tail -n 1) in $WORK"
"$AIRFLOW" db migrate >"$LOGS/db-migrate.log" 2>&1

start simulator "$PY" -m airflow_provider_baas.testing --port 0 --time-scale "$TIME_SCALE" --log-requests
wait_for 30 "the simulator" grep -q '^AIRFLOW_CONN_BAAS_DEFAULT=' "$LOGS/simulator.log"
AIRFLOW_CONN_BAAS_DEFAULT="$(sed -n "s/^AIRFLOW_CONN_BAAS_DEFAULT='\(.*\)'$/\1/p" "$LOGS/simulator.log")"
export AIRFLOW_CONN_BAAS_DEFAULT
say "simulator: $(grep -m1 'listening on' "$LOGS/simulator.log")"

start api-server "$AIRFLOW" api-server --port "$API_PORT"
start scheduler "$AIRFLOW" scheduler
start dag-processor "$AIRFLOW" dag-processor
start triggerer "$AIRFLOW" triggerer
TRIGGERER=$PGID
wait_for 120 "the API server" curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health"
wait_for 120 "the DAG to be parsed" "$AIRFLOW" dags unpause "$DAG_ID"
say "scheduler, dag-processor, triggerer, api-server up; triggering $DAG_ID ($RUN_ID)"
"$AIRFLOW" dags trigger "$DAG_ID" --run-id "$RUN_ID" >"$LOGS/trigger.log" 2>&1

wait_for 180 "the gate to defer" gate_is_deferred
before=$(polls)
wait_for 60 "the triggerer to poll" polled_at_least $((before + 2))
[ "$(executes)" = 1 ] || { say "expected one execute before the crash, saw $(executes)"; exit 1; }
say "gate deferred and polled by the triggerer; killing the triggerer (SIGKILL, whole process group)"
kill -KILL -- "-$TRIGGERER"
sleep 3
[ "$(gate_state)" = deferred ] || { say "the gate left 'deferred' without a triggerer: $(gate_state)"; exit 1; }
at_restart=$(polls)
start triggerer-restarted "$AIRFLOW" triggerer
say "triggerer restarted; waiting for the run to end"
wait_for 300 "the DAG run to end" run_is_over

state="$(run_state)"
tasks="$(sql "select task_id || '=' || state from task_instance where dag_id=? and run_id=? order by task_id" "$DAG_ID" "$RUN_ID" | tr '\n' ' ')"
say "run $RUN_ID: $state; tasks: $tasks"
say "execute requests: $(executes); polls before the crash: $at_restart, after: $(($(polls) - at_restart))"
[ "$state" = success ] || { say "the run did not succeed"; exit 1; }
[ "$(executes)" = 1 ] || { say "expected exactly one execute request, saw $(executes)"; exit 1; }
[ "$(polls)" -gt "$at_restart" ] || { say "the restarted triggerer never polled"; exit 1; }
grep -q '^POST .*/execute -> 202' "$LOGS/simulator.log" || { say "the execute was not accepted"; exit 1; }
say "OK: success with exactly one execution, through a triggerer SIGKILL"
