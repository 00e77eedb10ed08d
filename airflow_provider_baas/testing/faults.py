"""Scriptable fault injection for the BaaS simulator (standard library only)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

#: ``status``: answer with ``status`` (and a JSON error body, optional ``Retry-After``);
#: ``delay``: wait ``delay`` real seconds, then answer normally;
#: ``drop``: close the connection without any answer (the request is NOT processed);
#: ``malformed``: answer 200 with a body that is not valid JSON;
#: ``lost_answer``: process the request normally (e.g. start the execution), then close the
#: connection without sending the answer.
FAULT_KINDS = ("status", "delay", "drop", "malformed", "lost_answer")

#: Body sent by ``malformed`` faults: truncated JSON.
MALFORMED_BODY = b'[{"job_id": 34, "name": "daily_warehouse_backup", "status": "RUNN'


@dataclass
class Fault:
    """One scripted fault, matched against each request's method and path.

    ``path`` is a glob (``fnmatch``; ``*`` also matches ``/``) matched against the whole request
    path, e.g. ``"*/execute"`` or ``"/data-protection/v2/sites/*/executions"``; ``path_regex``
    (searched, not anchored) is an alternative. ``method`` is ``"*"`` or an HTTP method.

    The fault lets the first ``skip`` matching requests through, then hits the next ``count``
    matching requests (``count=None``: every one). Every fault that matches a request counts it
    (``seen``), whether or not it is the one that answers; the first fault (in the order added)
    that is due answers the request (``hits``).
    """

    kind: str = "status"
    method: str = "*"
    path: str = "*"
    path_regex: str | None = None
    count: int | None = 1
    skip: int = 0
    #: ``status`` faults: the HTTP status to answer with.
    status: int = 503
    #: ``Retry-After`` header: a number of seconds, or a string sent verbatim (e.g. an HTTP-date).
    retry_after: float | str | None = None
    #: ``Retry-After`` as an HTTP-date this many seconds after the moment of the answer.
    retry_after_date: float | None = None
    #: Real seconds to wait before answering (any kind; the whole point of kind ``delay``).
    delay: float = 0.0
    #: JSON body of a ``status`` fault (default: the simulator's usual error object).
    body: Any = None
    #: Extra response headers of a ``status`` fault.
    headers: dict[str, str] = field(default_factory=dict)
    #: Matching requests seen so far (runtime counter, not part of the specification).
    seen: int = field(default=0, init=False, compare=False)
    #: Requests this fault answered so far (runtime counter).
    hits: int = field(default=0, init=False, compare=False)

    def __post_init__(self) -> None:
        self.kind = str(self.kind).lower().replace("-", "_")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        self.method = str(self.method).upper()
        if self.count is not None and self.count < 0:
            raise ValueError("fault count must be >= 0 or None (unlimited)")
        if self.skip < 0:
            raise ValueError("fault skip must be >= 0")
        if self.delay < 0:
            raise ValueError("fault delay must be >= 0")
        if self.kind == "delay" and self.delay <= 0:
            raise ValueError("a 'delay' fault needs delay > 0 (seconds)")
        if not 100 <= int(self.status) <= 599:
            raise ValueError(f"fault status {self.status} is not an HTTP status")
        self.status = int(self.status)
        self._regex = re.compile(self.path_regex) if self.path_regex else None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request's method and path are this fault's.

        :param method: the request's HTTP method.
        :param path: the request's whole path.
        """
        if self.method != "*" and self.method != method:
            return False
        if self._regex is not None:
            return self._regex.search(path) is not None
        return fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        """True once the fault has answered ``count`` requests."""
        return self.count is not None and self.hits >= self.count

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Fault) -> Fault:
        """A fault from its dict form (keys are the attributes; a :class:`Fault` is returned as is).

        :param data: the dict, or a fault.
        """
        if isinstance(data, Fault):
            return data
        if not isinstance(data, Mapping):
            raise TypeError(f"a fault must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The specification (without runtime counters), omitting fields left at their default."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            if not f.init or f.name == "kind":
                continue
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if value != default:
                out[f.name] = value
        return out


class FaultSet:
    """Thread-safe ordered list of faults (the simulator's active faults)."""

    def __init__(self, faults: Iterable[Fault | Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = [Fault.from_dict(f) for f in faults]

    def __bool__(self) -> bool:
        return bool(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def add(self, fault: Fault | Mapping[str, Any]) -> Fault:
        fault = Fault.from_dict(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def snapshot(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, method: str, path: str) -> Fault | None:
        """Count the request in every matching fault; return the first one that is due, if any."""
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.skip and not fault.exhausted:
                    fault.hits += 1
                    chosen = fault
        return chosen
