"""The requirement catalogue (``catalogue.toml``) as typed, validated data.

The catalogue ships as package data (``catalogue.toml``) and is read with :func:`load_catalogue`,
which validates it strictly: a malformed file raises :class:`CatalogueError` naming the entry and
the field at fault. Every requirement becomes one test per target; its ``id`` is public interface.

``python -m pytest_govmail.inputs.catalogue_markdown [ID ...]`` prints it as Markdown.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "ALL",
    "APPLIES_TO_VALUES",
    "AREA_TITLES",
    "Catalogue",
    "CatalogueError",
    "Level",
    "Requirement",
    "Scope",
    "Source",
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

SUPPORTED_VERSIONS: frozenset[str] = frozenset({"1"})

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
)
#: Fields a requirement may leave out: a record without a judge is not implemented yet.
_OPTIONAL_FIELDS = ("judge", "level_source", "level_quote")
#: What a record's ``needs`` may name: DNS planner groups, and the other kinds of evidence.
_NEED_RE = re.compile(r"^(dns:[a-z]+|tls|policy|messages|reports)$")
_JUDGE_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_SOURCE_FIELDS = ("title", "url")
_TOP_LEVEL_KEYS = frozenset({"version", "sources", "requirement"})


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
    level_source: str | None = None
    #: The short sentence of that source that sets the level, quoted as it stands.
    level_quote: str | None = None

    @property
    def implemented(self) -> bool:
        """True when the record names a judge, so a run tests it."""
        return self.judge is not None

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
    """The validated requirements, in file order, with the sources they cite. Immutable."""

    __slots__ = ("_by_id", "_requirements", "_sources", "_version")

    def __init__(
        self, version: str, sources: Mapping[str, Source], requirements: Sequence[Requirement]
    ) -> None:
        self._version = version
        self._sources: Mapping[str, Source] = MappingProxyType(dict(sources))
        self._requirements: tuple[Requirement, ...] = tuple(requirements)
        self._by_id: Mapping[str, Requirement] = MappingProxyType(
            {r.id: r for r in self._requirements}
        )
        if len(self._by_id) != len(self._requirements):
            raise CatalogueError("requirement IDs are not unique")

    @property
    def version(self) -> str:
        return self._version

    @property
    def sources(self) -> Mapping[str, Source]:
        """The declared sources by key, in file order (read-only)."""
        return self._sources

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return self._requirements

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._requirements)

    def __len__(self) -> int:
        return len(self._requirements)

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id

    def __getitem__(self, requirement_id: str) -> Requirement:
        try:
            return self._by_id[requirement_id]
        except KeyError:
            raise KeyError(f"no requirement {requirement_id!r} in the catalogue") from None

    def get(self, requirement_id: str) -> Requirement | None:
        return self._by_id.get(requirement_id)

    def ids(self) -> tuple[str, ...]:
        """Every requirement ID, in file order."""
        return tuple(r.id for r in self._requirements)

    def areas(self) -> tuple[str, ...]:
        """Every area, in order of first appearance."""
        return tuple(dict.fromkeys(r.area for r in self._requirements))

    def in_area(self, area: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self._requirements if r.area == area)

    def cited(self, requirement: Requirement) -> tuple[tuple[str, Source], ...]:
        """Each citation of ``requirement`` with the :class:`Source` it refers to."""
        return tuple((ref, self._sources[source_key(ref)]) for ref in requirement.sources)

    def __repr__(self) -> str:
        return f"<Catalogue v{self._version}: {len(self)} requirements>"


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
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise CatalogueError(f"{origin}: unknown top-level key(s): {', '.join(unknown)}")

    version = document.get("version")
    if not isinstance(version, str) or version not in SUPPORTED_VERSIONS:
        supported = ", ".join(sorted(SUPPORTED_VERSIONS))
        raise CatalogueError(
            f"{origin}: field 'version': {version!r} is not a supported version ({supported})"
        )

    sources = _build_sources(document.get("sources"), origin)

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

    return Catalogue(version, sources, requirements)


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
        unknown = sorted(set(entry) - set(_SOURCE_FIELDS))
        if unknown:
            raise CatalogueError(f"{where}: unknown field(s): {', '.join(unknown)}")
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
    unknown = sorted(set(raw) - set(_REQUIREMENT_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s): {', '.join(unknown)}")
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

    level_source = raw.get("level_source")
    level_quote = raw.get("level_quote")
    if (level_source is None) != (level_quote is None):
        raise CatalogueError(f"{where}: 'level_source' and 'level_quote' come together")
    if level_source is not None:
        level_source = _text(raw, "level_source", where)
        if source_key(level_source) not in sources:
            raise CatalogueError(
                f"{where}: field 'level_source': {level_source!r} does not start with a "
                f"declared source key (declared: {', '.join(sources)})"
            )
        level_quote = _text(raw, "level_quote", where)

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
