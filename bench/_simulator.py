"""Start the BaaS simulator CLI in a process of its own, as every benchmark here does."""

from __future__ import annotations

import subprocess
import sys
from typing import IO, Any


def start_simulator_process(
    *cli_args: str, stderr: IO[Any] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """The running simulator (``--port 0`` plus ``cli_args``) and its base URL, once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_baas.testing", "--port", "0", *cli_args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, line.split("listening on", 1)[1].strip()
