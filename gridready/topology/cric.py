"""WLCG CRIC (JSON): rcsites with tier and federation, services with type, flavour and endpoint.

``/api/core/rcsite/query/?json`` answers an object keyed by site name whose
values carry ``name``, ``rc_tier_level``, ``federations`` (a list; some
answers have ``federation``), ``state``; ``/api/core/service/query/?json`` one
keyed by service name whose values carry ``rcsite``, ``type``, ``flavour``,
``endpoint``, ``state``/``status``, ``usage`` (VO -> ...) and, for an SE,
``impl`` and ``protocols`` (name -> ``{flavour, endpoint}``); with
``groupby=rcsite`` the values are lists of services. A file may hold several
answers one after the other (``curl URL1 URL2 > file``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.sources.http import TLSOptions, is_url
from gridready.topology import records as rec

#: CRIC flavours and types (compared case-insensitively) -> inventory kind.
KINDS = {"srm": rec.STORAGE, "se": rec.STORAGE, "xrootd": rec.XROOTD, "fts": rec.FTS, "fts3": rec.FTS,
         "site-bdii": rec.SITE_BDII}
_PATHS = ("/api/core/rcsite/query/?json", "/api/core/service/query/?json")


def locations(source: str) -> list[str]:
    """What to read for ``--cric SOURCE``: a bare CRIC URL gives rcsites and services."""
    if is_url(source) and "/api/" not in urlsplit(source).path:
        base = source.rstrip("/")
        return [base + path for path in _PATHS]
    return [source]


def read_cric(source: str, deadline: Deadline, tls: TLSOptions) -> rec.SourceFacts:
    """Sites and services of ``source`` (URL or file). Raises SourceError if any document is unusable."""
    facts = rec.SourceFacts("CRIC", rec.label(source))
    for location in locations(source):
        _, body = rec.read(location, deadline, tls, accept="application/json", what="CRIC JSON")
        with deadline.during(f"parsing CRIC JSON from {location}"):
            for index, document in enumerate(_documents(body, location)):
                where = location if index == 0 else f"{location} (document {index + 1})"
                parse(document, where, facts)
    return facts


def _documents(body: bytes, where: str) -> Iterator[Any]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where}: CRIC JSON is not UTF-8 (byte {exc.start})") from None
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                              f"{exc.msg}") from None
        except RecursionError:
            raise SourceError(f"{where}: JSON nested too deeply") from None
        except ValueError:
            # Python refuses an integer of more than 4300 digits; CRIC writes none.
            raise SourceError(f"{where}: JSON holds a number too long to read") from None
        yield document


def _str(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def parse(document: Any, where: str, facts: rec.SourceFacts) -> None:
    """Add the rcsites and services of one CRIC answer to ``facts``."""
    if not isinstance(document, dict):
        raise SourceError(f"{where}: expected a JSON object keyed by name, got {type(document).__name__}")
    if document and not any(isinstance(v, (dict, list)) for v in document.values()):
        # CRIC's refusals are JSON too ({"detail": "Authentication credentials were not provided."}):
        # taking one as an answer with no sites would drop every CRIC tier from the import.
        said = _str(document.get("detail")) or _str(document.get("error")) or ", ".join(map(str, document))
        raise SourceError(f"{where}: not a CRIC answer (no rcsite or service objects): {said[:120]}")
    for key in sorted(document, key=str):
        value = document[key]
        entry = f"{where}: entry {str(key)[:60]!r}"
        if isinstance(value, list):
            for number, item in enumerate(value, 1):
                if isinstance(item, dict):
                    _service(item, f"{entry}[{number}]", str(key), facts)
                else:
                    facts.problems.append(f"{entry}[{number}]: not an object; left out")
        elif not isinstance(value, dict):
            facts.problems.append(f"{entry}: not an object; left out")
        elif any(k in value for k in ("rc_tier_level", "federations", "federation", "tier_level")):
            _site(value, entry, str(key), facts)
        elif any(k in value for k in ("flavour", "endpoint", "rcsite")):
            _service(value, entry, "", facts)
        else:
            facts.problems.append(f"{entry}: neither an rcsite (rc_tier_level, federations) "
                                  "nor a service (rcsite, flavour, endpoint); left out")
        facts.note_stamp(_str(value.get("last_modified")) if isinstance(value, dict) else None)


def _tier(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 100:
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 2:
        return int(value)
    return None


def _site(value: Mapping[str, Any], where: str, key: str, facts: rec.SourceFacts) -> None:
    name = _str(value.get("name")) or " ".join(key.split())
    if not name:
        facts.problems.append(f"{where}: no name; left out")
        return
    raw_tier = value.get("rc_tier_level", value.get("tier_level"))
    tier = _tier(raw_tier)
    if raw_tier is not None and tier is None:
        facts.problems.append(f"{where} ({name}): rc_tier_level {str(raw_tier)[:20]!r} is not a tier number; "
                              "ignored")
    federations = value.get("federations")
    if isinstance(federations, list):
        names = [_str(f) for f in federations if _str(f)]
    else:
        names = [_str(value.get("federation"))] if _str(value.get("federation")) else []
    state = _str(value.get("state"))
    excluded = f"CRIC state is {state}" if state and state.upper() != "ACTIVE" else ""
    tags = frozenset({"wlcg"} if tier is not None else set())
    facts.sites.append(rec.SiteFact(name=name, source="CRIC", tier=tier, wlcg_name=names[0] if names else "",
                                    tags=tags, excluded=excluded, gocdb_key=rec.gocdb_key(value.get("gocdb_pk"))))


def _service(value: Mapping[str, Any], where: str, group: str, facts: rec.SourceFacts) -> None:
    site = _str(value.get("rcsite")) or group
    flavour = _str(value.get("flavour")) or _str(value.get("type"))
    kind = KINDS.get(flavour.lower()) or KINDS.get(_str(value.get("type")).lower())
    raw_protocols = value.get("protocols")
    protocols: dict[Any, Any] = raw_protocols if isinstance(raw_protocols, dict) else {}
    if kind is None and not protocols:
        return
    endpoint = _str(value.get("endpoint"))
    what = f"{where} ({flavour or 'no flavour'}{', rcsite ' + site if site else ''})"
    if not site:
        facts.problems.append(f"{what}: no rcsite; left out")
        return
    state = _str(value.get("state")) or _str(value.get("status"))
    if state and state.upper() not in ("ACTIVE", "PRODUCTION"):
        return
    usage = value.get("usage")
    tags = frozenset(str(k).lower() for k in usage) if isinstance(usage, dict) else frozenset()
    implementation = _str(value.get("impl")) or _str(value.get("implementation"))
    host = rec.url_host(endpoint if "://" in endpoint else "x://" + endpoint)
    if kind is not None:
        if not host:
            facts.problems.append(f"{what}: no host in endpoint {endpoint[:80]!r}; left out")
            return
        if kind == rec.STORAGE:
            address = host
        elif kind == rec.XROOTD:
            address = rec.door(endpoint)
        elif kind == rec.FTS:
            address = endpoint if "://" in endpoint else f"https://{endpoint}"
        else:
            address = rec.ldap_root(endpoint if "://" in endpoint else f"ldap://{endpoint}")
        facts.services.append(rec.ServiceFact(site=site, kind=kind, address=address, source="CRIC",
                                              implementation=implementation if kind == rec.STORAGE else "",
                                              tags=tags))
    for name in sorted(protocols, key=str):
        protocol = protocols[name]
        if not isinstance(protocol, dict) or _str(protocol.get("flavour")).lower() != "xrootd":
            continue
        door = rec.door(_str(protocol.get("endpoint")))
        if not door:
            facts.problems.append(f"{what}: protocol {str(name)[:40]!r} has no host in its endpoint; left out")
            continue
        facts.services.append(rec.ServiceFact(site=site, kind=rec.XROOTD, address=door, source="CRIC", tags=tags))
