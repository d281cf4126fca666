"""The concurrent sweep: every applicable check for every site of the inventory.

Planning asks each check for the requests it would make for a site
(``requests_for_site``); a bounded pool of worker threads runs them through
``gridready.engine.run_check``, each under its own Deadline (the largest
``timeout`` of the milestones using the check). Results are handed to the
caller's ``emit`` on the calling thread as they arrive, so one thread writes
the history.

A thread blocked inside C (a DNS lookup, a stuck ``connect``) cannot be
interrupted. The workers are daemon threads, and one still busy ``GRACE``
seconds after its deadline is abandoned: its job is recorded UNKNOWN
("timeout after Ns while <stage>"), a fresh worker takes its place, and
whatever it returns later is dropped. So a hung site costs its own timeout
plus the grace, and never keeps the process from exiting.

Local-only checks (gLExec on worker nodes) are not run: their results come
from ``gridready ingest``; an inventory ``glexec:`` file is read as if ingested
(``result.read_result``: the same bounds, and no result from the future).

Every milestone ``timeout`` must be finite, positive and at most MAX_TIMEOUT,
else the Sweeper refuses the rules (ConfigError) before anything runs.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gridready.checks.interface import Assessment, Check, Observation, Request
from gridready.deadline import Deadline
from gridready.engine import run_check
from gridready.errors import CheckError, CheckTimeout, ConfigError, SourceError
from gridready.models import CHECKS, MAX_TIMEOUT, Inventory, Milestone, Rules, Site, valid_timeout
from gridready.result import ProbeResult, read_result
from gridready.store import StoredOutcome, outcomes_of

CheckLoader = Callable[[str], Check]

#: Checks that run on the site's own machines; their results are ingested, not swept.
LOCAL_CHECKS: tuple[str, ...] = ("glexec",)
#: Seconds past a check's deadline before its worker thread is given up on.
GRACE = 1.0
#: Checks in flight at once: a whole Tier-0/1 sweep (~36 jobs) nearly in one wave,
#: without hammering a shared top-level BDII. A sweep that must end within one
#: timeout whatever hangs needs --concurrency of at least its number of jobs.
DEFAULT_CONCURRENCY = 32


def check_timeouts(rules: Rules) -> None:
    """ConfigError naming the milestone unless every ``timeout`` is a finite number in (0, MAX_TIMEOUT]."""
    problems = []
    for m in rules.milestones:
        t = m.timeout
        # The rules loader applies the same bound; Rules can be built by other paths.
        if not valid_timeout(t):
            where = rules.path or "milestone rules"
            problems.append(f"{where}: milestone '{m.id}': timeout {t!r} is not a number of seconds "
                            f"more than 0 and at most {MAX_TIMEOUT:g}")
    if problems:
        raise ConfigError(problems)


@dataclass(frozen=True)
class Job:
    """One run of one check for one site."""

    site: Site
    check: Check
    options: Mapping[str, Any]
    milestones: tuple[Milestone, ...]
    timeout: float
    #: Stable key of what is checked within the site (see Store.add).
    target: str


@dataclass(frozen=True)
class Done:
    """A result ready to store, with its milestone outcomes."""

    result: ProbeResult
    outcomes: list[StoredOutcome]
    origin: str
    target: str
    source: str | None = None


@dataclass(frozen=True)
class SweepSummary:
    results: int
    unknown: int
    timed_out: int
    seconds: float


class _Stub:
    """Stands in for a check that could not run, so the engine still builds the result."""

    description = ""

    def __init__(self, name: str, error: CheckError | None = None, assessment: Assessment | None = None):
        self.name = name
        self._error = error
        self._assessment = assessment

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """No options: never run as a probe."""

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        return ()

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return ()

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        if self._error is not None:
            raise self._error
        return Observation(target="", data=None)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        return self._assessment or Assessment()


def option_defaults(check: Check) -> dict[str, Any]:
    """The option values a probe of ``check`` gets with no arguments (argparse dests)."""
    from gridready.nagios.args import build_parser
    parser = build_parser(check)
    return {a.dest: a.default for a in parser._actions
            if a.dest != argparse.SUPPRESS and a.default != argparse.SUPPRESS}


def target_key(options: Mapping[str, Any]) -> str:
    """A stable, readable key for a request: its set options, sorted."""
    return " ".join(f"{k}={v}" for k, v in sorted(options.items()) if v not in (None, False, "", [], ()))


class Sweeper:
    """Plans and runs one sweep over an inventory."""

    def __init__(self, inventory: Inventory, rules: Rules, as_of: date, *,
                 loader: CheckLoader | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                 now: Callable[[], datetime] | None = None, grace: float = GRACE,
                 credentials: Mapping[str, str | None] | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        check_timeouts(rules)
        if loader is None:
            from gridready.checks import load_check
            loader = load_check
        self.inventory = inventory
        self.rules = rules
        self.as_of = as_of
        self.loader = loader
        self.concurrency = concurrency
        self.now = now
        self.grace = grace
        #: Grid credentials (capath, cert, key, proxy) for requests to https:// sources.
        self.credentials = {k: v for k, v in (credentials or {}).items() if v}

    def _time(self) -> datetime | None:
        return self.now() if self.now else None

    def _stub_result(self, name: str, site: Site, milestones: Sequence[Milestone],
                     error: CheckError | None = None, assessment: Assessment | None = None,
                     options: Mapping[str, Any] | None = None) -> ProbeResult:
        request = Request(options=options or {}, site=site.name, tier=site.tier, inventory=self.inventory)
        result = run_check(_Stub(name, error, assessment), request, milestones, self.rules.waivers,
                           self.as_of, Deadline(1.0), now=self._time())
        if error is None and not (options or {}):
            result.host = None
        return result

    def _unknown(self, name: str, site: Site, milestones: Sequence[Milestone], error: CheckError,
                 target: str = "", options: Mapping[str, Any] | None = None) -> Done:
        result = self._stub_result(name, site, milestones, error=error, options=options)
        return Done(result, outcomes_of(result), "sweep", target)

    def plan(self) -> tuple[list[Job], list[Done]]:
        """The jobs to run, and the results known without running anything."""
        jobs: list[Job] = []
        ready: list[Done] = []
        checks: dict[str, Check | Exception] = {}
        defaults_of: dict[str, dict[str, Any]] = {}
        names = [c for c in CHECKS if self.rules.for_check(c)]
        for site in self.inventory.sites:
            for name in names:
                milestones = tuple(m for m in self.rules.for_check(name) if m.scope.applies(site.name, site.tier))
                if not milestones:
                    continue
                if name in LOCAL_CHECKS:
                    ready.extend(self._local(name, site, milestones))
                    continue
                if name not in checks:
                    try:
                        checks[name] = self.loader(name)
                    except Exception as exc:  # a broken check module must not stop the sweep
                        checks[name] = exc
                check = checks[name]
                if isinstance(check, Exception):
                    ready.append(self._unknown(name, site, milestones, CheckError(
                        f"check {name} unavailable: {type(check).__name__}: {check}")))
                    continue
                try:
                    requests = list(check.requests_for_site(site))
                    if name not in defaults_of:
                        defaults_of[name] = option_defaults(check)
                    defaults = defaults_of[name]
                except CheckError as exc:
                    ready.append(self._unknown(name, site, milestones, exc))
                    continue
                except Exception as exc:
                    ready.append(self._unknown(name, site, milestones, CheckError(
                        f"internal error: {type(exc).__name__}: {exc}")))
                    continue
                if not requests:
                    result = self._stub_result(name, site, milestones, assessment=Assessment(
                        applicable=False, summary=f"no {name} service for {site.name} in the inventory"))
                    ready.append(Done(result, outcomes_of(result), "sweep", ""))
                    continue
                timeout = max(m.timeout for m in self.rules.for_check(name))
                for options in requests:
                    merged = {**defaults, **options, **self._credentials_for(options, defaults),
                              "timeout": timeout, "site": site.name, "tier": site.tier, "as_of": self.as_of}
                    jobs.append(Job(site, check, merged, milestones, timeout, target_key(options)))
        return jobs, ready

    def _credentials_for(self, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        # Only where an https:// source is read, and only options the check has:
        # checks refuse credentials that cannot apply (e.g. with an LDIF file).
        if not any(isinstance(v, str) and v.lower().startswith("https://") for v in options.values()):
            return {}
        return {k: v for k, v in self.credentials.items() if k in defaults}

    def _local(self, name: str, site: Site, milestones: Sequence[Milestone]) -> list[Done]:
        path = getattr(site, name, None)
        if not isinstance(path, str):
            return []
        try:
            result = read_result(path, self._time())
            if result.check != name:
                raise SourceError(f"{path}: a {result.check} result, expected {name}")
            if (result.site or "").casefold() != site.name.casefold():
                raise SourceError(f"{path}: a result for site {result.site}, expected {site.name}")
        except SourceError as exc:
            return [self._unknown(name, site, milestones, exc, target=path)]
        return [Done(result, outcomes_of(result), "ingest", result.host or "", source=path)]

    def _work(self, job: Job, deadline: Deadline) -> Done:
        request = Request(options=job.options, site=job.site.name, tier=job.site.tier, inventory=self.inventory)
        try:
            result = run_check(job.check, request, job.milestones, self.rules.waivers, self.as_of, deadline,
                               now=self._time())
        except BaseException as exc:  # any bug in a check: this site UNKNOWN, the sweep goes on
            return self._unknown(job.check.name, job.site, job.milestones,
                                 CheckError(f"internal error: {type(exc).__name__}: {exc}"), job.target,
                                 job.options)
        return Done(result, outcomes_of(result), "sweep", job.target)

    def _timed_out(self, job: Job, stage: str) -> Done:
        return self._unknown(job.check.name, job.site, job.milestones, CheckTimeout(stage, job.timeout),
                             job.target, job.options)

    def run(self, emit: Callable[[Done], None],
            progress: Callable[[int, int], None] | None = None) -> SweepSummary:
        """Run the sweep, calling ``emit`` (on this thread) with every result as it arrives."""
        started = time.monotonic()
        jobs, ready = self.plan()
        total = len(jobs) + len(ready)
        counts = {"results": 0, "unknown": 0, "timed_out": 0}

        def deliver(done: Done) -> None:
            counts["results"] += 1
            counts["unknown"] += any(o.outcome.value == "unknown" for o in done.outcomes)
            counts["timed_out"] += done.result.timeout is not None
            emit(done)
            if progress:
                progress(counts["results"], total)

        if progress:
            progress(0, total)
        for done in ready:
            deliver(done)
        if jobs:
            _Pool(self, jobs).run(deliver)
        return SweepSummary(counts["results"], counts["unknown"], counts["timed_out"],
                            time.monotonic() - started)


@dataclass
class _Slot:
    """A job in flight on a worker thread."""

    index: int
    job: Job
    deadline: Deadline
    started: float
    abandoned: bool = False


@dataclass
class _Pool:
    sweeper: Sweeper
    jobs: list[Job]
    _todo: queue.SimpleQueue[tuple[int, Job, Deadline | None]] = field(default_factory=queue.SimpleQueue)
    _done: queue.SimpleQueue[tuple[int, Done]] = field(default_factory=queue.SimpleQueue)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _flying: dict[int, _Slot] = field(default_factory=dict)

    def _worker(self) -> None:
        while True:
            try:
                index, job, deadline = self._todo.get_nowait()
            except queue.Empty:
                return
            if deadline is None:
                deadline = Deadline(job.timeout)
            slot = _Slot(index, job, deadline, deadline.started)
            with self._lock:
                self._flying[index] = slot
            done = self.sweeper._work(job, deadline)
            with self._lock:
                if slot.abandoned:
                    # Already recorded as timed out and replaced by a fresh worker.
                    return
                del self._flying[index]
            self._done.put((index, done))

    def _start_worker(self) -> None:
        threading.Thread(target=self._worker, name="gridready-sweep", daemon=True).start()

    def run(self, deliver: Callable[[Done], None]) -> None:
        grace = self.sweeper.grace
        # The first wave can run as soon as the sweep starts: their clocks start
        # now, not when the OS gets round to their thread (starting hundreds of
        # threads takes a second or more), so the sweep ends within the timeout.
        first_wave = min(self.sweeper.concurrency, len(self.jobs))
        for i, job in enumerate(self.jobs):
            self._todo.put((i, job, Deadline(job.timeout) if i < first_wave else None))
        pending = set(range(len(self.jobs)))
        # A backstop, never reached while workers honour the per-job bound below.
        limit = time.monotonic() + sum(j.timeout + grace for j in self.jobs) + 10
        for _ in range(min(self.sweeper.concurrency, len(self.jobs))):
            self._start_worker()
        while pending:
            now = time.monotonic()
            stuck: list[_Slot] = []
            with self._lock:
                for index, slot in list(self._flying.items()):
                    if now >= slot.started + slot.job.timeout + grace or now >= limit:
                        slot.abandoned = True
                        del self._flying[index]
                        stuck.append(slot)
                next_check = min((s.started + s.job.timeout + grace for s in self._flying.values()),
                                 default=now + 0.5)
            for slot in stuck:
                pending.discard(slot.index)
                deliver(self.sweeper._timed_out(slot.job, slot.deadline.stage))
                self._start_worker()
            if now >= limit:
                self._give_up(pending, deliver)
                return
            try:
                index, done = self._done.get(timeout=max(0.01, min(next_check, limit) - time.monotonic()))
            except queue.Empty:
                continue
            pending.discard(index)
            deliver(done)

    def _give_up(self, pending: set[int], deliver: Callable[[Done], None]) -> None:
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        for index in sorted(pending):
            job = self.jobs[index]
            deliver(self.sweeper._unknown(job.check.name, job.site, job.milestones,
                                          CheckError("not run: the sweep ran out of time"), job.target,
                                          job.options))
