"""The requirement catalogue (``catalogue.toml``) as typed, validated data.

The catalogue ships as package data (``catalogue.toml``) and is read with :func:`load_catalogue`,
which validates it strictly: a malformed file raises :class:`CatalogueError` naming the entry and
the field at fault. Every requirement becomes one test per target; its ``id`` is public interface
and never changes meaning: a requirement that no longer applies stays in the file, *withdrawn*
(with the date, the reason and the records that replace it), is listed in reports and never
run, and its ID is never given to another requirement. Each level cites the sentence of its
source that sets it (``level_source``, ``level_quote``), and the file's ``[[changelog]]`` says
what each catalogue version changed; the last entry's version is the catalogue's.

``python -m pytest_govmail.inputs.catalogue_markdown [ID ...]`` prints it as Markdown.
"""

from __future__ import annotations

import datetime
import enum
import functools
import importlib.resources
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pytest_govmail.inputs.toml_input import refuse_unknown

__all__ = [
    "ALL",
    "APPLIES_TO_VALUES",
    "AREA_TITLES",
    "Catalogue",
    "CatalogueError",
    "ChangelogEntry",
    "Level",
    "LevelChange",
    "Requirement",
    "Scope",
    "Source",
    "Withdrawal",
    "load_catalogue",
    "source_key",
]

#: The applies-to value that stands for every domain.
ALL = "all"
#: The applies-to values for particular kinds of domain: receiving, sending and parked
#: (GOV.UK "Protect domains that do not send email" for the last).
APPLIES_TO_VALUES: frozenset[str] = frozenset({"receiving", "sending", "parked"})

#: Human titles of the areas, for headings in reports and documentation.
AREA_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "mx": "MX and reachability",
        "tls": "TLS on each MX",
        "cert": "Certificates",
        "mtasts": "MTA-STS",
        "tlsrpt": "TLS-RPT",
        "spf": "SPF",
        "dmarc": "DMARC",
        "dkim": "DKIM",
        "park": "Parked domains",
        "ptr": "PTR",
        "dnssec": "DNSSEC",
        "dane": "DANE",
        "attest": "Attestations",
        "reports": "DMARC and TLS-RPT reports",
    }
)

#: The catalogue version every release before catalogue versions were recorded in the evidence
#: judged with (pytest-govmail 0.1.0 and its successors up to catalogue version 2).
FIRST_VERSION = "1"

_PACKAGED_NAME = "catalogue.toml"
_ID_RE = re.compile(r"^[A-Z]+-\d{2}$")
_AREA_RE = re.compile(r"^[a-z]+$")
_SOURCE_KEY_RE = re.compile(r"^[A-Z][A-Z0-9]*$")

_REQUIREMENT_FIELDS = (
    "id",
    "title",
    "level",
    "area",
    "applies_to",
    "scope",
    "criterion",
    "sources",
    "remediation",
    "needs",
    "level_source",
    "level_quote",
)
#: Fields a requirement may leave out: a record without a judge is not implemented yet, and one
#: with ``withdrawn`` is no longer a requirement.
_OPTIONAL_FIELDS = ("judge", "withdrawn")
_WITHDRAWN_FIELDS = frozenset({"date", "reason", "replaced_by"})
_CHANGELOG_FIELDS = frozenset({"version", "date", "changes", "added", "withdrawn", "levels"})
_VERSION_RE = re.compile(r"^[1-9][0-9]{0,5}$")
#: What a record's ``needs`` may name: DNS planner groups, and the other kinds of evidence.
_NEED_RE = re.compile(r"^(dns:[a-z]+|tls|policy|messages|reports)$")
_JUDGE_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_SOURCE_FIELDS = ("title", "url")
_TOP_LEVEL_KEYS = frozenset({"version", "sources", "requirement", "changelog"})


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the entry and the field."""


class Level(enum.StrEnum):
    """How binding a requirement is: the guidance's "must" and "should" (RFC 2119 words), and
    "advisory" for good practice the guidance does not require."""

    MUST = "must"
    SHOULD = "should"
    ADVISORY = "advisory"


class Scope(enum.StrEnum):
    """What one test covers: a domain, or one (domain, MX host) pair."""

    DOMAIN = "domain"
    HOST = "host"


@dataclass(frozen=True, slots=True)
class Source:
    """A document the catalogue cites: ``key`` is how requirements refer to it (``RFC7208``)."""

    key: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Why a requirement is no longer one: since when, the reason, and what replaced it."""

    date: datetime.date
    reason: str
    replaced_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """What one catalogue version changed: sentences for people, and the IDs it added,
    withdrew or changed the level of (each checked against the records)."""

    version: str
    date: datetime.date
    changes: tuple[str, ...]
    added: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A level an organisation set for itself (``--govmail-levels``), with its reason."""

    requirement: str
    catalogue_level: Level
    level: Level
    reason: str
    source: str = ""

    def describe(self) -> str:
        return (
            f"{self.requirement}: {self.catalogue_level.value} -> {self.level.value} "
            f"({self.reason})"
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    """One row of the catalogue."""

    id: str
    title: str
    level: Level
    area: str
    applies_to: frozenset[str]
    scope: Scope
    criterion: str
    sources: tuple[str, ...]
    remediation: str
    #: What the judge reads, and so what a run collects for it (see catalogue.toml's header).
    needs: tuple[str, ...] = ()
    #: ``MODULE.FUNCTION`` in :mod:`pytest_govmail.judge`; None while not implemented.
    judge: str | None = None
    #: The citation that sets ``level``: a source key, optionally followed by a section.
    level_source: str = ""
    #: The short sentence of that source that sets the level, quoted as it stands.
    level_quote: str = ""
    #: Set when the requirement is withdrawn: it is listed, never run, its ID never reused.
    withdrawn: Withdrawal | None = None

    @property
    def implemented(self) -> bool:
        """True when the record names a judge, so a run tests it."""
        return self.judge is not None and self.withdrawn is None

    @property
    def dns_groups(self) -> tuple[str, ...]:
        """The DNS planner groups named in ``needs`` (``dns:spf`` gives ``spf``)."""
        return tuple(n.removeprefix("dns:") for n in self.needs if n.startswith("dns:"))

    @property
    def prefix(self) -> str:
        """The part of the ID before the number (``DMARC`` for ``DMARC-03``)."""
        return self.id.rsplit("-", 1)[0]

    @property
    def applies_to_all(self) -> bool:
        """True when the requirement applies to every domain."""
        return ALL in self.applies_to

    @property
    def per_host(self) -> bool:
        return self.scope is Scope.HOST


def source_key(reference: str) -> str:
    """The source key a citation starts with: ``RFC7208`` for ``"RFC7208 §4.6.4"``."""
    return reference.split(maxsplit=1)[0] if reference.strip() else ""


class Catalogue:
    """The validated requirements, in file order, with the sources they cite. Immutable.

    Iterating, :meth:`ids`, :meth:`in_area`, ``in`` and look-ups see the requirements in force;
    :attr:`withdrawn` holds the withdrawn ones and :meth:`record` finds any record by ID.
    ``level_changes`` are the levels an organisation set for itself (:meth:`with_levels`).
    """

    __slots__ = (
        "_by_id",
        "_changelog",
        "_level_changes",
        "_records",
        "_requirements",
        "_sources",
        "_version",
        "_withdrawn",
    )

    def __init__(
        self,
        version: str,
        sources: Mapping[str, Source],
        requirements: Sequence[Requirement],
        changelog: Sequence[ChangelogEntry] = (),
        level_changes: Sequence[LevelChange] = (),
    ) -> None:
        self._version = version
        self._sources: Mapping[str, Source] = MappingProxyType(dict(sources))
        self._records: tuple[Requirement, ...] = tuple(requirements)
        self._requirements = tuple(r for r in self._records if r.withdrawn is None)
        self._withdrawn = tuple(r for r in self._records if r.withdrawn is not None)
        self._by_id: Mapping[str, Requirement] = MappingProxyType({r.id: r for r in self._records})
        if len(self._by_id) != len(self._records):
            raise CatalogueError("requirement IDs are not unique")
        self._changelog = tuple(changelog)
        self._level_changes = tuple(level_changes)

    @property
    def version(self) -> str:
        return self._version

    @property
    def sources(self) -> Mapping[str, Source]:
        """The declared sources by key, in file order (read-only)."""
        return self._sources

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements in force, in file order."""
        return self._requirements

    @property
    def records(self) -> tuple[Requirement, ...]:
        """Every record in file order, withdrawn ones included."""
        return self._records

    @property
    def withdrawn(self) -> tuple[Requirement, ...]:
        """The withdrawn requirements, in file order: listed in reports, never run."""
        return self._withdrawn

    @property
    def changelog(self) -> tuple[ChangelogEntry, ...]:
        """What each catalogue version changed, oldest first."""
        return self._changelog

    @property
    def level_changes(self) -> tuple[LevelChange, ...]:
        """The levels an organisation set for itself, in the order its file gave them."""
        return self._level_changes

    def record(self, requirement_id: str) -> Requirement | None:
        """Any record by ID, withdrawn ones included."""
        return self._by_id.get(requirement_id)

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._requirements)

    def __len__(self) -> int:
        return len(self._requirements)

    def __contains__(self, requirement_id: object) -> bool:
        found = self._by_id.get(requirement_id) if isinstance(requirement_id, str) else None
        return found is not None and found.withdrawn is None

    def __getitem__(self, requirement_id: str) -> Requirement:
        found = self._by_id.get(requirement_id)
        if found is None:
            raise KeyError(f"no requirement {requirement_id!r} in the catalogue")
        if found.withdrawn is not None:
            raise KeyError(f"{requirement_id} was withdrawn on {found.withdrawn.date.isoformat()}")
        return found

    def get(self, requirement_id: str) -> Requirement | None:
        found = self._by_id.get(requirement_id)
        return found if found is not None and found.withdrawn is None else None

    def with_levels(self, changes: Sequence[LevelChange]) -> Catalogue:
        """This catalogue with the levels an organisation set (see :mod:`.levels`)."""
        by_id = {c.requirement: c for c in changes}
        for change in changes:
            if change.requirement not in self:
                raise CatalogueError(f"{change.requirement}: not a requirement in force")
        records = [
            replace(r, level=by_id[r.id].level) if r.id in by_id else r for r in self._records
        ]
        return Catalogue(self._version, self._sources, records, self._changelog, changes)

    def ids(self) -> tuple[str, ...]:
        """Every requirement ID, in file order."""
        return tuple(r.id for r in self._requirements)

    def areas(self) -> tuple[str, ...]:
        """Every area, in order of first appearance, withdrawn records' included (an area whose
        requirements are all withdrawn still names its suite and its marker)."""
        return tuple(dict.fromkeys(r.area for r in self._records))

    def in_area(self, area: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self._requirements if r.area == area)

    def cited(self, requirement: Requirement) -> tuple[tuple[str, Source], ...]:
        """Each citation of ``requirement`` with the :class:`Source` it refers to."""
        return tuple((ref, self._sources[source_key(ref)]) for ref in requirement.sources)

    def __repr__(self) -> str:
        return (
            f"<Catalogue v{self._version}: {len(self)} requirements, "
            f"{len(self._withdrawn)} withdrawn>"
        )


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate a catalogue: the packaged one (cached) when ``path`` is None."""
    if path is None:
        return _packaged_catalogue()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc}") from exc
    return _parse(data, str(path))


@functools.cache
def _packaged_catalogue() -> Catalogue:
    resource = importlib.resources.files("pytest_govmail.inputs").joinpath(_PACKAGED_NAME)
    return _parse(resource.read_bytes(), f"pytest_govmail/{_PACKAGED_NAME}")


def _parse(data: bytes, origin: str) -> Catalogue:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{origin}: not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{origin}: not valid TOML: {exc}") from exc
    return _build(document, origin)


def _build(document: Mapping[str, Any], origin: str) -> Catalogue:
    refuse_unknown(document, _TOP_LEVEL_KEYS, origin, CatalogueError, "unknown top-level key(s):")

    version = document.get("version")
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise CatalogueError(
            f"{origin}: field 'version': {version!r} is not a version number (\"2\")"
        )

    sources = _build_sources(document.get("sources"), origin)
    changelog = _build_changelog(document.get("changelog"), origin)
    if changelog[-1].version != version:
        raise CatalogueError(
            f"{origin}: field 'version': {version!r} is not the last changelog entry's version "
            f"({changelog[-1].version!r})"
        )

    raw_requirements = document.get("requirement")
    if not isinstance(raw_requirements, list) or not raw_requirements:
        raise CatalogueError(f"{origin}: no [[requirement]] entries")

    requirements: list[Requirement] = []
    seen: dict[str, int] = {}
    area_of_prefix: dict[str, tuple[str, str]] = {}
    for index, raw in enumerate(raw_requirements, start=1):
        requirement = _build_requirement(raw, index, sources, origin)
        where = f"{origin}: requirement #{index} ({requirement.id})"
        if requirement.id in seen:
            raise CatalogueError(
                f"{where}: field 'id': duplicate of requirement #{seen[requirement.id]}"
            )
        seen[requirement.id] = index
        first = area_of_prefix.setdefault(requirement.prefix, (requirement.area, requirement.id))
        if first[0] != requirement.area:
            raise CatalogueError(
                f"{where}: field 'area': {requirement.area!r} differs from {first[0]!r} "
                f"given for {first[1]} (one area per ID prefix {requirement.prefix!r})"
            )
        requirements.append(requirement)

    prefixes_of_area: dict[str, str] = {}
    for prefix, (area, first_id) in area_of_prefix.items():
        other = prefixes_of_area.setdefault(area, prefix)
        if other != prefix:
            raise CatalogueError(
                f"{origin}: requirement {first_id}: field 'area': {area!r} is already the area "
                f"of ID prefix {other!r} (one ID prefix per area)"
            )

    _check_history(requirements, changelog, origin)
    return Catalogue(version, sources, requirements, changelog)


def _check_history(
    requirements: Sequence[Requirement], changelog: Sequence[ChangelogEntry], origin: str
) -> None:
    """The changelog and the records tell one story: every ID the changelog names exists, an ID
    it withdrew is still there and withdrawn (so it can never come back with another meaning),
    every withdrawn record is withdrawn by exactly one version, and a withdrawn record is
    replaced only by requirements in force."""
    by_id = {r.id: r for r in requirements}
    withdrawn_by: dict[str, str] = {}
    for entry in changelog:
        where = f"{origin}: changelog version {entry.version}"
        for field_name, ids in (
            ("added", entry.added),
            ("withdrawn", entry.withdrawn),
            ("levels", entry.levels),
        ):
            for ident in ids:
                if ident not in by_id:
                    raise CatalogueError(f"{where}: field {field_name!r}: no record {ident!r}")
        for ident in entry.withdrawn:
            if by_id[ident].withdrawn is None:
                raise CatalogueError(
                    f"{where}: field 'withdrawn': {ident} is withdrawn and may never come back "
                    "(its record must keep its 'withdrawn' table)"
                )
            if ident in withdrawn_by:
                raise CatalogueError(
                    f"{where}: field 'withdrawn': {ident} was already withdrawn by version "
                    f"{withdrawn_by[ident]}"
                )
            withdrawn_by[ident] = entry.version
    for requirement in requirements:
        withdrawal = requirement.withdrawn
        if withdrawal is None:
            continue
        where = f"{origin}: requirement {requirement.id}"
        if requirement.id not in withdrawn_by:
            raise CatalogueError(
                f"{where}: field 'withdrawn': no changelog entry lists it under 'withdrawn'"
            )
        for other in withdrawal.replaced_by:
            target = by_id.get(other)
            if target is None or target.withdrawn is not None or other == requirement.id:
                raise CatalogueError(
                    f"{where}: field 'withdrawn.replaced_by': {other!r} is not a requirement "
                    "in force"
                )


def _build_changelog(raw: object, origin: str) -> tuple[ChangelogEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{origin}: no [[changelog]] entries")
    entries: list[ChangelogEntry] = []
    for index, item in enumerate(raw, start=1):
        where = f"{origin}: changelog entry #{index}"
        if not isinstance(item, dict):
            raise CatalogueError(f"{where}: must be a table")
        refuse_unknown(item, _CHANGELOG_FIELDS, where, CatalogueError, "unknown field(s):")
        version = _text(item, "version", where)
        if not _VERSION_RE.fullmatch(version):
            raise CatalogueError(f"{where}: field 'version': {version!r} is not a version number")
        if entries and int(version) != int(entries[-1].version) + 1:
            raise CatalogueError(
                f"{where}: field 'version': {version} does not follow {entries[-1].version}"
            )
        if not entries and version != FIRST_VERSION:
            raise CatalogueError(f"{where}: field 'version': the first version is {FIRST_VERSION}")
        day = item.get("date")
        if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
            raise CatalogueError(f"{where}: field 'date': {day!r} is not a date (2026-12-03)")
        if entries and day < entries[-1].date:
            raise CatalogueError(f"{where}: field 'date': before the previous version's")
        entries.append(
            ChangelogEntry(
                version=version,
                date=day,
                changes=_text_list(item, "changes", where),
                added=_id_list(item, "added", where),
                withdrawn=_id_list(item, "withdrawn", where),
                levels=_id_list(item, "levels", where),
            )
        )
    return tuple(entries)


def _id_list(table: Mapping[str, object], name: str, where: str) -> tuple[str, ...]:
    if name not in table:
        return ()
    ids = _text_list(table, name, where)
    for ident in ids:
        if not _ID_RE.fullmatch(ident):
            raise CatalogueError(f"{where}: field {name!r}: {ident!r} does not match PREFIX-NN")
    return ids


def _build_withdrawal(raw: object, where: str) -> Withdrawal:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: field 'withdrawn': must be a table (date, reason)")
    refuse_unknown(
        raw, _WITHDRAWN_FIELDS, where, CatalogueError, "field 'withdrawn': unknown field(s):"
    )
    day = raw.get("date")
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise CatalogueError(f"{where}: field 'withdrawn.date': {day!r} is not a date")
    reason = _text(raw, "reason", f"{where}: withdrawn")
    replaced = _id_list(raw, "replaced_by", f"{where}: withdrawn")
    return Withdrawal(date=day, reason=reason, replaced_by=replaced)


def _build_sources(raw: object, origin: str) -> dict[str, Source]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError(f"{origin}: no [sources] table")
    sources: dict[str, Source] = {}
    for key, entry in raw.items():
        where = f"{origin}: source {key!r}"
        if not _SOURCE_KEY_RE.fullmatch(key):
            raise CatalogueError(f"{where}: key must be upper-case letters and digits")
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: must be a table with title and url")
        refuse_unknown(entry, _SOURCE_FIELDS, where, CatalogueError, "unknown field(s):")
        title = _text(entry, "title", where)
        url = _text(entry, "url", where)
        if not url.startswith("https://"):
            raise CatalogueError(f"{where}: field 'url': {url!r} is not an https:// URL")
        sources[key] = Source(key=key, title=title, url=url)
    return sources


def _build_requirement(
    raw: object, index: int, sources: Mapping[str, Source], origin: str
) -> Requirement:
    where = f"{origin}: requirement #{index}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: must be a table")
    ident = raw.get("id")
    if isinstance(ident, str):
        where = f"{where} ({ident})"
    refuse_unknown(
        raw, {*_REQUIREMENT_FIELDS, *_OPTIONAL_FIELDS}, where, CatalogueError, "unknown field(s):"
    )
    missing = [name for name in _REQUIREMENT_FIELDS if name not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing field(s): {', '.join(missing)}")

    ident = _text(raw, "id", where)
    if not _ID_RE.fullmatch(ident):
        raise CatalogueError(f"{where}: field 'id': {ident!r} does not match PREFIX-NN")

    level_text = _text(raw, "level", where)
    try:
        level = Level(level_text)
    except ValueError:
        allowed = ", ".join(m.value for m in Level)
        raise CatalogueError(
            f"{where}: field 'level': {level_text!r} is not one of {allowed}"
        ) from None

    scope_text = _text(raw, "scope", where)
    try:
        scope = Scope(scope_text)
    except ValueError:
        allowed = ", ".join(m.value for m in Scope)
        raise CatalogueError(
            f"{where}: field 'scope': {scope_text!r} is not one of {allowed}"
        ) from None

    area = _text(raw, "area", where)
    if not _AREA_RE.fullmatch(area):
        raise CatalogueError(f"{where}: field 'area': {area!r} is not one lower-case word")

    applies = _text_list(raw, "applies_to", where)
    if ALL in applies and len(applies) > 1:
        raise CatalogueError(f"{where}: field 'applies_to': {ALL!r} must stand alone")
    for value in applies:
        if value != ALL and value not in APPLIES_TO_VALUES:
            allowed = ", ".join([ALL, *sorted(APPLIES_TO_VALUES)])
            raise CatalogueError(f"{where}: field 'applies_to': {value!r} is not one of {allowed}")

    cited = _text_list(raw, "sources", where)
    for reference in cited:
        key = source_key(reference)
        if key not in sources:
            raise CatalogueError(
                f"{where}: field 'sources': {reference!r} does not start with a declared "
                f"source key (declared: {', '.join(sources)})"
            )

    needs = tuple(raw["needs"]) if isinstance(raw["needs"], list) else None
    if needs is None or not all(isinstance(n, str) and _NEED_RE.fullmatch(n) for n in needs):
        raise CatalogueError(
            f"{where}: field 'needs': {raw['needs']!r} is not a list of dns:GROUP, tls, policy, "
            "messages"
        )
    judge = raw.get("judge")
    if judge is not None and not (isinstance(judge, str) and _JUDGE_RE.fullmatch(judge)):
        raise CatalogueError(f"{where}: field 'judge': {judge!r} is not MODULE.FUNCTION")

    level_source = _text(raw, "level_source", where)
    if source_key(level_source) not in sources:
        raise CatalogueError(
            f"{where}: field 'level_source': {level_source!r} does not start with a "
            f"declared source key (declared: {', '.join(sources)})"
        )
    level_quote = _text(raw, "level_quote", where)
    if len(level_quote) > 400:
        raise CatalogueError(
            f"{where}: field 'level_quote': {len(level_quote)} characters; quote the one "
            "sentence that sets the level (at most 400)"
        )
    withdrawn = None
    if "withdrawn" in raw:
        withdrawn = _build_withdrawal(raw["withdrawn"], where)
        if judge is not None:
            raise CatalogueError(
                f"{where}: field 'judge': a withdrawn requirement is never run, so names no judge"
            )

    return Requirement(
        id=ident,
        title=_text(raw, "title", where),
        level=level,
        area=area,
        applies_to=frozenset(applies),
        scope=scope,
        criterion=_text(raw, "criterion", where),
        sources=tuple(cited),
        remediation=_text(raw, "remediation", where),
        needs=needs,
        judge=judge,
        level_source=level_source,
        level_quote=level_quote,
        withdrawn=withdrawn,
    )


def _text(table: Mapping[str, object], name: str, where: str) -> str:
    value = table.get(name)
    if not isinstance(value, str):
        raise CatalogueError(f"{where}: field {name!r}: expected a string, got {value!r}")
    if not value.strip():
        raise CatalogueError(f"{where}: field {name!r}: must not be empty")
    return value.strip()


def _text_list(table: Mapping[str, object], name: str, where: str) -> tuple[str, ...]:
    value = table.get(name)
    if not isinstance(value, list) or not value:
        raise CatalogueError(
            f"{where}: field {name!r}: expected a non-empty array of strings, got {value!r}"
        )
    items: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise CatalogueError(f"{where}: field {name!r}: {item!r} is not a non-empty string")
        if item.strip() in items:
            raise CatalogueError(f"{where}: field {name!r}: {item!r} is listed twice")
        items.append(item.strip())
    return tuple(items)


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
