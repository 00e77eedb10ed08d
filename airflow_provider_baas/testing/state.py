"""State engine of the BaaS simulator: clock, executions, JSON payloads (standard library only).

Execution status is computed lazily from the clock: there is no background thread. Each
execution has a creation instant, a duration and an outcome; its status at any instant follows
from them. Final executions are immutable, so their JSON is encoded once and cached.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from airflow_provider_baas.testing.constants import QUEUED, RUN_TYPES, SUCCESSFUL, TIME_FORMAT
from airflow_provider_baas.testing.scenario import (
    DEFAULT_PHASES,
    DEFAULT_STATUS_DETAILS,
    HistoryEntry,
    JobSpec,
    Outcome,
    Scenario,
    default_job_settings,
    normalize_status,
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: First execution id handed out (ids are numeric strings, increasing with creation time).
FIRST_EXECUTION_ID = 1001


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ``2022-12-07T11:35:00.000000Z`` (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime(TIME_FORMAT)


class SimError(Exception):
    """An API error: HTTP ``status`` and a ``message`` (plus optional extra body fields).

    :param status: the HTTP status.
    :param message: the body's ``message``.
    :param extra: more body fields.
    """

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the error answer: ``status``, ``error`` (the reason phrase), ``message``
        and the extra fields."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        return {"status": self.status, "error": phrase, "message": self.message, **self.extra}


class SimClock:
    """Simulated clock: ``now() = start + real elapsed * time_scale + advanced seconds``.

    ``source`` is the real-time source (default :func:`time.monotonic`); inject a fake one for
    fully deterministic tests. ``time_scale=0`` freezes time: only :meth:`advance` moves it.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        start: float | None = None,
        source: Callable[[], float] | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._lock = threading.Lock()
        self._source = source or time.monotonic
        self._scale = float(time_scale)
        self._real0 = self._source()
        self._sim0 = time.time() if start is None else float(start)
        self.start = self._sim0

    def now(self) -> float:
        with self._lock:
            return self._sim0 + (self._source() - self._real0) * self._scale

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` of BaaS time forward."""
        if seconds < 0:
            raise ValueError("cannot advance by a negative amount")
        with self._lock:
            self._sim0 += seconds

    @property
    def time_scale(self) -> float:
        return self._scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if value < 0:
            raise ValueError("time_scale must be >= 0")
        with self._lock:
            real = self._source()
            self._sim0 += (real - self._real0) * self._scale
            self._real0 = real
            self._scale = float(value)


def _cumulative_phases(phases: Sequence[tuple[str, float]]) -> tuple[tuple[tuple[str, float], ...], float]:
    """Weights -> ((status, cumulative end fraction), ...), and the fraction spent QUEUED first."""
    total = sum(w for _, w in phases)
    acc = 0.0
    out = []
    for status, weight in phases:
        acc += weight / total
        out.append((status, acc))
    out[-1] = (out[-1][0], 1.0)
    queued = out[0][1] if out[0][0] == QUEUED and len(out) > 1 else 0.0
    return tuple(out), queued


class JobState:
    __slots__ = (
        "active",
        "executions",
        "is_backup",
        "json_cache",
        "outcomes",
        "phases",
        "queued",
        "retained",
        "scheduled_until",
        "site",
        "spec",
        "started",
    )

    def __init__(self, spec: JobSpec, site: SiteState) -> None:
        self.spec = spec
        self.site = site
        self.active = spec.active
        self.is_backup = spec.job_type == "BACKUP"
        self.executions: list[Execution] = []  # creation order (oldest first)
        self.outcomes: list[Outcome] = list(spec.outcomes)
        self.started = 0  # executions started through the API (index into outcomes)
        self.retained: tuple[int, float, frozenset[int]] | None = None  # see SimState._retained
        self.json_cache: dict[bool, tuple[tuple, bytes]] = {}  # see SimState._job_bytes
        self.phases, self.queued = _cumulative_phases(spec.phases or DEFAULT_PHASES)
        self.scheduled_until = 0.0  # with run_schedules: runs at or before this instant exist

    def next_outcome(self) -> Outcome:
        outcome = self.outcomes[min(self.started, len(self.outcomes) - 1)]
        self.started += 1
        return outcome


class SiteState:
    __slots__ = ("executions", "jobs", "site_id", "site_type")

    def __init__(self, site_id: str, site_type: str) -> None:
        self.site_id = site_id
        self.site_type = site_type
        self.jobs: dict[int, JobState] = {}
        self.executions: list[Execution] = []  # creation order (oldest first)


class Execution:
    """One execution. Status and times at an instant come from :meth:`snapshot`."""

    __slots__ = (
        "_frag",
        "_frag_retained",
        "created",
        "detail",
        "duration",
        "final_size",
        "final_status",
        "id",
        "job",
        "parent",
        "run_type",
    )

    def __init__(
        self,
        exec_id: int,
        job: JobState,
        run_type: str,
        created: float,
        duration: float,
        status: str,
        detail: str | None,
        final_size: int,
        parent: str | None,
    ) -> None:
        self.id = exec_id
        self.job = job
        self.run_type = run_type
        self.created = created
        self.duration = max(0.0, float(duration))
        self.final_status = status
        self.detail = detail if detail is not None else DEFAULT_STATUS_DETAILS.get(status)
        self.final_size = int(final_size)
        self.parent = parent
        self._frag: bytes | None = None
        self._frag_retained = False

    @property
    def end(self) -> float:
        return self.created + self.duration

    def is_final(self, now: float) -> bool:
        return now >= self.created + self.duration

    def snapshot(self, now: float) -> tuple[str, float | None, float | None, int, str | None, bool]:
        """(status, start_time, end_time, backup_set_size, status_detail, final) at ``now``."""
        d = self.duration
        q = self.job.queued
        elapsed = now - self.created
        if elapsed >= d:
            return (
                self.final_status,
                self.created + q * d,
                self.created + d,
                self.final_size,
                self.detail,
                True,
            )
        frac = max(0.0, elapsed / d)
        status = self.job.phases[-1][0]
        for name, end in self.job.phases:
            if frac < end:
                status = name
                break
        if frac < q:
            return status, None, None, 0, None, False
        size = int(self.final_size * (frac - q) / (1.0 - q))
        return status, self.created + q * d, None, size, None, False


class SimState:
    """All sites, jobs and executions of one simulator, guarded by one lock."""

    def __init__(
        self,
        scenario: Scenario,
        clock: SimClock,
        *,
        on_concurrent_execute: str = "reject",
        executions_order: str = "newest_first",
        run_schedules: bool = False,
    ) -> None:
        if on_concurrent_execute not in ("reject", "allow"):
            raise ValueError("on_concurrent_execute must be 'reject' or 'allow'")
        if executions_order not in ("newest_first", "oldest_first"):
            raise ValueError("executions_order must be 'newest_first' or 'oldest_first'")
        self.lock = threading.RLock()
        self.clock = clock
        self.on_concurrent_execute = on_concurrent_execute
        self.executions_order = executions_order
        self.run_schedules = run_schedules
        self.summary_details = scenario.summary_details
        self.sites: dict[str, SiteState] = {}
        self.by_id: dict[str, Execution] = {}
        self._next_id = FIRST_EXECUTION_ID
        self._build(scenario)

    # -- construction ---------------------------------------------------------------------------

    def _build(self, scenario: Scenario) -> None:
        start = self.clock.start
        pending: list[tuple[float, JobState, HistoryEntry]] = []
        for site_spec in scenario.sites:
            site = SiteState(site_spec.site_id, site_spec.site_type)
            self.sites[site.site_id] = site
            for spec in site_spec.jobs:
                job = JobState(spec, site)
                job.scheduled_until = start
                site.jobs[spec.job_id] = job
                for entry in _history_entries(spec):
                    duration = spec.duration if entry.duration is None else entry.duration
                    created = start - entry.ended_ago - duration
                    pending.append((created, job, entry))
        pending.sort(key=lambda item: (item[0], item[1].site.site_id, item[1].spec.job_id))
        for created, job, entry in pending:
            spec = job.spec
            duration = spec.duration if entry.duration is None else entry.duration
            if entry.backup_set_size is not None:
                size = entry.backup_set_size
            else:
                size = spec.backup_size if entry.status == SUCCESSFUL else spec.backup_size // 2
            run_type = entry.run_type or (spec.backup_type if spec.backup_type in RUN_TYPES else "FULL")
            self._add_execution(job, run_type, created, duration, entry.status, entry.status_detail, size)

    def _add_execution(
        self,
        job: JobState,
        run_type: str,
        created: float,
        duration: float,
        status: str,
        detail: str | None,
        final_size: int,
    ) -> Execution:
        parent = None
        if run_type != "FULL":
            for prev in reversed(job.executions):
                if prev.run_type == "FULL" and prev.final_status == SUCCESSFUL and prev.end <= created:
                    parent = str(prev.id)
                    break
        execution = Execution(
            self._next_id, job, run_type, created, duration, status, detail, final_size, parent
        )
        self._next_id += 1
        job.executions.append(execution)
        job.site.executions.append(execution)
        self.by_id[str(execution.id)] = execution
        return execution

    # -- lookups --------------------------------------------------------------------------------

    def site(self, site_id: str) -> SiteState:
        try:
            return self.sites[site_id]
        except KeyError:
            raise SimError(404, f"site {site_id} not found") from None

    def job(self, site_id: str, job_id: int | str) -> JobState:
        site = self.site(site_id)
        key = str(job_id)
        if not (key.isascii() and key.isdigit()):
            raise SimError(404, f"job {key} not found in site {site_id}")
        try:
            return site.jobs[int(key)]
        except KeyError:
            raise SimError(404, f"job {key} not found in site {site_id}") from None

    def find_job(self, job_id: int, site_id: str | None) -> JobState:
        """Python-side lookup: ``site_id=None`` searches every site."""
        if site_id is not None:
            return self.job(site_id, job_id)
        for site in self.sites.values():
            if int(job_id) in site.jobs:
                return site.jobs[int(job_id)]
        raise KeyError(f"job {job_id} not found in any site")

    # -- actions --------------------------------------------------------------------------------

    def run_due_schedules(self, now: float) -> int:
        """With ``run_schedules``: start every scheduled run due by ``now`` (BaaS's own scheduler).

        Lazy like everything else here: runs are created, at their slot's instant, when a request
        (or a control call) looks at the state. A slot whose job still runs the previous execution
        is skipped under ``on_concurrent_execute="reject"``. Returns how many runs were started.
        """
        if not self.run_schedules:
            return 0
        started = 0
        with self.lock:
            for site in self.sites.values():
                for job in site.jobs.values():
                    slot = self._next_run(job, job.scheduled_until)
                    while slot is not None and slot <= now:
                        job.scheduled_until = slot
                        if self.on_concurrent_execute == "allow" or not any(
                            not e.is_final(slot) for e in job.executions[-3:]
                        ):
                            self._start(
                                job,
                                job.spec.backup_type if job.spec.backup_type in RUN_TYPES else "FULL",
                                slot,
                            )
                            started += 1
                        slot = self._next_run(job, slot)
        return started

    def _start(self, job: JobState, run_type: str, created: float) -> Execution:
        spec = job.spec
        outcome = job.next_outcome()
        duration = spec.duration if outcome.duration is None else outcome.duration
        size = outcome.backup_size
        if size is None:
            size = spec.backup_size if outcome.status == SUCCESSFUL else spec.backup_size // 2
        return self._add_execution(
            job, run_type, created, duration, outcome.status, outcome.status_detail, size
        )

    def execute(self, site_id: str, job_id: int | str, run_type: str = "FULL") -> Execution:
        with self.lock:
            self.run_due_schedules(self.clock.now())
            job = self.job(site_id, job_id)
            spec = job.spec
            if not job.active:
                raise SimError(400, f"job {spec.job_id} ({spec.name}) is not active and cannot be executed")
            now = self.clock.now()
            if self.on_concurrent_execute == "reject":
                for running in reversed(job.executions):
                    if not running.is_final(now):
                        status = running.snapshot(now)[0]
                        raise SimError(
                            409,
                            f"job {spec.job_id} ({spec.name}) already has a running execution "
                            f"{running.id} ({status})",
                            execution_id=str(running.id),
                        )
            return self._start(job, run_type, now)

    def finish_all(self) -> int:
        """End every running execution now (with its planned outcome); returns how many."""
        with self.lock:
            now = self.clock.now()
            count = 0
            for execution in self.by_id.values():
                if not execution.is_final(now):
                    execution.duration = max(0.0, now - execution.created)
                    execution.job.retained = None
                    count += 1
            return count

    def set_outcome(self, job: JobState, outcomes: Iterable[Outcome | str | dict] | Outcome | str) -> None:
        if isinstance(outcomes, str | Outcome | dict):
            outcomes = [outcomes]
        parsed = [Outcome.parse(o) for o in outcomes]
        if not parsed:
            raise ValueError("outcomes must not be empty")
        with self.lock:
            job.outcomes = parsed
            job.started = 0

    # -- payloads -------------------------------------------------------------------------------

    def _summarised(self, job: JobState, now: float) -> Execution | None:
        """The execution ``last_execution_details`` describe (see ``Scenario.summary_details``)."""
        if self.summary_details == "none":
            return None
        if self.summary_details == "finished":
            return next((e for e in reversed(job.executions) if e.is_final(now)), None)
        return job.executions[-1] if job.executions else None

    def job_dict(self, job: JobState, now: float, *, with_settings: bool) -> dict[str, Any]:
        spec = job.spec
        details = None
        last = self._summarised(job, now)
        if last is not None:
            status, start, end, size, _detail, _final = last.snapshot(now)
            details = {
                "end_time": iso(end),
                "start_time": iso(start),
                "status": status,
                "backup_set_size": size,
                "backup_job_id": spec.job_id,
                "backup_job_execution_id": last.id,
                "restore_execution_id": None if job.is_backup else last.id,
            }
        data: dict[str, Any] = {
            "site_id": job.site.site_id,
            "auto_abort_in_minutes": spec.auto_abort_in_minutes,
            "backup_type": spec.backup_type,
            "description": spec.description,
        }
        if with_settings:
            data["job_settings"] = (
                spec.job_settings if spec.job_settings is not None else default_job_settings(spec)
            )
        data.update(
            {
                "is_active": job.active,
                "is_auto_abort_active": spec.is_auto_abort_active,
                "job_id": spec.job_id,
                "job_type": spec.job_type,
                "last_execution_details": details,
                "name": spec.name,
                "next_run_time": iso(self._next_run(job, now)),
                "no_of_retention_copies": spec.no_of_retention_copies,
                "priority": spec.priority,
                "siteTargetType": spec.site_target_type,
                "backup_mechanism": spec.backup_mechanism,
                "targetSiteDetails": {
                    "target_site_id": spec.target_site_id,
                    "target_retention_copies_count": spec.target_retention_copies_count,
                    "target_retention_source": spec.target_retention_source,
                },
            }
        )
        if spec.extra:
            data.update(spec.extra)
        return data

    def _next_run(self, job: JobState, now: float) -> float | None:
        interval = job.spec.schedule_interval
        if not job.active or not interval:
            return None
        # A fixed daily (or whatever) slot, spread a little per job id.
        anchor = self.clock.start + (job.spec.job_id * 997) % interval
        if now < anchor:
            return anchor
        return anchor + (math.floor((now - anchor) / interval) + 1) * interval

    def jobs_payload(
        self,
        site_id: str,
        *,
        is_active: bool | None = None,
        job_type: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> bytes:
        with self.lock:
            site = self.site(site_id)
            now = self.clock.now()
            self.run_due_schedules(now)
            jobs = [
                job
                for job_id, job in sorted(site.jobs.items())
                if (is_active is None or job.active == is_active)
                and (job_type is None or job.spec.job_type == job_type)
            ]
            if page is not None and page_size is not None:
                jobs = jobs[(page - 1) * page_size : page * page_size]
            return b"[" + b",".join([self._job_bytes(job, now, False) for job in jobs]) + b"]"

    def job_payload(self, site_id: str, job_id: int | str) -> bytes:
        with self.lock:
            now = self.clock.now()
            self.run_due_schedules(now)
            return self._job_bytes(self.job(site_id, job_id), now, True)

    def _job_bytes(self, job: JobState, now: float, with_settings: bool) -> bytes:
        """A job's JSON, cached while its last execution is final and nothing else changed."""
        last = job.executions[-1] if job.executions else None
        key = (job.active, last.id if last else None, self._next_run(job, now))
        cached = job.json_cache.get(with_settings)
        if cached is not None and cached[0] == key:
            return cached[1]
        data = _dumps(self.job_dict(job, now, with_settings=with_settings)).encode()
        if last is None or last.is_final(now):
            job.json_cache[with_settings] = (key, data)
        return data

    def executions_payload(
        self,
        site_id: str,
        job_id: int | str | None = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
    ) -> bytes:
        with self.lock:
            now = self.clock.now()
            self.run_due_schedules(now)
            items = self.site(site_id).executions if job_id is None else self.job(site_id, job_id).executions
            n = len(items)
            order: Sequence[int] = (
                range(n - 1, -1, -1) if self.executions_order == "newest_first" else range(n)
            )
            if page is not None and page_size is not None:
                order = order[(page - 1) * page_size : page * page_size]
            frags = []
            for i in order:
                e = items[i]
                frags.append(self._fragment(e, e.id in self._retained(e.job, now), now))
        return b"[" + b",".join(frags) + b"]"

    @staticmethod
    def _retained(job: JobState, now: float) -> frozenset[int]:
        """Ids of the job's executions whose save set is retained: its newest
        ``no_of_retention_copies`` successful (final) backups. Cached until an execution of the
        job is added or becomes final."""
        cached = job.retained
        if cached is not None and cached[0] == len(job.executions) and now < cached[1]:
            return cached[2]
        ids: set[int] = set()
        valid_until = math.inf
        keep = job.spec.no_of_retention_copies if job.is_backup else 0
        for e in reversed(job.executions):
            end = e.created + e.duration
            if now < end:
                valid_until = min(valid_until, end)
            elif len(ids) < keep and e.final_status == SUCCESSFUL:
                ids.add(e.id)
        result = frozenset(ids)
        job.retained = (len(job.executions), valid_until, result)
        return result

    def _fragment(self, e: Execution, retained: bool, now: float) -> bytes:
        frag = e._frag
        if frag is not None and e._frag_retained == retained:
            return frag
        snap = e.snapshot(now)
        frag = _dumps(self.execution_dict(e, snap, retained)).encode()
        if snap[5]:
            e._frag = frag
            e._frag_retained = retained
        return frag

    def execution_dict(self, e: Execution, snap: tuple, retained: bool) -> dict[str, Any]:
        status, start, end, size, detail, final = snap
        job = e.job
        spec = job.spec
        saveset = job.is_backup and final and status == SUCCESSFUL
        replication = None
        if spec.target_site_id and final:
            replication = SUCCESSFUL if status == SUCCESSFUL else None
        return {
            "site_id": job.site.site_id,
            "target_site": spec.target_site_id or job.site.site_id,
            "job_id": spec.job_id,
            "job_name": spec.name,
            "backup_mechanism": spec.backup_mechanism,
            "job_type": spec.job_type,
            "execution_id": str(e.id),
            "execution_name": f"{spec.name}-{e.id}",
            "start_time": iso(start),
            "end_time": iso(end),
            "backup_set_size": size,
            "server_execution_id": str(880000 + e.id),
            "parent_execution_id": e.parent,
            "status": status,
            "saveset_replication_status": replication,
            "is_saveset_retained": saveset and retained,
            "is_saveset_deleted": saveset and not retained,
            "saveset_id": 500000 + e.id if saveset else None,
            "run_type": e.run_type,
            "site_type": job.site.site_type,
            "status_detail": detail,
        }


def _history_entries(spec: JobSpec) -> list[HistoryEntry]:
    if isinstance(spec.history, list):
        return spec.history
    entries = []
    for i in range(spec.history):
        # Deterministic +-10% variation of duration and size, so the history looks real.
        wobble = 1.0 + (((spec.job_id * 31 + i * 17) % 21) - 10) / 100.0
        entries.append(
            HistoryEntry(
                SUCCESSFUL,
                ended_ago=spec.history_interval * (i + 1),
                duration=spec.duration * wobble,
                backup_set_size=int(spec.backup_size * wobble),
            )
        )
    return entries


__all__ = ["Execution", "SimClock", "SimError", "SimState", "iso", "normalize_status"]
