"""A worker process for the restore crash tests: runs one try of BaasRestoreOperator and is SIGKILLed
by the test at a chosen request.

``python -m tests.reliability._crash_restore_worker MODE STORE [STATE_FILE]``
"""

from __future__ import annotations

import sys

from airflow_provider_baas.operators.restore import BaasRestoreOperator
from tests.reliability._support import DagTI, FileStateStore, make_context

TERADATA_CONN_ID = "teradata_restore"


def restore_operator(mode: str) -> BaasRestoreOperator:
    return BaasRestoreOperator(
        task_id="restore",
        job_id=34,
        objects=["WAREHOUSE"],
        teradata_conn_id=TERADATA_CONN_ID,
        poll_interval=0.1,
        timeout=60,
        deferrable=mode == "deferrable",
    )


def restore_ti(try_number: int) -> DagTI:
    """The restore task's instance (its identity names the 2.11 reattach Variable)."""
    ti = DagTI(try_number=try_number)
    ti.task_id = "restore"
    return ti


def main(mode: str, store: str, state_file: str = "") -> None:
    memory = FileStateStore(state_file) if store == "state-store" else None  # else: a Variable (2.11)
    print("worker ready", flush=True)
    restore_operator(mode).execute(make_context(restore_ti(try_number=1), memory))
    print("worker finished without being killed", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
