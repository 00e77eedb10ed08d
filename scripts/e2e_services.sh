# Throw-away PostgreSQL and Redis for scripts/e2e_prod.sh: each in its own process group (see
# `start` in e2e_lib.sh, which stops them when the script exits), data under $WORK, loopback only.
# Never the system services. Sourced after e2e_lib.sh.

# The PostgreSQL server binaries: Debian keeps them in /usr/lib/postgresql/<major>/bin.
pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$dir" ]; then echo "$dir"; else dirname "$(command -v initdb)"; fi
}

# PostgreSQL refuses to run as root; root runs it as the `postgres` user (the package creates it).
AS_PG=()
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); fi
as_pg() { "${AS_PG[@]}" "$@"; }

# start_postgres PORT: a new cluster in $WORK/pg (trust auth on 127.0.0.1) with database airflow.
start_postgres() {
    local port=$1 bin
    bin="$(pg_bin)"
    mkdir -p "$WORK/pg"
    if [ "$(id -u)" = 0 ]; then chmod 755 "$WORK" && chown postgres "$WORK/pg"; fi
    as_pg "$bin/initdb" -D "$WORK/pg/data" -U airflow --auth=trust -E UTF8 >"$LOGS/initdb.log" 2>&1
    # -k: the socket in our directory, not /var/run/postgresql (which may not exist or be shared).
    start postgres "${AS_PG[@]}" "$bin/postgres" -D "$WORK/pg/data" -h 127.0.0.1 -p "$port" -k "$WORK/pg" \
        -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off
    wait_for 60 "PostgreSQL" as_pg "$bin/pg_isready" -h 127.0.0.1 -p "$port" -U airflow -d postgres
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U airflow airflow
    say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# start_redis PORT: an in-memory Redis (no persistence) on 127.0.0.1.
start_redis() {
    local port=$1
    cat >"$WORK/redis.conf" <<CONF
bind 127.0.0.1
port $port
daemonize no
save ""
appendonly no
dir $WORK
CONF
    start redis redis-server "$WORK/redis.conf"
    wait_for 30 "Redis" redis-cli -p "$port" ping
    say "Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port"
}
