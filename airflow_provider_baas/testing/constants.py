"""Constants shared by the simulator modules (standard library only, cheap to import)."""

from __future__ import annotations

#: Path prefix of every endpoint, as in ``https://<api-path>/data-protection/v2/...``.
BASE_PATH = "/data-protection/v2"

#: Bearer token the simulator accepts unless told otherwise (also used by the pytest fixture).
DEFAULT_TOKEN = "baas-simulator-token"

#: Principal name of the main ``token`` (key of ``site_access``).
DEFAULT_PRINCIPAL = "default"

#: Audience a JWT must contain when it carries an ``aud`` claim (VantageCloud Lake PAT flow).
DEFAULT_JWT_AUDIENCE = "td:service:authentication"

#: Port of ``baas-simulator`` unless ``--port`` says otherwise. Not one an Airflow component uses by
#: default (api-server/webserver 8080, worker and triggerer log servers 8793/8794, scheduler health
#: 8974, Flower 5555, StatsD 8125), so the simulator runs next to a local Airflow unchanged.
DEFAULT_PORT = 8765

#: Site id of the built-in demo scenario (:meth:`Scenario.default`).
DEFAULT_SITE_ID = "demo-site"

#: Time scale of the ``baas_simulator`` pytest fixture: a 2-hour backup takes 2 real seconds.
FIXTURE_TIME_SCALE = 3600.0

#: Database user and password the simulator accepts in ``x-auth-credentials`` unless the scenario
#: says otherwise (restores, R3 and R6).
DEFAULT_DB_LOGIN = "dbc_restore"
DEFAULT_DB_PASSWORD = "simulator-db-password"

#: Status words of an objects preparation (O2) in the simulator (the real ones are undocumented).
PREPARING = "IN_PROGRESS"
PREPARED = "COMPLETED"

SUCCESSFUL = "SUCCESSFUL"
FAILED = "FAILED"
ABORTED = "ABORTED"
QUEUED = "QUEUED"
RUNNING = "RUNNING"

JOB_TYPES = ("BACKUP", "RESTORE")
RUN_TYPES = ("FULL", "DELTA", "CUMULATIVE")

#: ``2022-12-07T11:35:00.000000Z``
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
