"""Scenario model of the BaaS simulator: sites, jobs, outcomes, history (standard library only).

A scenario is plain data. Build it from dataclasses::

    Scenario(sites=[SiteSpec("s1", jobs=[JobSpec(1, "nightly", duration=7200, history=30)])])

or from JSON (``Scenario.from_json(path_or_dict_or_text)``); ``to_dict()`` / ``to_json()`` give the
JSON form back. Durations are in BaaS ("simulated") seconds; the simulator's ``time_scale`` maps
them to real seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_baas.testing.constants import (
    ABORTED,
    DEFAULT_SITE_ID,
    FAILED,
    JOB_TYPES,
    QUEUED,
    RUN_TYPES,
    RUNNING,
    SUCCESSFUL,
)
from airflow_provider_baas.testing.faults import Fault

_STATUS_ALIASES = {
    "SUCCESS": SUCCESSFUL,
    "SUCCEEDED": SUCCESSFUL,
    "OK": SUCCESSFUL,
    "FAILURE": FAILED,
    "FAIL": FAILED,
    "ERROR": FAILED,
    "ABORT": ABORTED,
    "ABORTED_BY_USER": ABORTED,
}

#: ``status_detail`` of a final execution whose outcome does not give one.
DEFAULT_STATUS_DETAILS = {
    SUCCESSFUL: "Job completed successfully.",
    FAILED: "Job failed.",
    ABORTED: "Job aborted.",
}

#: Default non-final phases: QUEUED for the first 5% of the duration, then RUNNING.
DEFAULT_PHASES: tuple[tuple[str, float], ...] = ((QUEUED, 0.05), (RUNNING, 0.95))

GB = 1_000_000_000
_DAY = 86400.0
_HOUR = 3600.0


# What last_execution_details (J2) describe: the newest execution, the newest finished one, or none.
SUMMARY_DETAILS = ("latest", "finished", "none")


def normalize_status(status: str) -> str:
    """Upper-case a status word and map the usual aliases (``success`` -> ``SUCCESSFUL``)."""
    word = str(status).strip().upper()
    return _STATUS_ALIASES.get(word, word)


def _check_fields(
    cls: type, data: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = aliases.get(key, key) if aliases else key
        if name not in known:
            raise ValueError(f"unknown {cls.__name__} field {key!r}; known: {sorted(known)}")
        out[name] = value
    return out


def _non_default_fields(obj: Any, always: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        value = getattr(obj, f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name in always or value != default:
            out[f.name] = value
    return out


@dataclass
class Outcome:
    """How one execution ends: final ``status`` (any word; SUCCESSFUL, FAILED and ABORTED are the
    usual ones), ``status_detail`` (default: a generic sentence), and optional overrides of the
    job's ``duration`` and ``backup_size``."""

    status: str = SUCCESSFUL
    status_detail: str | None = None
    duration: float | None = None
    backup_size: int | None = None

    def __post_init__(self) -> None:
        self.status = normalize_status(self.status)

    @classmethod
    def parse(cls, value: Outcome | str | Mapping[str, Any]) -> Outcome:
        """An outcome from a status word, a dict of its fields, or an outcome (returned as is).

        :param value: the word, dict or outcome.
        """
        if isinstance(value, Outcome):
            return value
        if isinstance(value, str):
            return cls(status=value)
        return cls(**_check_fields(cls, value))

    def to_dict(self) -> dict[str, Any] | str:
        """The JSON form: the status word alone when nothing else is set, else a dict."""
        data = _non_default_fields(self, always=("status",))
        return data["status"] if len(data) == 1 else data


@dataclass
class HistoryEntry:
    """A past execution that exists when the simulator starts.

    ``ended_ago``: BaaS seconds between its end and the simulator's start time (a negative value
    makes an execution that is still running at start and ends ``-ended_ago`` seconds later).
    ``duration``/``backup_set_size``/``run_type`` default to the job's values."""

    status: str = SUCCESSFUL
    ended_ago: float = _DAY
    duration: float | None = None
    run_type: str | None = None
    backup_set_size: int | None = None
    status_detail: str | None = None

    def __post_init__(self) -> None:
        self.status = normalize_status(self.status)
        if self.run_type is not None:
            self.run_type = self.run_type.upper()

    @classmethod
    def parse(cls, value: HistoryEntry | Mapping[str, Any]) -> HistoryEntry:
        """A history entry from a dict of its fields, or an entry (returned as is).

        :param value: the dict or entry.
        """
        if isinstance(value, HistoryEntry):
            return value
        return cls(**_check_fields(cls, value))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: a dict of the fields that are set."""
        return _non_default_fields(self, always=("status", "ended_ago"))


@dataclass
class JobSpec:
    """One BACKUP or RESTORE job of a site.

    ``outcomes``: outcome of the 1st, 2nd, ... execution started through the API (the last one
    repeats), e.g. ``["FAILED", "SUCCESSFUL"]`` for retry tests; a single word/Outcome is fine.
    ``phases``: non-final statuses with relative weights, spread over the duration, e.g.
    ``[("QUEUED", 1), ("RUNNING", 8), ("VERIFYING", 1)]`` (default: QUEUED 5%, RUNNING 95%).
    ``history``: number of generated past executions (one every ``history_interval`` seconds, the
    newest ended ``history_interval`` seconds before the start, all SUCCESSFUL), or an explicit
    list of :class:`HistoryEntry`. ``extra``: additional keys added to the job's JSON as is.
    """

    job_id: int
    name: str
    job_type: str = "BACKUP"
    description: str = ""
    active: bool = True
    duration: float = 600.0
    backup_size: int = 10 * GB
    outcomes: list[Outcome] = field(default_factory=lambda: [Outcome()])
    phases: list[tuple[str, float]] | None = None
    history: int | list[HistoryEntry] = 0
    history_interval: float = _DAY
    backup_type: str = "FULL"
    priority: int = 1
    auto_abort_in_minutes: int = 0
    is_auto_abort_active: bool = False
    no_of_retention_copies: int = 2
    site_target_type: str = "AWS"
    backup_mechanism: str = "DSA"
    target_site_id: str | None = None
    target_retention_copies_count: int = 0
    target_retention_source: str | None = None
    #: Seconds between scheduled runs, for ``next_run_time`` (None: no schedule, null).
    schedule_interval: float | None = _DAY
    #: ``job_settings`` of J2 (default: generated from the job's name and type).
    job_settings: dict[str, Any] | None = None
    #: What each SUCCESSFUL backup execution of the job holds (O3 items; ``byte_count`` optional).
    #: Default: every database of ``job_settings`` with three tables (see ``default_backup_objects``).
    objects: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.job_id = int(self.job_id)
        if self.job_id < 0:
            raise ValueError("job_id must be >= 0")
        self.job_type = str(self.job_type).upper()
        if self.job_type not in JOB_TYPES:
            raise ValueError(f"job {self.job_id}: job_type must be BACKUP or RESTORE, not {self.job_type!r}")
        self.backup_type = str(self.backup_type).upper()
        if self.duration < 0:
            raise ValueError(f"job {self.job_id}: duration must be >= 0")
        outcomes = self.outcomes
        if isinstance(outcomes, str | Outcome | Mapping):
            outcomes = [outcomes]
        self.outcomes = [Outcome.parse(o) for o in outcomes]
        if not self.outcomes:
            raise ValueError(f"job {self.job_id}: outcomes must not be empty")
        if self.phases is not None:
            phases: list[tuple[str, float]] = []
            for p in self.phases:
                status, weight = (p, 1.0) if isinstance(p, str) else (p[0], float(p[1]))
                if weight < 0:
                    raise ValueError(f"job {self.job_id}: phase weights must be >= 0")
                phases.append((normalize_status(status), weight))
            if not phases or sum(w for _, w in phases) <= 0:
                raise ValueError(f"job {self.job_id}: phases need at least one positive weight")
            self.phases = phases
        if not isinstance(self.history, int):
            self.history = [HistoryEntry.parse(h) for h in self.history]
        elif self.history < 0:
            raise ValueError(f"job {self.job_id}: history count must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | JobSpec) -> JobSpec:
        """A job from its JSON form, or a job (returned as is).

        :param data: the dict or job.
        """
        if isinstance(data, JobSpec):
            return data
        return cls(**_check_fields(cls, data, aliases={"outcome": "outcomes", "is_active": "active"}))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (:meth:`from_dict` reads it back)."""
        data = _non_default_fields(self, always=("job_id", "name", "job_type"))
        if "outcomes" in data:
            data["outcomes"] = [o.to_dict() for o in self.outcomes]
        if isinstance(self.history, list):
            data["history"] = [h.to_dict() for h in self.history]
        if self.phases is not None:
            data["phases"] = [[s, w] for s, w in self.phases]
        return data


@dataclass
class SiteSpec:
    """A site (``site_id``) with its jobs. ``site_type`` is reported in executions."""

    site_id: str
    jobs: list[JobSpec] = field(default_factory=list)
    site_type: str = "AWS"

    def __post_init__(self) -> None:
        if not self.site_id or "/" in self.site_id:
            raise ValueError(f"invalid site id {self.site_id!r}")
        self.jobs = [JobSpec.from_dict(j) for j in self.jobs]
        ids = [j.job_id for j in self.jobs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"site {self.site_id}: duplicate job ids")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | SiteSpec) -> SiteSpec:
        """A site from its JSON form, or a site (returned as is).

        :param data: the dict or site.
        """
        if isinstance(data, SiteSpec):
            return data
        return cls(**_check_fields(cls, data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (:meth:`from_dict` reads it back)."""
        data = _non_default_fields(self, always=("site_id",))
        data["jobs"] = [j.to_dict() for j in self.jobs]
        return data


@dataclass
class Scenario:
    """Sites and jobs the simulator serves, plus optional faults and per-principal site access.

    ``site_access`` maps a principal (the static token's principal is ``"default"``, extra tokens
    have their own, a JWT's is its ``sub``) to the site ids it may use; principals not listed may
    use every site. ``start_time`` (ISO string or epoch seconds; default: the moment the simulator
    starts) is the simulated "now" at start; history is placed before it. ``summary_details``:
    what a job's ``last_execution_details`` (J2) describe: ``"latest"`` (the newest execution,
    running or not), ``"finished"`` (the newest *finished* one only: the API document's sample
    shows a finished execution and nothing says a running one is shown) or ``"none"`` (null, as for a
    job that never ran: clients that fall back to the listing are tested with it).
    """

    sites: list[SiteSpec]
    faults: list[Fault] = field(default_factory=list)
    site_access: dict[str, list[str]] | None = None
    start_time: str | float | None = None
    #: The database user ``{"login": ..., "password": ...}`` accepted in ``x-auth-credentials``
    #: (default: ``DEFAULT_DB_LOGIN`` / ``DEFAULT_DB_PASSWORD``).
    database_credentials: dict[str, str] | None = None
    #: Database users that may not restore (R3 and R6 answer 403).
    restore_denied_users: list[str] = field(default_factory=list)
    #: Target sites nobody may restore to (R3 and R6 answer 403).
    restore_denied_sites: list[str] = field(default_factory=list)
    #: BaaS seconds a restore takes, and how the 1st, 2nd, ... restore ends (the last repeats).
    restore_duration: float = 600.0
    restore_outcomes: list[Outcome] = field(default_factory=lambda: [Outcome()])
    #: BaaS seconds an objects preparation (O1) takes before O2 reports it done.
    preparation_duration: float = 30.0
    summary_details: str = "latest"

    def __post_init__(self) -> None:
        self.sites = [SiteSpec.from_dict(s) for s in self.sites]
        if not self.sites:
            raise ValueError("a scenario needs at least one site")
        ids = [s.site_id for s in self.sites]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate site ids")
        self.faults = [Fault.from_dict(f) for f in self.faults]
        outcomes = self.restore_outcomes
        if isinstance(outcomes, str | Outcome | Mapping):
            outcomes = [outcomes]
        self.restore_outcomes = [Outcome.parse(o) for o in outcomes]
        if not self.restore_outcomes:
            raise ValueError("restore_outcomes must not be empty")
        if self.restore_duration < 0 or self.preparation_duration < 0:
            raise ValueError("restore_duration and preparation_duration must be >= 0")
        if self.database_credentials is not None:
            creds = dict(self.database_credentials)
            if set(creds) != {"login", "password"}:
                raise ValueError('database_credentials must be {"login": ..., "password": ...}')
            self.database_credentials = creds
        if self.summary_details not in SUMMARY_DETAILS:
            raise ValueError(
                f"summary_details must be one of {SUMMARY_DETAILS}, got {self.summary_details!r}"
            )
        if self.site_access is not None:
            self.site_access = {str(k): list(v) for k, v in self.site_access.items()}

    @property
    def default_site_id(self) -> str:
        """The first site's id: the one calls use when they name no site."""
        return self.sites[0].site_id

    def start_epoch(self) -> float | None:
        """``start_time`` as epoch seconds (None when unset)."""
        return parse_time(self.start_time)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """A scenario from its JSON form.

        :param data: the dict (``sites``, and optionally ``faults``, ``site_access``, ``start_time``).
        """
        return cls(**_check_fields(cls, data))

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> Scenario:
        """Load a scenario from a dict, a JSON file path, or JSON text.

        :param source: a dict, a JSON file path, or JSON text.
        """
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return cls.from_dict(json.loads(source))
        return cls.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (:meth:`from_dict` reads it back)."""
        data: dict[str, Any] = {"sites": [s.to_dict() for s in self.sites]}
        if self.faults:
            data["faults"] = [f.to_dict() for f in self.faults]
        if self.site_access is not None:
            data["site_access"] = self.site_access
        if self.start_time is not None:
            data["start_time"] = self.start_time
        for name in (
            "database_credentials",
            "restore_denied_users",
            "restore_denied_sites",
            "restore_duration",
            "preparation_duration",
        ):
            value = getattr(self, name)
            if value != getattr(_SCENARIO_DEFAULTS, name):
                data[name] = value
        if self.restore_outcomes != [Outcome()]:
            data["restore_outcomes"] = [o.to_dict() for o in self.restore_outcomes]
        if self.summary_details != "latest":
            data["summary_details"] = self.summary_details
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON text of :meth:`to_dict`.

        :param indent: as for :func:`json.dumps`.
        """
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def default(cls) -> Scenario:
        """The built-in demo scenario (see docs/simulator.md for the job list)."""
        return _default_scenario()


def parse_time(value: str | float | datetime | None) -> float | None:
    """ISO-8601 string / datetime / epoch seconds -> epoch seconds (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _settings(database: str, exclude: Sequence[str] = (), *, online: bool = False) -> dict[str, Any]:
    return {
        "online": online,
        "objects": [
            {
                "exclude_objects": [{"object_name": name, "object_type": "DATABASE"} for name in exclude],
                "include_all": True,
                "object_name": database,
                "object_type": "DATABASE",
                "parent_name": "DBC",
                "parent_type": "DATABASE",
                "rename_to": None,
            }
        ],
        "continue_job_on_access_right_violation": False,
        "run_as_a_copy_job": False,
        "restore_to_a_different_database_on_target_site": None,
        "skip_statstics": False,
        "retained_copy": None,
    }


#: Tables every generated database holds, with their share of the backup's size.
DEFAULT_TABLES: tuple[tuple[str, float], ...] = (("CUSTOMERS", 0.2), ("ORDERS", 0.5), ("ORDER_ITEMS", 0.3))


def default_backup_objects(spec: JobSpec, size: int) -> list[dict[str, Any]]:
    """What a successful backup of ``spec`` holds: each database of its ``job_settings`` (its
    ``byte_count`` the share of ``size``) with the ``DEFAULT_TABLES`` in it."""
    settings = spec.job_settings if spec.job_settings is not None else default_job_settings(spec)
    databases = [
        o for o in settings.get("objects") or [] if str(o.get("object_type", "")).upper() == "DATABASE"
    ]
    share = size // max(1, len(databases))
    objects: list[dict[str, Any]] = []
    for entry in databases:
        name = entry["object_name"]
        objects.append(
            {
                "object_name": name,
                "object_type": "DATABASE",
                "parent_name": entry.get("parent_name") or "DBC",
                "parent_type": entry.get("parent_type") or "DATABASE",
                "byte_count": share,
            }
        )
        for table, part in DEFAULT_TABLES:
            objects.append(
                {
                    "object_name": table,
                    "object_type": "TABLE",
                    "parent_name": name,
                    "parent_type": "DATABASE",
                    "byte_count": int(share * part),
                }
            )
    return objects


def default_job_settings(spec: JobSpec) -> dict[str, Any]:
    """Generated ``job_settings`` for a job without explicit ones."""
    words = [w for w in spec.name.upper().split("_") if w not in {"BACKUP", "RESTORE", "DAILY", "HOURLY"}]
    settings = _settings(words[0] if words else "DBC")
    if spec.job_type == "RESTORE":
        settings["retained_copy"] = "LATEST"
    return settings


_SCENARIO_DEFAULTS = Scenario(sites=[SiteSpec("defaults")])


def _default_scenario() -> Scenario:
    day, hour, minute = _DAY, _HOUR, 60.0
    perm_detail = (
        "DSA job failed: [3523] The user BAR_ADMIN does not have DUMP access to HR.PAYROLL. "
        "0 of 14 objects backed up."
    )
    media_detail = (
        "DSA job failed: media server dsa-ms-02 is not reachable (connection timed out after 300 s)."
    )
    abort_detail = "Job aborted: exceeded the auto abort limit of 30 minutes."
    demo_jobs = [
        JobSpec(
            34,
            "daily_warehouse_backup",
            description="Nightly full backup of the WAREHOUSE database",
            duration=2 * hour,
            backup_size=850 * GB,
            history=30,
            no_of_retention_copies=7,
            target_site_id="dr-site",
            target_retention_copies_count=7,
            target_retention_source="SOURCE",
            job_settings=_settings("WAREHOUSE", ["WAREHOUSE_STAGE"]),
        ),
        JobSpec(
            35,
            "hourly_sales_delta",
            description="Hourly delta backup of SALES",
            backup_type="DELTA",
            duration=15 * minute,
            backup_size=12 * GB,
            history=48,
            history_interval=hour,
            schedule_interval=hour,
            no_of_retention_copies=24,
        ),
        JobSpec(
            36,
            "weekly_finance_backup",
            description="Weekly full backup of FINANCE",
            duration=4 * hour,
            backup_size=1200 * GB,
            history=12,
            history_interval=7 * day,
            schedule_interval=7 * day,
            no_of_retention_copies=4,
        ),
        JobSpec(
            37,
            "hr_payroll_backup",
            description="Backup of HR.PAYROLL (fails: missing DUMP right)",
            duration=40 * minute,
            backup_size=60 * GB,
            outcomes=[Outcome(FAILED, perm_detail)],
            history=[
                HistoryEntry(FAILED, ended_ago=day, status_detail=perm_detail),
                HistoryEntry(SUCCESSFUL, ended_ago=2 * day),
                HistoryEntry(SUCCESSFUL, ended_ago=3 * day),
            ],
        ),
        JobSpec(
            38,
            "legacy_archive_backup",
            description="Retired archive job (inactive)",
            active=False,
            duration=3 * hour,
            backup_size=400 * GB,
            schedule_interval=None,
            history=[HistoryEntry(ended_ago=200 * day), HistoryEntry(ended_ago=230 * day)],
        ),
        JobSpec(
            39,
            "restore_to_test_site",
            job_type="RESTORE",
            description="Restore the latest WAREHOUSE backup to the test system",
            duration=hour,
            backup_size=850 * GB,
            schedule_interval=None,
            target_site_id="test-site",
            history=[HistoryEntry(ended_ago=7 * day)],
            job_settings={
                **_settings("WAREHOUSE"),
                "restore_to_a_different_database_on_target_site": "WAREHOUSE_TEST",
                "retained_copy": "LATEST",
            },
        ),
        JobSpec(
            40,
            "crm_backup",
            description="Daily backup of CRM",
            duration=45 * minute,
            backup_size=90 * GB,
            history=14,
        ),
        JobSpec(
            41,
            "clickstream_backup",
            description="Backup of CLICKSTREAM (aborts: auto abort after 30 minutes)",
            duration=30 * minute,
            backup_size=300 * GB,
            auto_abort_in_minutes=30,
            is_auto_abort_active=True,
            outcomes=[Outcome(ABORTED, abort_detail)],
            history=[
                HistoryEntry(ABORTED, ended_ago=day, status_detail=abort_detail),
                HistoryEntry(SUCCESSFUL, ended_ago=2 * day, duration=25 * minute),
            ],
        ),
        JobSpec(
            42,
            "flaky_inventory_backup",
            description="Backup of INVENTORY (first run fails, the retry succeeds)",
            duration=20 * minute,
            backup_size=25 * GB,
            outcomes=[Outcome(FAILED, media_detail), Outcome(SUCCESSFUL)],
            history=7,
        ),
        JobSpec(
            43,
            "dbc_dictionary_backup",
            description="Data dictionary backup",
            duration=5 * minute,
            backup_size=2 * GB,
            history=30,
        ),
        JobSpec(
            44,
            "restore_sales_point_in_time",
            job_type="RESTORE",
            description="Restore SALES from a chosen save set",
            duration=2 * hour,
            backup_size=12 * GB,
            schedule_interval=None,
            history=[HistoryEntry(ended_ago=30 * day)],
        ),
        JobSpec(
            45,
            "audit_log_backup",
            description="New job, never run",
            duration=10 * minute,
            backup_size=5 * GB,
        ),
        JobSpec(
            46,
            "quick_smoke_backup",
            description="One-minute backup for quick tests",
            duration=minute,
            backup_size=5_000_000,
            history=3,
        ),
    ]
    dr_jobs = [
        JobSpec(
            101,
            "dr_replica_verification",
            description="Verifies the replicated WAREHOUSE save sets",
            duration=30 * minute,
            backup_size=850 * GB,
            history=5,
        ),
        JobSpec(
            102,
            "restore_from_dr_copy",
            job_type="RESTORE",
            description="Restore WAREHOUSE from the DR copy",
            duration=2 * hour,
            backup_size=850 * GB,
            schedule_interval=None,
        ),
    ]
    return Scenario(sites=[SiteSpec(DEFAULT_SITE_ID, demo_jobs), SiteSpec("dr-site", dr_jobs)])


__all__ = [
    "DEFAULT_PHASES",
    "DEFAULT_STATUS_DETAILS",
    "RUN_TYPES",
    "HistoryEntry",
    "JobSpec",
    "Outcome",
    "Scenario",
    "SiteSpec",
    "default_backup_objects",
    "default_job_settings",
    "normalize_status",
    "parse_time",
]
