"""The sweep engine with a scripted fake check: concurrency, failures, hangs, outcomes."""

from __future__ import annotations

import argparse
import io
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gridready.checks.interface import Assessment, Check, Finding, Observation, Request, Severity
from gridready.commands.sweep import Progress
from gridready.compliance import Compliance, Outcome
from gridready.deadline import Deadline
from gridready.errors import CheckError, ConfigError, SourceError
from gridready.models import Inventory, Milestone, Rules, Scope, Site
from gridready.store import Store
from gridready.sweep import Done, Sweeper
from tests.helpers import REPO, run_py, write

XROOT = Milestone(id="xroot", title="xroot published", source="GDB 2010-06", deadline=date(2010, 9, 30),
                  check="xrootd", scope=Scope(tiers=(1,)), timeout=1.0, expect={"want": "xroot"})
XROOT2 = Milestone(id="xroot-t0", title="xroot at CERN", source="GDB 2010-06", deadline=date(2010, 9, 30),
                   check="xrootd", scope=Scope(sites=("CERN-PROD",)), timeout=0.5, expect={"want": "xroot"})
GLEXEC = Milestone(id="glexec", title="glexec", source="GDB 2010-04", deadline=date(2010, 5, 31),
                   check="glexec", scope=Scope(tiers=(1,)))
RULES = Rules(milestones=(XROOT, XROOT2, GLEXEC))
AS_OF = date(2010, 6, 8)


class FakeCheck:
    """Behaves by the first label of the door's host name: pass.a, fail.b, hang.c, ..."""

    name = "xrootd"
    description = "fake xrootd check"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.requests: list[Request] = []
        self.planned: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-H", "--host")
        parser.add_argument("--role", default="any")
        parser.add_argument("--srr")
        parser.add_argument("--capath")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        return ()

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        self.planned.append(site.name)
        if any(d.startswith("plan-error") for d in site.xrootd):
            raise ValueError("bad door list")
        if "no-source" in site.xrootd:
            raise CheckError(f"no xrootd source for {site.name} in the inventory")
        return [{"host": door, **({"srr": site.srr} if site.srr else {})} for door in site.xrootd]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        host = str(request.opt("host"))
        mode = host.split(".")[0]
        with self.lock:
            self.requests.append(request)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if mode == "raise":
                raise RuntimeError("boom")
            if mode == "error":
                raise SourceError(f"{host}: connection refused")
            if mode == "hang":
                with deadline.during(f"reading the kXR_protocol reply from {host}"):
                    for _ in range(10_000):
                        deadline.remaining()
                        time.sleep(0.01)
            if mode == "block":
                # Like a thread stuck in C (DNS): never looks at the deadline.
                with deadline.during(f"resolving {host}"):
                    self.release.wait(30)
            if mode == "slow":
                time.sleep(0.3)
            return Observation(target=host, data=mode)
        finally:
            with self.lock:
                self.running -= 1

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        if observation.data == "fail":
            return Assessment((Finding(False, "published as 'root'", "publish 'xroot'"),))
        if observation.data == "degraded":
            return Assessment((Finding(False, "door draining", "", Severity.WARNING),))
        if observation.data == "assessraise":
            raise KeyError("missing")
        return Assessment((Finding(True, "published as 'xroot'"),))


@pytest.fixture()
def fake() -> Iterator[FakeCheck]:
    check = FakeCheck()
    yield check
    check.release.set()


def sweep(fake: FakeCheck, sites: Sequence[Site], rules: Rules = RULES, concurrency: int = 4,
          loader: Any = None) -> tuple[list[Done], float]:
    done: list[Done] = []
    started = time.monotonic()
    Sweeper(Inventory(tuple(sites)), rules, AS_OF, loader=loader or (lambda name: fake),
            concurrency=concurrency).run(done.append)
    return done, time.monotonic() - started


def by_host(done: list[Done]) -> dict[str | None, Done]:
    return {d.result.host: d for d in done}


def test_every_request_runs_and_outcomes_are_exact(fake: FakeCheck) -> None:
    sites = [Site("RAL-LCG2", 1, xrootd=("pass.ral", "fail.ral")), Site("FZK-LCG2", 1, xrootd=("degraded.fzk",))]
    done, _ = sweep(fake, sites)
    results = by_host(done)
    assert sorted(results, key=str) == ["degraded.fzk", "fail.ral", "pass.ral"]
    [passed] = results["pass.ral"].outcomes
    [failed] = results["fail.ral"].outcomes
    [degraded] = results["degraded.fzk"].outcomes
    assert (passed.milestone, passed.outcome, passed.compliance) == ("xroot", Outcome.PASS, Compliance.COMPLIANT)
    assert (failed.outcome, failed.severity, failed.message, failed.remediation) == (
        Outcome.FAIL, Severity.CRITICAL, "published as 'root'", "publish 'xroot'")
    # Pending in June, yet stored as degraded: after the deadline it will read DUE, not OVERDUE.
    assert (degraded.compliance, degraded.severity) == (Compliance.PENDING, Severity.WARNING)
    assert {d.target for d in done} == {"host=pass.ral", "host=fail.ral", "host=degraded.fzk"}
    assert all(d.origin == "sweep" for d in done)


def test_requests_carry_probe_defaults_site_and_timeout(fake: FakeCheck) -> None:
    sweep(fake, [Site("CERN-PROD", 0, xrootd=("pass.cern",))])
    [request] = fake.requests
    assert (request.site, request.tier, request.as_of) == ("CERN-PROD", 0, AS_OF)
    assert request.options["host"] == "pass.cern" and request.options["role"] == "any"
    assert request.options["timeout"] == 1.0      # the largest timeout of the check's milestones
    assert request.options["verbose"] == 0        # a common probe option's default


def test_credentials_go_only_to_https_requests_and_known_options(fake: FakeCheck) -> None:
    sites = [Site("A", 1, srr="https://srr.a.example/srr.json", xrootd=("pass.a",)),
             Site("B", 1, srr="/data/srr/B.json", xrootd=("pass.b",)), Site("C", 1, xrootd=("pass.c",))]
    Sweeper(Inventory(tuple(sites)), RULES, AS_OF, loader=lambda n: fake,
            credentials={"capath": "/etc/grid-security/certificates", "cert": "/tmp/usercert.pem", "proxy": None}
            ).run(lambda d: None)
    seen = {r.site: (r.options.get("capath"), "cert" in r.options) for r in fake.requests}
    assert seen == {"A": ("/etc/grid-security/certificates", False), "B": (None, False), "C": (None, False)}


def test_out_of_scope_sites_are_not_checked(fake: FakeCheck) -> None:
    done, _ = sweep(fake, [Site("T2-SITE", 2, xrootd=("pass.t2",))])
    assert done == [] and fake.planned == []


def test_concurrency_is_bounded(fake: FakeCheck) -> None:
    sites = [Site(f"S{i}", 1, xrootd=(f"slow.s{i}",)) for i in range(8)]
    done, elapsed = sweep(fake, sites, concurrency=4)
    assert len(done) == 8 and fake.most == 4
    assert 0.55 < elapsed < 1.5


def test_a_failing_check_is_unknown_and_the_sweep_goes_on(fake: FakeCheck) -> None:
    sites = [Site("A", 1, xrootd=("raise.a", "error.a", "assessraise.a", "pass.a")),
             Site("B", 1, xrootd=("plan-error.b",))]
    done, _ = sweep(fake, sites)
    messages = {d.target: [(o.outcome, o.message) for o in d.outcomes] for d in done}
    assert messages == {
        "host=raise.a": [(Outcome.UNKNOWN, "internal error: RuntimeError: boom")],
        "host=error.a": [(Outcome.UNKNOWN, "error.a: connection refused")],
        "host=assessraise.a": [(Outcome.UNKNOWN, "internal error: KeyError: 'missing'")],
        "host=pass.a": [(Outcome.PASS, "published as 'xroot'")],
        "": [(Outcome.UNKNOWN, "internal error: ValueError: bad door list")],
    }
    assert by_host(done)["raise.a"].result.site == "A"


def test_a_check_honouring_its_deadline_times_out_with_its_stage(fake: FakeCheck) -> None:
    done, elapsed = sweep(fake, [Site("A", 1, xrootd=("hang.a", "pass.a"))])
    hung = by_host(done)["hang.a"]
    assert [o.message for o in hung.outcomes] == ["timeout after 1s while reading the kXR_protocol reply from hang.a"]
    assert hung.result.timeout == "reading the kXR_protocol reply from hang.a"
    assert elapsed < 1 + 2


def test_a_thread_blocked_in_c_is_abandoned_after_timeout_plus_grace(fake: FakeCheck) -> None:
    # One worker only: the other sites must still run once the blocked one is given up.
    sites = [Site("A", 1, xrootd=("block.a",)), Site("B", 1, xrootd=("pass.b",)), Site("C", 1, xrootd=("pass.c",))]
    done, elapsed = sweep(fake, sites, concurrency=1)
    assert elapsed < 1 + 2
    results = by_host(done)
    assert [(o.outcome, o.message) for o in results["block.a"].outcomes] == [
        (Outcome.UNKNOWN, "timeout after 1s while resolving block.a")]
    assert [o.outcome for o in results["pass.b"].outcomes] == [Outcome.PASS]
    assert [o.outcome for o in results["pass.c"].outcomes] == [Outcome.PASS]
    fake.release.set()
    time.sleep(0.1)                       # the abandoned worker returns: its late result is dropped
    assert len(done) == 3


def test_an_unloadable_check_makes_its_milestones_unknown(fake: FakeCheck) -> None:
    def loader(name: str) -> Check:
        raise ModuleNotFoundError("No module named 'gridready.checks.xrootd'")
    done, _ = sweep(fake, [Site("A", 1, xrootd=("pass.a",)), Site("CERN-PROD", 0)], loader=loader)
    assert [(d.result.site, [(o.milestone, o.message) for o in d.outcomes]) for d in done] == [
        ("A", [("xroot", "check xrootd unavailable: ModuleNotFoundError: No module named 'gridready.checks.xrootd'")]),
        ("CERN-PROD", [("xroot-t0", "check xrootd unavailable: ModuleNotFoundError: No module named "
                                    "'gridready.checks.xrootd'")])]


def test_a_site_without_the_service_is_not_applicable(fake: FakeCheck) -> None:
    done, _ = sweep(fake, [Site("A", 1)])
    [d] = done
    assert d.result.host is None
    assert [(o.outcome, o.message) for o in d.outcomes] == [
        (Outcome.NOT_APPLICABLE, "no xrootd service for A in the inventory")]


def test_a_site_the_inventory_cannot_check_is_unknown_with_the_reason(fake: FakeCheck) -> None:
    done, _ = sweep(fake, [Site("A", 1, xrootd=("no-source",)), Site("B", 1, xrootd=("ok.b:1094",))])
    by_site = {d.result.site: [(o.outcome, o.message) for o in d.outcomes] for d in done}
    assert by_site["A"] == [(Outcome.UNKNOWN, "no xrootd source for A in the inventory")]
    assert by_site["B"][0][0] is Outcome.PASS


def test_local_glexec_results_are_read_as_ingested(fake: FakeCheck, tmp_path: Path) -> None:
    good = {"schema": "gridready.result/1", "check": "glexec", "site": "A", "host": "wn1.a", "state": "OK",
            "summary": "ok", "checked_at": "2010-06-07T08:00:00Z",
            "milestones": [{"id": "glexec", "compliance": "COMPLIANT", "state": "OK", "deadline": "2010-05-31",
                            "days_left": -7, "message": "glexec with Argus", "waiver": None}],
            "metrics": {}, "details": []}
    ok = write(tmp_path / "A.json", json.dumps(good))
    other = write(tmp_path / "B.json", json.dumps(good))
    sites = [Site("A", 1, glexec=str(ok)), Site("B", 1, glexec=str(other)),
             Site("C", 1, glexec=str(tmp_path / "missing.json")), Site("D", 1)]
    done, _ = sweep(fake, sites, rules=Rules(milestones=(GLEXEC,)))
    assert [(d.result.site, d.origin, d.source, [(o.outcome.value, o.message) for o in d.outcomes])
            for d in done] == [
        ("A", "ingest", str(ok), [("pass", "glexec with Argus")]),
        ("B", "sweep", None, [("unknown", f"{other}: a result for site A, expected B")]),
        ("C", "sweep", None, [("unknown", f"{tmp_path / 'missing.json'}: cannot read result file: "
                                          "No such file or directory")]),
    ]
    assert done[0].result.checked_at.isoformat() == "2010-06-07T08:00:00+00:00"


def test_a_local_result_from_the_future_is_unknown_not_the_latest(fake: FakeCheck, tmp_path: Path) -> None:
    # Read as if ingested: a result dated 2099 would mask every real one until then.
    future = {"schema": "gridready.result/1", "check": "glexec", "site": "A", "host": "wn1.a", "state": "OK",
              "summary": "ok", "checked_at": "2099-01-01T00:00:00Z",
              "milestones": [{"id": "glexec", "compliance": "COMPLIANT", "state": "OK", "deadline": "2010-05-31",
                              "days_left": -7, "message": "glexec with Argus", "waiver": None}],
              "metrics": {}, "details": []}
    path = write(tmp_path / "A.json", json.dumps(future))
    done: list[Done] = []
    Sweeper(Inventory((Site("A", 1, glexec=str(path)),)), Rules(milestones=(GLEXEC,)), AS_OF, loader=lambda n: fake,
            now=lambda: datetime(2010, 6, 8, 10, tzinfo=timezone.utc)).run(done.append)
    assert [(d.origin, [(o.outcome.value, o.message) for o in d.outcomes]) for d in done] == [
        ("sweep", [("unknown", f"{path}: checked_at 2099-01-01T00:00:00Z is in the future "
                               "(now 2010-06-08T10:00:00Z, more than 1 h of clock skew): refused, it would mask "
                               "later results")])]


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 1e300, 3600.5, 0.0, -1.0])
def test_an_absurd_timeout_is_refused_before_anything_runs(fake: FakeCheck, timeout: float) -> None:
    # Rules built by any path, not only the loader: an infinite wait overflows (OverflowError) or never ends.
    bad = Milestone(id="xroot", title="t", source="s", deadline=date(2010, 9, 30), check="xrootd",
                    scope=Scope(tiers=(1,)), timeout=timeout)
    with pytest.raises(ConfigError) as caught:
        Sweeper(Inventory((Site("A", 1, xrootd=("pass.a",)),)), Rules(milestones=(bad,), path="m.yaml"), AS_OF,
                loader=lambda n: fake)
    assert caught.value.problems == [f"m.yaml: milestone 'xroot': timeout {timeout!r} is not a number of seconds "
                                     "more than 0 and at most 3600"]
    assert fake.planned == [] and fake.requests == []


def test_progress_is_reported_to_the_end(fake: FakeCheck) -> None:
    seen: list[tuple[int, int]] = []
    sites = [Site("A", 1, xrootd=("pass.a", "pass.b")), Site("B", 1)]
    Sweeper(Inventory(tuple(sites)), RULES, AS_OF, loader=lambda n: fake).run(lambda d: None,
                                                                               lambda *a: seen.append(a))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    progress = Progress(quiet)
    progress(1, 2)
    progress.close()
    assert quiet.getvalue() == ""
    tty = _Tty()
    progress = Progress(tty)
    progress(1, 2)
    progress(2, 2)
    progress.close()
    lines = tty.getvalue()        # a tqdm bar now (was a hand-drawn line)
    assert lines.startswith("\rsweep:   0%|") and "| 2/2 [" in lines and lines.endswith("check/s]\n")


def test_results_reach_the_store_as_they_arrive(fake: FakeCheck, tmp_path: Path) -> None:
    counts: list[int] = []
    with Store(tmp_path / "h.db") as store:
        def emit(done: Done) -> None:
            store.add(done.result, done.outcomes, origin=done.origin, target=done.target)
            with Store(tmp_path / "h.db") as other:          # committed: visible to another connection at once
                counts.append(other.count())
        sites = [Site("A", 1, xrootd=("pass.a", "fail.a")), Site("B", 1, xrootd=("pass.b",))]
        Sweeper(Inventory(tuple(sites)), RULES, AS_OF, loader=lambda n: fake).run(emit)
    assert counts == [1, 2, 3]


BLOCKED_SWEEP = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tests.test_sweep import FakeCheck, RULES, AS_OF
from gridready.models import Inventory, Site
from gridready.sweep import Sweeper

fake = FakeCheck()
sites = (Site("A", 1, xrootd=("block.a",)), Site("B", 1, xrootd=("pass.b",)))
started = time.monotonic()
done = []
Sweeper(Inventory(sites), RULES, AS_OF, loader=lambda n: fake, concurrency=2).run(done.append)
print(json.dumps({"seconds": time.monotonic() - started,
                  "messages": sorted(o.message for d in done for o in d.outcomes)}), flush=True)
"""


def test_the_process_exits_although_a_worker_is_still_blocked(tmp_path: Path) -> None:
    script = write(tmp_path / "blocked.py", BLOCKED_SWEEP)
    started = time.monotonic()
    proc = run_py(script, str(REPO), timeout=20)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["messages"] == ["published as 'xroot'", "timeout after 1s while resolving block.a"]
    assert report["seconds"] < 1 + 2
    assert elapsed < 1 + 2 + 3           # plus interpreter start-up; not the blocked thread's 30 s
