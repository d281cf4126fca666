"""gridready.cache: validated rules/inventory are reused only while provably current."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from gridready import cache
from gridready.configfile import load_rules as rules_from_yaml
from gridready.errors import ConfigError
from gridready.models import Rules

REPO = Path(__file__).resolve().parent.parent
BUNDLED = (REPO / "config" / "milestones.yaml").read_text()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GRIDREADY_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "gridready"


class Counting:
    """A loader that counts how often the YAML was really read."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> Rules:
        self.calls += 1
        return rules_from_yaml(self.path)


def _get(path: Path, loader: Counting, extra: tuple[str, ...] = ()) -> Rules:
    return cache.cached("rules:test", path, loader, Rules, extra)


def test_hit_returns_the_validated_rules_without_reading_yaml(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    loader = Counting(path)
    first = _get(path, loader)
    second = _get(path, loader)
    assert loader.calls == 1
    assert second == first == rules_from_yaml(path)
    assert second.path == str(path)
    assert (home.stat().st_mode & 0o777) == 0o700
    entries = list(home.iterdir())
    assert len(entries) == 1 and (entries[0].stat().st_mode & 0o777) == 0o600


def test_edit_with_same_size_and_restored_mtime_is_seen(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    loader = Counting(path)
    before = _get(path, loader)
    st = path.stat()
    edited = BUNDLED.replace("deadline: 2010-09-30", "deadline: 2010-09-29", 1)
    assert len(edited) == len(BUNDLED) and edited != BUNDLED
    path.write_text(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: ctime still moves
    after = _get(path, loader)
    assert loader.calls == 2
    assert after != before
    assert after == rules_from_yaml(path)


def test_replaced_file_is_seen(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    loader = Counting(path)
    _get(path, loader)
    other = tmp_path / "new.yaml"
    other.write_text(BUNDLED.replace("warn_days: 30", "warn_days: 31", 1))
    os.replace(other, path)  # a new inode, as editors and package managers do
    assert _get(path, loader) == rules_from_yaml(path)
    assert loader.calls == 2


def test_code_change_invalidates(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    code = tmp_path / "check.py"
    code.write_text("A = 1\n")
    loader = Counting(path)
    _get(path, loader, (str(code),))
    _get(path, loader, (str(code),))
    code.write_text("A = 2\n")
    _get(path, loader, (str(code),))
    assert loader.calls == 2


def test_invalid_yaml_raises_and_is_not_cached(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("milestones: []\n")
    loader = Counting(path)
    for _ in range(2):
        with pytest.raises(ConfigError):
            _get(path, loader)
    assert loader.calls == 2
    assert not home.exists() or list(home.iterdir()) == []


def test_missing_file_is_the_loaders_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        cache.load_rules(tmp_path / "absent.yaml", _check("xrootd"))
    assert "absent.yaml" in str(raised.value)


@pytest.mark.parametrize("problem", ["corrupt", "foreign-key", "wrong-type", "group-writable", "symlink",
                                     "open-dir", "dir-symlink", "fifo"])
def test_a_bad_cache_falls_back_to_yaml(problem: str, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    loader = Counting(path)
    _get(path, loader)
    (entry,) = list(home.iterdir())
    stolen = tmp_path / "stolen.pickle"
    if problem == "corrupt":
        entry.write_bytes(b"\x80\x05garbage")
    elif problem == "foreign-key":
        key, value = pickle.loads(entry.read_bytes())
        entry.write_bytes(pickle.dumps((("rules:test", "/elsewhere", *key[2:]), value)))
    elif problem == "wrong-type":
        key, _ = pickle.loads(entry.read_bytes())
        entry.write_bytes(pickle.dumps((key, {"milestones": []})))
    elif problem == "group-writable":
        entry.chmod(0o664)
    elif problem == "symlink":
        stolen.write_bytes(entry.read_bytes())
        entry.unlink()
        entry.symlink_to(stolen)
    elif problem == "open-dir":
        home.chmod(0o755)
    elif problem == "dir-symlink":
        moved = tmp_path / "elsewhere"
        home.rename(moved)
        home.symlink_to(moved)
    elif problem == "fifo":
        entry.unlink()
        os.mkfifo(entry)
    assert _get(path, loader) == rules_from_yaml(path)
    assert loader.calls == 2


def test_unwritable_or_absent_cache_home_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the directory should be
    loader = Counting(path)
    assert _get(path, loader) == _get(path, loader) == rules_from_yaml(path)
    assert loader.calls == 2
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    monkeypatch.delenv("HOME")
    assert cache.cache_dir() is None
    assert _get(path, loader) == rules_from_yaml(path)


def test_no_cache_switch(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDREADY_NO_CACHE", "1")
    path = tmp_path / "m.yaml"
    path.write_text(BUNDLED)
    loader = Counting(path)
    _get(path, loader)
    _get(path, loader)
    assert loader.calls == 2 and not home.exists()


def _check(name: str) -> object:
    from gridready.checks import load_check
    return load_check(name)


def test_rules_are_cached_per_check(home: Path) -> None:
    from gridready import bundled

    xrootd = cache.load_rules(bundled.milestones_file(), _check("xrootd"))  # type: ignore[arg-type]
    dcache = cache.load_rules(bundled.milestones_file(), _check("dcache_version"))  # type: ignore[arg-type]
    assert xrootd == dcache == rules_from_yaml(bundled.milestones_file())
    assert len(list(home.iterdir())) == 2
    inventory = cache.load_inventory(bundled.inventory_file())
    assert inventory == cache.load_inventory(bundled.inventory_file())
    assert len(list(home.iterdir())) == 3
