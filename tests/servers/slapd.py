"""Test helper: a real OpenLDAP slapd serving GLUE data, like a BDII, on a free loopback port.

Usage from any test module::

    from tests.servers.slapd import running_slapd, slapd_fixture

    def test_x():
        with running_slapd(ldif_text_or_path) as uri:   # "ldap://127.0.0.1:PORT"
            ...

    example_bdii = slapd_fixture(EXAMPLE_LDIF)            # a module-scoped fixture yielding the uri

The data is split by suffix (``o=grid`` for GLUE 1.3, ``o=glue`` for GLUE 2),
missing ancestor entries (``o=grid``, ``Mds-Vo-name=local,o=grid``, GLUE 2 groups
and domains) are added, and each part is loaded with ``slapadd`` before slapd
starts, as the Debian bdii package does. Only a missing slapd skips a test; a
missing schema or a record slapadd rejects fails it, since in CI both must work.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pytest

from gridready.sources.bdii import dn_is_under, dn_parts
from gridready.sources.ldif import iter_records
from tests.servers.process import stop

SUFFIXES = ("o=grid", "o=glue")

# Order matters: the GLUE 1.3 files build on Glue-CORE (GlueTop, GlueKey),
# Glue-MDS defines the Mds-Vo-name naming attribute of the top-BDII tree,
# GLUE20 and BDII.schema are self-contained. core/cosine give organization.
SCHEMA_FILES = (
    "/etc/ldap/schema/core.schema",
    "/etc/ldap/schema/cosine.schema",
    "/etc/bdii/BDII.schema",
    "/etc/ldap/schema/Glue-CORE.schema",
    "/etc/ldap/schema/Glue-MDS.schema",
    "/etc/ldap/schema/Glue-CE.schema",
    "/etc/ldap/schema/Glue-CESEBind.schema",
    "/etc/ldap/schema/Glue-SE.schema",
    "/etc/ldap/schema/GLUE20.schema",
)
MODULE_PATH = "/usr/lib/ldap"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def find_program(name: str) -> str | None:
    """``name`` on PATH or in /usr/sbin (not on a non-root user's PATH on Debian)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def _placeholder(dn: str) -> str:
    """An LDIF record for an ancestor entry the data lacks, by its naming attribute."""
    name, value = dn_parts(dn)[0]
    kind = name.lower()
    if kind == "o":
        body = ["objectClass: organization", f"o: {value}"]
    elif kind == "mds-vo-name":
        body = ["objectClass: MDS", f"Mds-Vo-name: {value}"]
    elif kind == "glue2groupid":
        body = ["objectClass: GLUE2Group", f"GLUE2GroupID: {value}"]
    elif kind == "glue2domainid":
        body = ["objectClass: GLUE2Domain", "objectClass: GLUE2AdminDomain",
                f"GLUE2DomainID: {value}"]
    else:
        body = ["objectClass: organizationalUnit", "objectClass: extensibleObject",
                f"ou: {value}", f"{name}: {value}"]
    return "\n".join([f"dn: {dn}", *body])


def split_by_suffix(text: str, source: str = "<ldif>") -> dict[str, list[str]]:
    """LDIF records per suffix, parents first, with placeholders for missing ancestors."""
    present: set[tuple[str, ...]] = set()
    records: dict[str, list[tuple[int, str]]] = {suffix: [] for suffix in SUFFIXES}
    wanted: dict[tuple[str, ...], tuple[str, str]] = {}
    for record in iter_records(text, source):
        dn = record.entry.dn
        suffix = next((s for s in SUFFIXES if dn_is_under(dn, s)), None)
        if suffix is None:
            raise ValueError(f"{source}:{record.line}: {dn!r} is under neither "
                             f"{' nor '.join(SUFFIXES)}")
        rdns = [f"{name}={value}" for name, value in dn_parts(dn)]
        key = tuple(r.lower() for r in rdns)
        present.add(key)
        records[suffix].append((len(rdns), record.text))
        depth = len(dn_parts(suffix))
        for cut in range(1, len(rdns) - depth + 1):
            ancestor = rdns[cut:]
            wanted.setdefault(tuple(r.lower() for r in ancestor),
                              (suffix, ",".join(ancestor)))
    for key, (suffix, dn) in wanted.items():
        if key not in present:
            records[suffix].append((len(key), _placeholder(dn)))
    # slapadd needs every parent before its children; sorted() is stable, so
    # the dump's own order is kept within one depth.
    return {suffix: [text for _, text in sorted(items, key=lambda item: item[0])]
            for suffix, items in records.items()}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(workdir: Path, extra: Sequence[str]) -> str:
    lines = [f"include {schema}" for schema in SCHEMA_FILES]
    lines += [
        f"pidfile {workdir / 'slapd.pid'}",
        f"argsfile {workdir / 'slapd.args'}",
        f"modulepath {MODULE_PATH}",
        "moduleload back_mdb",
        "loglevel 0",
        "sizelimit unlimited",
        *extra,
    ]
    for suffix in SUFFIXES:
        name = suffix.split("=", 1)[1]
        (workdir / name).mkdir()
        lines += [
            "",
            "database mdb",
            f'suffix "{suffix}"',
            f"directory {workdir / name}",
            "maxsize 67108864",
            "index objectClass eq,pres",
        ]
    return "\n".join(lines) + "\n"


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once slapd accepts connections; bounded in attempts and in time."""
    started = time.monotonic()
    for _ in range(int(START_TIMEOUT / 0.02)):
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode} before listening: "
                               f"{log.read_text(errors='replace').strip()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() - started > START_TIMEOUT:
            break
        time.sleep(0.02)
    raise RuntimeError(f"slapd did not listen on 127.0.0.1:{port} within {START_TIMEOUT:g}s")


def _read_data(ldif: str | os.PathLike[str]) -> tuple[str, str]:
    # A record needs at least two lines, so one line of text can only be a path.
    if isinstance(ldif, os.PathLike) or "\n" not in ldif.strip():
        path = os.fspath(ldif)
        return Path(path).read_text(encoding="utf-8"), path
    return ldif, "<ldif text>"


@contextmanager
def running_slapd(ldif: str | os.PathLike[str], *,
                  extra_config: Sequence[str] = ()) -> Iterator[str]:
    """Run slapd serving ``ldif`` (LDIF text or a path); yields ``ldap://127.0.0.1:PORT``.

    ``extra_config`` lines go into the global section of slapd.conf (e.g.
    ``disallow bind_anon`` or ``sizelimit 2`` to provoke errors).
    """
    slapd = find_program("slapd")
    slapadd = find_program("slapadd")
    if slapd is None or slapadd is None:
        pytest.skip("slapd is not installed (Debian packages slapd, glue-schema, bdii)")
    missing = [schema for schema in SCHEMA_FILES if not os.path.isfile(schema)]
    if missing:
        raise RuntimeError(f"LDAP schema files missing (install glue-schema and bdii): {missing}")

    text, source = _read_data(ldif)
    parts = split_by_suffix(text, source)
    with tempfile.TemporaryDirectory(prefix="gridready-slapd-") as tmp:
        workdir = Path(tmp)
        conf = workdir / "slapd.conf"
        conf.write_text(_config(workdir, extra_config), encoding="utf-8")
        for suffix, records in parts.items():
            if not records:
                continue
            data = workdir / f"{suffix.split('=', 1)[1]}.ldif"
            data.write_text("\n\n".join(records) + "\n", encoding="utf-8")
            loaded = subprocess.run([slapadd, "-f", str(conf), "-b", suffix, "-l", str(data)],
                                    capture_output=True, text=True, timeout=30, check=False)
            if loaded.returncode != 0:
                raise RuntimeError(f"slapadd -b {suffix} rejected {source}: "
                                   f"{(loaded.stderr or loaded.stdout).strip()[-2000:]}")

        log = workdir / "slapd.log"
        process: subprocess.Popen[bytes] | None = None
        try:
            # The port is free when probed but could be taken before slapd binds
            # it; a couple of retries make that race harmless.
            for attempt in range(3):
                port = _free_port()
                with open(log, "wb") as log_handle:
                    process = subprocess.Popen(
                        [slapd, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                        stdin=subprocess.DEVNULL, stdout=log_handle, stderr=subprocess.STDOUT)
                try:
                    _wait_listening(process, port, log)
                    break
                except RuntimeError:
                    stop(process, STOP_TIMEOUT)
                    if attempt == 2:
                        raise
            yield f"ldap://127.0.0.1:{port}"
        finally:
            if process is not None:
                stop(process, STOP_TIMEOUT)


def slapd_fixture(ldif: str | os.PathLike[str],
                  scope: Literal["session", "package", "module", "class", "function"] = "module",
                  extra_config: Sequence[str] = ()) -> Any:
    """A pytest fixture yielding the uri of a slapd serving ``ldif``.

    Assign it to a module-level name; that name is the fixture's name::

        example_bdii = slapd_fixture(REPO / "config/example/bdii.ldif")
    """

    def _slapd() -> Iterator[str]:
        with running_slapd(ldif, extra_config=extra_config) as uri:
            yield uri

    return pytest.fixture(scope=scope)(_slapd)
