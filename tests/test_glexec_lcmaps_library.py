"""gridready's LCMAPS database parser against liblcmaps' own reader.

``tests/lcmaps_harness.c`` is compiled against the installed liblcmaps
(Debian ``liblcmaps0``/``liblcmaps-dev``) and prints, for a database file,
the module and arguments of every plugin the policies use, as the library's
policy reader (the evaluation manager ``lcmaps_init`` runs) read them. Each
file of ``tests/data/lcmaps/`` (production styles: Argus generators, YAIM
SCAS, OSG GUMS, odd whitespace) must give gridready the same modules and
arguments, and every malformed text of test_glexec_lcmaps must be refused by
the library too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gridready.glexec import lcmaps
from tests.test_glexec_lcmaps import ACCEPTED_LAYOUTS, MALFORMED, REFUSED_LAYOUTS

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "data" / "lcmaps").glob("*.db"))
HEADER = Path("/usr/include/lcmaps/lcmaps_db_read.h")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HEADER.is_file():
        pytest.skip("liblcmaps-dev is not installed (no /usr/include/lcmaps/lcmaps_db_read.h)")
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("lcmaps") / "lcmaps_harness"
    subprocess.run([gcc, "-o", str(exe), str(HERE / "lcmaps_harness.c"), "-llcmaps"],
                   check=True, capture_output=True, timeout=60)
    return exe


def library_plugins(exe: Path, db: Path) -> set[str] | None:
    """``module<TAB>arguments`` of every plugin liblcmaps read; None when it refused the file.

    The arguments are the raw string the library keeps (before it splits
    them for the plugin). The library's scanner echoes characters it skips
    on a ``path`` line to stdout, so a record is found anywhere on its line.
    """
    # The library logs to syslog unless told otherwise; keep that out of the test host's log.
    env = dict(os.environ, LCMAPS_LOG_FILE=os.devnull, LCMAPS_DEBUG_LEVEL="0")
    proc = subprocess.run([str(exe), str(db)], capture_output=True, timeout=30, env=env, cwd=db.parent)
    out = proc.stdout.decode()
    if proc.returncode == 2 and "REFUSED" in out:
        return None
    assert proc.returncode == 0, (proc.returncode, out, proc.stderr)
    return {line.split("PLUGIN\t", 1)[1] for line in out.splitlines() if "PLUGIN\t" in line}


def gridready_plugins(text: str, path: str) -> set[str]:
    """``module<TAB>arguments`` of every plugin a rule of some policy uses."""
    db = lcmaps.parse(text, path)
    used = {n for p in db.policies for r in p.rules for n in (r.source, r.on_success, r.on_failure) if n}
    return {f"{db.plugins[n].module}\t{db.plugins[n].argstring}" for n in used}


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("db", CORPUS, ids=[p.name for p in CORPUS])
def test_same_modules_and_arguments_as_liblcmaps(harness: Path, db: Path) -> None:
    expected = library_plugins(harness, db)
    assert expected is not None, f"liblcmaps refused {db.name}"
    assert gridready_plugins(db.read_text(), str(db)) == expected


@pytest.mark.parametrize("text", [t for t, _ in MALFORMED])
def test_what_gridready_refuses_liblcmaps_refuses(harness: Path, tmp_path: Path, text: str) -> None:
    db = tmp_path / "lcmaps.db"
    db.write_text(text)
    assert library_plugins(harness, db) is None
    with pytest.raises(lcmaps.LcmapsSyntaxError):
        lcmaps.parse(text, str(db))


@pytest.mark.parametrize("text", [
    'a = "lcmaps_c_pep.mod"\r\n  " -x y"\r\np:\r\na -> b\r\n',
    'a = "lcmaps_c_pep.mod"\f\np:\na -> b\n',
])
def test_dos_line_ends_are_refused_by_both(harness: Path, tmp_path: Path, text: str) -> None:
    db = tmp_path / "lcmaps.db"
    db.write_bytes(text.encode())
    assert library_plugins(harness, db) is None
    with pytest.raises(lcmaps.LcmapsSyntaxError, match="which LCMAPS refuses"):
        lcmaps.parse(text, str(db))


def test_undefined_name_is_loaded_as_a_module_by_both(harness: Path) -> None:
    db = HERE / "data" / "lcmaps" / "undefined-module-typo.db"
    library = library_plugins(harness, db)
    assert library is not None and "poxix_enf\t" in library
    parsed = lcmaps.parse(db.read_text(), str(db))
    assert not parsed.plugins["poxix_enf"].defined


def test_value_starting_with_a_blank_names_an_empty_module(harness: Path, tmp_path: Path) -> None:
    # The library reads the module as "" (it fails later, when loading it);
    # gridready refuses the file at once, naming why.
    db = tmp_path / "lcmaps.db"
    db.write_text('a = "  lcmaps_c_pep.mod -x y"\np:\na -> b\n')
    assert library_plugins(harness, db) == {"\t lcmaps_c_pep.mod -x y", "b\t"}
    with pytest.raises(lcmaps.LcmapsSyntaxError, match="names no module"):
        lcmaps.parse(db.read_text(), str(db))


@pytest.mark.parametrize("text", ACCEPTED_LAYOUTS)
def test_layouts_gridready_accepts_liblcmaps_reads_alike(harness: Path, tmp_path: Path, text: str) -> None:
    db = tmp_path / "lcmaps.db"
    db.write_text(text)
    expected = library_plugins(harness, db)
    assert expected is not None
    assert gridready_plugins(text, str(db)) == expected


@pytest.mark.parametrize("text", [t for t, _ in REFUSED_LAYOUTS])
def test_layouts_gridready_refuses_liblcmaps_refuses(harness: Path, tmp_path: Path, text: str) -> None:
    db = tmp_path / "lcmaps.db"
    db.write_text(text)
    library = library_plugins(harness, db)
    with pytest.raises(lcmaps.LcmapsSyntaxError):
        lcmaps.parse(text, str(db))
    # Refused by the library, or (an empty module name) read as a module it cannot load.
    assert library is None or any(p.startswith("\t") for p in library)


def test_escaped_quote_pairs_read_alike(harness: Path, tmp_path: Path) -> None:
    text = ('p = "lcmaps_c_pep.mod" " -x \\"a b\\"" " -z" "--pep-daemon-endpoint-url https://a.example:8154/authz"\n'
            "pol:\np -> q\n")
    db = tmp_path / "lcmaps.db"
    db.write_text(text)
    assert library_plugins(harness, db) == gridready_plugins(text, str(db)) == {
        'lcmaps_c_pep.mod\t -x "a b"  -z --pep-daemon-endpoint-url https://a.example:8154/authz', "q\t"}
