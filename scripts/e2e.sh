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
E2E_NAME=e2e
# shellcheck source=scripts/e2e_lib.sh
source "$ROOT/scripts/e2e_lib.sh"

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
airflow_env "$API_PORT"
export BAAS_EXAMPLE_POLL_INTERVAL=2
export BAAS_EXAMPLE_MAX_AGE_HOURS=1  # last night's backup is stale: the gate starts one

say "Airflow $("$AIRFLOW" version 2>/dev/null | tail -n 1) in $WORK"
"$AIRFLOW" db migrate >"$LOGS/db-migrate.log" 2>&1

start_simulator --time-scale "$TIME_SCALE"

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
kill_sessions KILL "$TRIGGERER"
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
