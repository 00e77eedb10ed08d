"""Command line: ``python -m airflow_provider_baas.testing`` / ``baas-simulator``.

Serves a scenario until SIGINT/SIGTERM. The first lines of stdout are::

    BaaS simulator listening on http://127.0.0.1:PORT
    AIRFLOW_CONN_BAAS_DEFAULT='{"conn_type": "baas", ...}'
    AIRFLOW_CONN_TERADATA_DEFAULT='{"conn_type": "teradata", ...}'   (the database user for restores)

followed by a few informational lines.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_baas.testing.constants import DEFAULT_PORT, DEFAULT_TOKEN


def _faults(values: Sequence[str]) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = []
    for value in values:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SystemExit(f"--fault: not valid JSON: {exc}") from None
        faults.extend(data if isinstance(data, list) else [data])
    return faults


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baas-simulator",
        description="Serve a simulated Teradata BaaS data-protection v2 API (for testing).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument("--scenario", help="scenario JSON file (default: the built-in demo scenario)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=60.0,
        help="BaaS seconds per real second; 0 freezes time (default: %(default)s)",
    )
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="accepted bearer token (default: %(default)s)")
    parser.add_argument("--no-auth", action="store_true", help="accept every request without credentials")
    parser.add_argument("--jwt-public-key", help="PEM file: also accept RS256 JWTs signed by its private key")
    parser.add_argument("--jwt-kid", help="required JWT header kid")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='fault as JSON object or array (or @file), e.g. \'{"kind": "status", "status": 503, '
        '"path": "*/executions", "count": 2}\'; repeatable',
    )
    parser.add_argument("--on-concurrent-execute", choices=("reject", "allow"), default="reject")
    parser.add_argument(
        "--executions-order", choices=("newest_first", "oldest_first"), default="newest_first"
    )
    parser.add_argument(
        "--run-schedules",
        action="store_true",
        help="run each active job at its next_run_time, as BaaS's own scheduler does",
    )
    parser.add_argument("--ignore-paging", action="store_true", help="list endpoints ignore page/page-size")
    parser.add_argument("--start-time", help="simulated start time, ISO 8601 (default: now)")
    parser.add_argument("--conn-id", default="baas_default", help="Airflow conn id of the printed line")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--print-default-scenario", action="store_true", help="print the demo scenario as JSON and exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from airflow_provider_baas.testing.scenario import Scenario

    if args.print_default_scenario:
        print(Scenario.default().to_json())
        return 0

    from airflow_provider_baas.testing.server import BaasSimulator, RecordedRequest

    def log_request(record: RecordedRequest) -> None:
        fault = f" [fault: {record.fault}]" if record.fault else ""
        status = record.status if record.status is not None else "-"
        print(f"{record.method} {record.path} -> {status}{fault}", file=sys.stderr, flush=True)

    scenario = Scenario.from_json(args.scenario) if args.scenario else Scenario.default()
    jwt_key = Path(args.jwt_public_key).read_bytes() if args.jwt_public_key else None
    sim = BaasSimulator(
        scenario,
        token=None if args.no_auth else args.token,
        jwt_public_key=None if args.no_auth else jwt_key,
        jwt_kid=args.jwt_kid,
        time_scale=args.time_scale,
        start_time=args.start_time,
        host=args.host,
        port=args.port,
        on_concurrent_execute=args.on_concurrent_execute,
        executions_order=args.executions_order,
        run_schedules=args.run_schedules,
        ignore_paging=args.ignore_paging,
        faults=_faults(args.fault),
        request_log_limit=1000,
        on_request=log_request if args.log_requests else None,
    )

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim.start()
    try:
        name, value = sim.airflow_conn_env(args.conn_id)
        print(f"BaaS simulator listening on {sim.url}")
        print(f"{name}={shlex.quote(value)}")
        td_name, td_value = sim.teradata_conn_env()  # the database user restores need (docs/restores.md)
        print(f"{td_name}={shlex.quote(td_value)}")
        print(f"# base URL {sim.base_url}, default site {sim.site_id}, time scale {sim.time_scale:g}")
        sites = ", ".join(
            f"{s.site_id} (jobs {', '.join(str(j.job_id) for j in s.jobs)})" for s in scenario.sites
        )
        print(f"# sites: {sites}")
        print("# stop with Ctrl-C (SIGINT) or SIGTERM", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    print("BaaS simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
