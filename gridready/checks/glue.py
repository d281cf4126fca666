"""The ``glue`` check: require attribute values of a site's published GLUE 1.3 or GLUE 2 objects.

A milestone selects objects of one class that the site publishes in its BDII
(a live ``ldap://`` BDII or an LDIF dump, ``gridready.sources.bdii``) and
states what each selected object must publish. ``expect`` grammar::

    expect:
      object: GLUE2Endpoint            # object class; GLUE2* is read under o=glue, Glue* under o=grid
      where:                           # optional filters, every one must hold
        GLUE2EndpointInterfaceName: [https, webdav]   # a list: any of these (case-insensitive)
        GLUE2EndpointHealthState: ok                  # a scalar: equal (case-insensitive)
      require:                         # optional; every selected object must satisfy each
        GLUE2EndpointCapability: {equals: data.transfer.tpc}
        GLUE2EndpointImplementationVersion: {version_at_least: "9.2"}
      min_count: 1                     # optional, see below
      missing: fail                    # fail (default) | unknown: an object lacking a required attribute

A requirement is a scalar (shorthand for ``equals``) or a mapping of one or
more tests, each met when *any* value of the (possibly multi-valued)
attribute meets it: ``equals: V`` and ``one_of: [V, ...]`` compare
case-insensitively, as a BDII does; ``matches: REGEX`` is a Python regular
expression matched against the whole value; ``version_at_least: "X.Y[.Z]"``
compares the first dotted number in the value (``9.2.14-1 (ns=Chimera)`` is
9.2.14). Attribute names compare case-insensitively.

What belongs to the site: for GLUE 2, objects under ``GLUE2DomainID=<site>``
(top BDII), the site's ``GLUE2Service`` objects (``GLUE2ServiceAdminDomainForeignKey``)
and objects whose ``...ServiceForeignKey`` names one of those services; for
GLUE 1.3, objects under ``Mds-Vo-name=<site>``, objects whose ``GlueForeignKey``
is ``GlueSiteUniqueID=<site>``, and objects whose ``GlueChunkKey`` names one of
the site's SEs.

Evidence rule: a site the source says nothing about (no service, SE or site
object of it in that schema) is UNKNOWN. An empty selection is UNKNOWN unless
the milestone states ``min_count``: then fewer objects than ``min_count`` fail,
and ``min_count: 0`` says an empty selection is fine. Every failing object is
named (its ``...ID``/``...UniqueID``/``...LocalID`` attribute, else its DN).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridready.checks.interface import Assessment, Finding, Observation, Request, unknown_keys
from gridready.deadline import Deadline
from gridready.errors import CheckError, UsageError
from gridready.escape import terminal
from gridready.models import Site

if TYPE_CHECKING:
    from gridready.sources.bdii import Bdii, Entry

EXPECT_KEYS = ("object", "where", "require", "min_count", "missing")
TESTS = ("equals", "one_of", "matches", "version_at_least")
MISSING = ("fail", "unknown")
#: Failing records named one by one; the rest are counted.
MAX_NAMED = 20
#: Longest regular expression a milestone may give (a rules file is not a place for a program).
MAX_REGEX = 512
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}\Z")
_VERSION = re.compile(r"\d+(?:\.\d+)*")
_TARGET_VERSION = re.compile(r"\d+(?:\.\d+)*\Z")


# --- the requirement grammar, shared by glue, srr and http ------------------------------

@dataclass(frozen=True)
class Test:
    """One test of a requirement: ``op`` in TESTS and its operand."""

    op: str
    operand: Any

    def describe(self) -> str:
        if self.op == "one_of":
            return "one of " + ", ".join(f"'{v}'" for v in self.operand)
        if self.op == "matches":
            return f"matching /{self.operand}/"
        if self.op == "version_at_least":
            return f"version {self.operand} or later"
        return f"'{self.operand}'"

    def holds(self, value: str) -> bool:
        if self.op == "equals":
            return value.casefold() == str(self.operand).casefold()
        if self.op == "one_of":
            return value.casefold() in {str(v).casefold() for v in self.operand}
        if self.op == "matches":
            return re.fullmatch(str(self.operand), value) is not None
        number = version_of(value)
        if number is None:
            return False
        target = tuple(int(p) for p in str(self.operand).split("."))
        width = max(len(number), len(target))
        return number + (0,) * (width - len(number)) >= target + (0,) * (width - len(target))


def version_of(value: str) -> tuple[int, ...] | None:
    """The first dotted number in ``value`` as a tuple (``2.8-3 (ns=Chimera)`` -> (2, 8)), or None."""
    found = _VERSION.search(value)
    return tuple(int(p) for p in found.group().split(".")) if found else None


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def parse_requirement(value: Any, where: str) -> tuple[tuple[Test, ...], list[str]]:
    """A requirement (scalar or mapping of tests) and the problems with it, one line each."""
    if _scalar(value):
        return (Test("equals", str(value)),), []
    if not isinstance(value, Mapping) or not value:
        return (), [f"{where}: expected a value or a mapping of {', '.join(TESTS)}, got {value!r}"]
    tests: list[Test] = []
    problems: list[str] = []
    for op, operand in value.items():
        if op not in TESTS:
            problems.append(f"{where}: unknown test '{op}' (known: {', '.join(TESTS)})")
        elif op == "equals" and not _scalar(operand):
            problems.append(f"{where}.equals: expected a value, got {operand!r}")
        elif op == "one_of" and not (isinstance(operand, list) and operand and all(_scalar(v) for v in operand)):
            problems.append(f"{where}.one_of: expected a non-empty list of values, got {operand!r}")
        elif op == "matches" and not isinstance(operand, str):
            problems.append(f"{where}.matches: expected a regular expression string, got {operand!r}")
        elif op == "matches" and len(operand) > MAX_REGEX:
            problems.append(f"{where}.matches: regular expression longer than {MAX_REGEX} characters")
        elif op == "version_at_least" and not (isinstance(operand, str) and _TARGET_VERSION.match(operand)):
            problems.append(f"{where}.version_at_least: expected a quoted version \"X.Y[.Z]\", got {operand!r}")
        else:
            if op == "matches":
                try:
                    re.compile(operand)
                except re.error as exc:
                    problems.append(f"{where}.matches: bad regular expression: {exc}")
                    continue
            tests.append(Test(op, [str(v) for v in operand] if op == "one_of" else str(operand)))
    return tuple(tests), problems


def judge_values(record: str, field: str, values: Sequence[str], tests: Sequence[Test],
                 missing: str, what: str = "publishes") -> tuple[Finding | None, str | None]:
    """(failing finding, unknown reason) for one record's ``field`` against ``tests``; (None, None) when met."""
    if not values:
        text = f"{record} {what} no {field}"
        if missing == "unknown":
            return None, text
        return Finding(False, text, f"publish {field} for {record}"), None
    for test in tests:
        if not any(test.holds(v) for v in values):
            shown = ", ".join(f"'{terminal(v[:120])}'" for v in values[:5]) + (" ..." if len(values) > 5 else "")
            return Finding(False, f"{record}: {field} is {shown}, expected {test.describe()}",
                           f"make {record} publish {field} {test.describe()}"), None
    return None, None


def parse_filters(value: Any, where: str) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """``where`` filters: name -> accepted values (lower-cased), and problems."""
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, [f"{where}: expected a mapping of attribute: value or [values], got {value!r}"]
    out: dict[str, tuple[str, ...]] = {}
    problems: list[str] = []
    for name, accepted in value.items():
        values = accepted if isinstance(accepted, list) else [accepted]
        if not values or not all(_scalar(v) for v in values):
            problems.append(f"{where}.{name}: expected a value or a non-empty list of values, got {accepted!r}")
            continue
        out[str(name)] = tuple(str(v).casefold() for v in values)
    return out, problems


def parse_count(expect: Mapping[str, Any], problems: list[str]) -> None:
    if "min_count" in expect:
        value = expect["min_count"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100000:
            problems.append(f"min_count: expected a whole number 0..100000, got {value!r}")
    if "missing" in expect and expect["missing"] not in MISSING:
        problems.append(f"missing: expected one of {', '.join(MISSING)}, got {expect['missing']!r}")


def judge_selection(records: Sequence[tuple[str, Callable[[str], Sequence[str]]]],
                    require: Mapping[str, tuple[Test, ...]], expect: Mapping[str, Any],
                    what: tuple[str, str], where: str, verb: str = "publishes") -> Assessment:
    """Judge selected records (name, field reader) against ``require`` and ``min_count``.

    ``what`` names the selection, singular and plural ("GLUE2Endpoint object of
    SITE with ...", "GLUE2Endpoint objects of SITE with ..."), ``where`` the
    source. See the module docstring for the evidence rule.
    """
    def counted(n: int) -> str:
        return f"{n} {what[0] if n == 1 else what[1]}"

    missing = str(expect.get("missing", "fail"))
    if not records:
        if "min_count" not in expect:
            return Assessment(unknown=f"no {what[1]} in {where}: nothing to judge (state min_count to "
                                      "make an empty selection a failure, or min_count: 0 to accept it)")
        if expect["min_count"] == 0:
            return Assessment(findings=(Finding(True, f"no {what[1]} in {where} (min_count 0)"),))
    findings: list[Finding] = []
    unknown: list[str] = []
    failing = 0
    for name, read in records:
        for field, tests in require.items():
            bad, unsure = judge_values(name, field, read(field), tests, missing, verb)
            if unsure:
                unknown.append(unsure)
            if bad is not None:
                failing += 1
                if failing <= MAX_NAMED:
                    findings.append(bad)
                break
    if failing > MAX_NAMED:
        findings.append(Finding(False, f"... and {failing - MAX_NAMED} more failing records"))
    minimum = expect.get("min_count")
    if isinstance(minimum, int) and len(records) < minimum:
        findings.append(Finding(False, f"{counted(len(records))} in {where}, expected at least {minimum}",
                                f"publish at least {counted(minimum)}"))
    summary = f"{counted(len(records))} in {where}" + (
        (" meets" if len(records) == 1 else " meet") + " the requirements" if require else "")
    if unknown:
        shown = "; ".join(unknown[:5]) + (f"; ... and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        return Assessment(findings=tuple(findings), summary=summary, unknown=shown)
    return Assessment(findings=tuple(findings), summary=summary)


def requirements(value: Any, where: str) -> tuple[dict[str, tuple[Test, ...]], list[str]]:
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, [f"{where}: expected a mapping of name: requirement, got {value!r}"]
    out: dict[str, tuple[Test, ...]] = {}
    problems: list[str] = []
    for name, req in value.items():
        tests, bad = parse_requirement(req, f"{where}.{name}")
        problems += bad
        out[str(name)] = tests
    return out, problems


# --- the glue check -----------------------------------------------------------------------

def _suffix(object_class: str) -> str:
    return "o=glue" if object_class.upper().startswith("GLUE2") else "o=grid"


@dataclass(frozen=True)
class GlueFacts:
    site: str
    source: str
    #: object class (lower-case) -> the site's entries of that class.
    entries: Mapping[str, tuple[Entry, ...]]
    #: suffix -> whether the source describes the site at all in that schema.
    described: Mapping[str, bool]


class GlueCheck:
    name = "glue"
    description = ("Selects a site's published GLUE 1.3 or GLUE 2 objects (BDII or LDIF dump) by object "
                   "class and attribute filters and requires attribute values or a minimum count.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("glue options")
        group.add_argument("--bdii", metavar="URI", help="BDII: ldap://host:port or an LDIF dump (default: "
                                                         "the site's bdii in the inventory)")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        obj = expect.get("object")
        if not isinstance(obj, str) or not _NAME.match(obj) or not obj.lower().startswith("glue"):
            problems.append(f"object: expected a GLUE object class such as GLUE2Endpoint or GlueSE, got {obj!r}")
        filters, bad = parse_filters(expect.get("where"), "where")
        problems += bad
        required, bad = requirements(expect.get("require"), "require")
        problems += bad
        problems += [f"where: bad attribute name {n!r}" for n in filters if not _NAME.match(n)]
        problems += [f"require: bad attribute name {n!r}" for n in required if not _NAME.match(n)]
        parse_count(expect, problems)
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        if not site.bdii:
            raise CheckError(f"no bdii for {site.name} in the inventory: cannot read its GLUE objects")
        return [{"bdii": site.bdii}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        from gridready.sources.bdii import open_bdii

        uri = request.opt("bdii")
        if not uri and request.inventory is not None and request.site:
            known = request.inventory.site(request.site)
            uri = known.bdii if known else None
        if not request.site or not uri:
            raise UsageError("give --site NAME and --bdii URI (or a site with a bdii in the inventory)")
        site = request.site
        bdii = open_bdii(str(uri), deadline)
        classes = sorted({str(e.get("object")) for e in request.expects if isinstance(e.get("object"), str)},
                         key=str.lower)
        with deadline.during(f"reading GLUE objects of {site} from {uri}"):
            members = _Membership(bdii, site, {_suffix(c) for c in classes})
            entries = {c.lower(): tuple(e for e in bdii.find(c, suffix=_suffix(c)) if members.owns(e))
                       for c in classes}
        details = [f"{len(found)} {c} object{'s' if len(found) != 1 else ''} of {site}"
                   for c, found in entries.items()]
        return Observation(target=f"{site} ({uri})", data=GlueFacts(site, str(uri), entries, members.described),
                           details=details)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: GlueFacts = observation.data
        obj = str(expect["object"])
        if not facts.described.get(_suffix(obj), False):
            schema = "GLUE 2" if _suffix(obj) == "o=glue" else "GLUE 1.3"
            return Assessment(unknown=f"{facts.source} describes no {schema} service, SE or site of "
                                      f"{facts.site}: cannot judge its {obj} objects")
        filters, _ = parse_filters(expect.get("where"), "where")
        required, _ = requirements(expect.get("require"), "require")
        selected = [e for e in facts.entries.get(obj.lower(), ()) if passes(e.get, filters)]
        tail = f" of {facts.site}" + filter_text(filters)
        what = (f"{obj} object{tail}", f"{obj} objects{tail}")
        records = [(_record_name(e, obj), e.get) for e in selected]
        return judge_selection(records, required, expect, what, facts.source)


def filter_text(filters: Mapping[str, tuple[str, ...]]) -> str:
    """`` with NAME a/b and ...`` for a selection's description ("" without filters)."""
    if not filters:
        return ""
    return " with " + " and ".join(f"{n} {'/'.join(v)}" for n, v in filters.items())


def passes(read: Callable[[str], Sequence[str]], filters: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a record (its field reader) holds, for every filter, one of the accepted values."""
    return all(any(v.casefold() in accepted for v in read(name)) for name, accepted in filters.items())


def _record_name(entry: Entry, object_class: str) -> str:
    for attr in (f"{object_class}ID", f"{object_class}UniqueID", f"{object_class}LocalID"):
        value = entry.get(attr)
        if value:
            return terminal(value[0])
    return terminal(entry.dn)


class _Membership:
    """Which entries belong to the site (module docstring), and whether the source knows it."""

    def __init__(self, bdii: Bdii, site: str, suffixes: Iterable[str]) -> None:
        self.site = site.casefold()
        self.services: set[str] = set()
        self.ses: set[str] = set()
        self.described: dict[str, bool] = {}
        if "o=glue" in suffixes:
            services = bdii.find("GLUE2Service", {"GLUE2ServiceAdminDomainForeignKey": site}, suffix="o=glue")
            self.services = {v.casefold() for s in services for v in s.get("GLUE2ServiceID")}
            self.described["o=glue"] = bool(services) or bool(
                bdii.find("GLUE2AdminDomain", {"GLUE2DomainID": site}, suffix="o=glue"))
        if "o=grid" in suffixes:
            ses = bdii.find("GlueSE", {"GlueForeignKey": f"GlueSiteUniqueID={site}"}, suffix="o=grid")
            self.ses = {f"glueseuniqueid={v}".casefold() for s in ses for v in s.get("GlueSEUniqueID")}
            self.described["o=grid"] = bool(ses) or bool(
                bdii.find("GlueSite", {"GlueSiteUniqueID": site}, suffix="o=grid"))

    def owns(self, entry: Entry) -> bool:
        from gridready.sources.bdii import dn_parts

        for name, value in dn_parts(entry.dn):
            if name.lower() in ("glue2domainid", "mds-vo-name") and value.casefold() == self.site:
                return True
        for name, values in entry.attrs.items():
            if name.endswith("serviceforeignkey") and any(v.casefold() in self.services for v in values):
                return True
        if any(v.casefold() == self.site for v in entry.get("GLUE2ServiceAdminDomainForeignKey")):
            return True
        if any(v.casefold() == f"gluesiteuniqueid={self.site}" for v in entry.get("GlueForeignKey")):
            return True
        return any(v.casefold() in self.ses for v in entry.get("GlueChunkKey"))


CHECK = GlueCheck()
