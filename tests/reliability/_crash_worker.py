"""A worker process for the crash tests: runs one try of BaasExecuteJobOperator and is SIGKILLed by
the test at a chosen request. ``python -m tests.reliability._crash_worker MODE STORE [STATE_FILE]``."""

from __future__ import annotations

import sys

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from tests.reliability._support import DagTI, FileStateStore, make_context


def main(mode: str, store: str, state_file: str = "") -> None:
    op = BaasExecuteJobOperator(
        task_id="backup", job_id=34, poll_interval=0.1, timeout=60, deferrable=mode == "deferrable"
    )
    memory = FileStateStore(state_file) if store == "state-store" else None  # else: a Variable (2.11)
    print("worker ready", flush=True)
    op.execute(make_context(DagTI(try_number=1), memory))
    print("worker finished without being killed", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
