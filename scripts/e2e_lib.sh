# Shared by the deployment tests (scripts/e2e*.sh): process sessions, waiting, Airflow's environment.
# The sourcing script sets E2E_NAME, PY and WORK first; this file creates $LOGS and $WORK/dags and,
# when the script exits, whatever happens, stops every process started with `start` (and whatever
# those started), checks with ps that none is left, and removes $WORK (E2E_KEEP_WORK=1 keeps it).

LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/dags"
GROUPS_STARTED=()

say() { printf '%s: %s\n' "$E2E_NAME" "$*"; }

# session_pids SID...: every live process of those sessions. `start` makes each command a session of
# its own; processes that move to a process group of their own (Airflow's task runners do) stay in
# it. Zombies (state Z) are left out: they have already exited and hold nothing, and where PID 1
# does not reap orphans (a container without an init) they stay listed until the container ends.
session_pids() {
    ps -eo pid=,sid=,stat= | awk -v want=" $* " '$3 !~ /^Z/ && index(want, " " $2 " ") { print $1 }'
}

# kill_sessions SIGNAL SID...: signal every process of those sessions.
kill_sessions() {
    local sig=$1 pids
    shift
    pids="$(session_pids "$@")"
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill "-$sig" $pids 2>/dev/null || true
    fi
}

stop_all() {
    local code=$?
    trap - EXIT INT TERM
    if [ "${#GROUPS_STARTED[@]}" -gt 0 ]; then
        kill_sessions TERM "${GROUPS_STARTED[@]}"
        for _ in $(seq 1 20); do
            [ -z "$(session_pids "${GROUPS_STARTED[@]}")" ] && break
            sleep 0.5
        done
        kill_sessions KILL "${GROUPS_STARTED[@]}"
        sleep 0.5
        local left
        left="$(session_pids "${GROUPS_STARTED[@]}")"
        if [ -n "$left" ]; then
            say "processes left after SIGKILL:"
            # shellcheck disable=SC2086
            ps -o pid,sid,args -p $left || true
            [ "$code" != 0 ] || code=1
        else
            say "ps: no process of this run is left (sessions ${GROUPS_STARTED[*]})"
        fi
    fi
    if [ "$code" != 0 ]; then
        say "FAILED (exit $code); last lines of each log:"
        for f in "$LOGS"/*.log; do echo "---- $f"; tail -n 25 "$f"; done
    fi
    if [ "${E2E_KEEP_WORK:-0}" = 1 ]; then
        say "E2E_KEEP_WORK=1: $WORK kept"
    else
        rm -rf "$WORK"
    fi
    exit "$code"
}
trap stop_all EXIT INT TERM

# start NAME CMD...: run CMD in a session (and process group) of its own, output to $LOGS/NAME.log;
# sets PGID (the session's id too).
start() {
    local name=$1
    shift
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    PGID=$!
    disown "$PGID"  # killed on purpose at times: no "Killed" notices from the shell
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

# airflow_env API_PORT: a private Airflow 3 deployment (LocalExecutor, sqlite) in $WORK, DAGs from
# $WORK/dags, a triggerer whose death is noticed within 5 s.
airflow_env() {
    export AIRFLOW_HOME="$WORK/home"
    export AIRFLOW__CORE__EXECUTOR=LocalExecutor
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER="$WORK/dags"
    export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$WORK/airflow.db"
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$1/execution/"
    export AIRFLOW__API__PORT="$1"
    AIRFLOW__API_AUTH__JWT_SECRET="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
    export AIRFLOW__API_AUTH__JWT_SECRET
    export AIRFLOW__API__SECRET_KEY="$AIRFLOW__API_AUTH__JWT_SECRET"
    export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
    export AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=1
    export AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=5  # a dead triggerer's triggers move on
    export AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY=True
    mkdir -p "$AIRFLOW_HOME"
}

# start_simulator ARGS...: the BaaS simulator in its own process; exports AIRFLOW_CONN_BAAS_DEFAULT.
start_simulator() {
    start simulator "$PY" -m airflow_provider_baas.testing --port 0 --log-requests "$@"
    wait_for 30 "the simulator" grep -q '^AIRFLOW_CONN_BAAS_DEFAULT=' "$LOGS/simulator.log"
    AIRFLOW_CONN_BAAS_DEFAULT="$(sed -n "s/^AIRFLOW_CONN_BAAS_DEFAULT='\(.*\)'$/\1/p" "$LOGS/simulator.log")"
    export AIRFLOW_CONN_BAAS_DEFAULT
    say "simulator: $(grep -m1 'listening on' "$LOGS/simulator.log")"
}
