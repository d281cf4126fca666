"""What the dCache version check saw: each storage element and the versions it publishes.

Every source (GLUE 1.3, GLUE 2, SRR, the info service) boils down to a
StorageElement: its name, the implementation it says it runs and the version
strings found, each with where it was found. Strings are parsed here, once, so
an unparseable or missing version becomes a ``problem`` that names the SE, the
attribute and the string, which the check reports as UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gridready.dcache.version import DcacheVersion, VersionError


@dataclass(frozen=True)
class Published:
    """One version string and where it came from (e.g. "GLUE 1.3")."""

    source: str
    text: str
    version: DcacheVersion


@dataclass(frozen=True)
class StorageElement:
    name: str
    #: The implementation as published ("dCache", "CASTOR"); None if nothing said.
    implementation: str | None
    published: tuple[Published, ...] = ()
    #: Why no usable version could be had (missing attribute, unparseable string).
    problems: tuple[str, ...] = ()
    #: Extra facts for the long output.
    notes: tuple[str, ...] = ()
    #: Single-valued attributes published with several values, e.g.
    #: "the GLUE 1.3 entry repeats the single-valued GlueSEImplementationVersion".
    repeated: tuple[str, ...] = ()

    @property
    def is_dcache(self) -> bool:
        return self.implementation is not None and self.implementation.strip().lower() == "dcache"

    @property
    def version(self) -> DcacheVersion:
        """The version judged: the oldest published one (sources may lag an upgrade).

        Raises ValueError when nothing was published; ``storage_element``
        records a problem in that case, so a judged element always has one.
        """
        if not self.published:
            raise ValueError(f"{self.name}: no published version to judge")
        return min(p.version for p in self.published)

    @property
    def disagreement(self) -> bool:
        return len({p.version for p in self.published}) > 1

    def describe(self) -> str:
        """E.g. "srm.example runs dCache 1.9.5-22 (1.9.5-23 in GLUE 1.3, 1.9.5-22 in GLUE 2; judged on the older)"."""
        text = f"{self.name} runs dCache {self.version}"
        if not self.disagreement:
            return text
        by_version: dict[DcacheVersion, list[str]] = {}
        for item in self.published:
            by_version.setdefault(item.version, []).append(item.source)
        listing = ", ".join(f"{version} in {' and '.join(dict.fromkeys(sources))}"
                            for version, sources in sorted(by_version.items(), reverse=True))
        older = "older" if len(by_version) == 2 else "oldest"
        repeated = "".join(f"; {item}" for item in self.repeated)
        return f"{text} (published {listing}{repeated}; judged on the {older})"


def storage_element(name: str, implementation: str | None,
                    candidates: Sequence[tuple[str, str]], missing: str,
                    notes: Sequence[str] = (), repeated: Sequence[str] = ()) -> StorageElement:
    """Parse ``candidates`` (source, text) into a StorageElement.

    ``missing`` is the problem to record when there is no candidate at all
    (naming the attributes that were looked for). Only a dCache SE's versions
    are parsed: another implementation's numbering means nothing here.
    ``repeated`` names single-valued attributes that carried several values
    (all of them are among ``candidates``; the oldest is judged).
    """
    element = StorageElement(name, implementation, notes=tuple(notes))
    if implementation is None:
        return StorageElement(name, None, problems=(
            f"{name} publishes no implementation name, so it cannot be told whether it runs "
            f"dCache ({missing})",), notes=tuple(notes))
    if not element.is_dcache:
        return element
    published: list[Published] = []
    problems: list[str] = []
    for source, text in candidates:
        try:
            published.append(Published(source, text, DcacheVersion.parse(text)))
        except VersionError as exc:
            problems.append(f"{name}: {exc} in {source}")
    if not candidates:
        problems.append(missing)
    return StorageElement(name, implementation, tuple(published), tuple(problems), tuple(notes),
                          tuple(repeated))


@dataclass(frozen=True)
class DcacheObservation:
    """Everything ``collect`` found; ``where`` names the source (URI, URL or file)."""

    where: str
    elements: tuple[StorageElement, ...]

    @property
    def dcache(self) -> tuple[StorageElement, ...]:
        return tuple(e for e in self.elements if e.is_dcache)

    @property
    def others(self) -> tuple[StorageElement, ...]:
        return tuple(e for e in self.elements if not e.is_dcache)
