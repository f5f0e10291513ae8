"""Reporting services that no longer receive reports: the data DMARC-09 and TLSRPT-03 judge by.

NCSC Mail Check was retired on 31 March 2026, yet many records still send DMARC aggregate and
TLS-RPT reports only to its addresses, so those reports reach no one. Which addresses belong to
a retired service is data, not code: ``retired_reporting.toml`` ships with the package, and a
user adds services of their own with ``--govmail-retired-addresses FILE`` (same layout). The
run stores the user's file in the evidence, so a replay judges with the same list.

A user's file is hostile input like any other: it is read bounded, parsed strictly (unknown
keys, wrong types, a mailbox that is not one, a date that is not a date: :class:`RetiredError`
naming the entry), and every text it holds is kept inert, since reports show it.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_govmail.inputs.toml_input import load_toml, refuse_unknown, text_field
from pytest_govmail.model.text import inert

if TYPE_CHECKING:
    from pytest_govmail.records.dmarc import ReportUri

__all__ = [
    "PACKAGED_SOURCE",
    "REPORT_KINDS",
    "RetiredAddress",
    "RetiredError",
    "RetiredReporting",
    "packaged_retired",
    "parse_retired",
    "retired_from_input",
]

PACKAGED_SOURCE = "pytest_govmail/inputs/retired_reporting.toml"
#: The kinds of report an entry covers: DMARC's rua and ruf, and TLS-RPT's rua.
REPORT_KINDS = frozenset({"dmarc", "tlsrpt"})
SCHEMA = 1
#: A user's list holds at most this many entries, each text at most this long.
MAX_ENTRIES = 1000
MAX_TEXT = 300
_FIELDS = frozenset({"service", "reports", "mailbox", "domain", "retired", "source"})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")
_LOCAL_RE = re.compile(r"^[\x21-\x3f\x41-\x7e]{1,64}$")  # printable ASCII but "@", no space


class RetiredError(ValueError):
    """A retired-address file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class RetiredAddress:
    """One retired mailbox (``mailbox``), or every address at a retired domain (``domain``)."""

    service: str
    reports: str
    retired: datetime.date
    source: str
    mailbox: str = ""
    domain: str = ""

    @property
    def shown(self) -> str:
        return self.mailbox or f"any address at {self.domain}"

    def matches(self, uri: ReportUri) -> bool:
        """True when the report URI goes to this retired address or domain."""
        host = uri.host
        if self.domain:
            return host == self.domain
        if not uri.is_mailto or host is None:
            return False
        local, _, domain = self.mailbox.rpartition("@")
        their_local = uri.address.rpartition("@")[0]
        return their_local == local and host == domain

    def describe(self) -> str:
        return f"{self.shown} ({self.service}, retired {self.retired.isoformat()}; {self.source})"


@dataclass(frozen=True, slots=True)
class RetiredReporting:
    """The retired addresses a run judges with: the packaged list and any the user added."""

    addresses: tuple[RetiredAddress, ...]
    sources: tuple[str, ...] = (PACKAGED_SOURCE,)

    def find(self, reports: str, uri: ReportUri) -> RetiredAddress | None:
        """The entry ``uri`` is retired by for this kind of report, or None."""
        for entry in self.addresses:
            if entry.reports == reports and entry.matches(uri):
                return entry
        return None

    def extended(self, other: RetiredReporting) -> RetiredReporting:
        known = set(self.addresses)
        added = tuple(a for a in other.addresses if a not in known)
        return RetiredReporting(self.addresses + added, self.sources + other.sources)


def parse_retired(text: str, source: str) -> RetiredReporting:
    """A retired-address file's entries; :class:`RetiredError` names what is wrong."""
    where = inert(source)
    document = load_toml(text, where, RetiredError)
    refuse_unknown(document, {"schema", "address"}, where, RetiredError)
    if document.get("schema") != SCHEMA:
        raise RetiredError(f"{where}: 'schema' must be {SCHEMA}")
    raw = document.get("address", [])
    if not isinstance(raw, list):
        raise RetiredError(f"{where}: 'address' must be an array of tables ([[address]])")
    if len(raw) > MAX_ENTRIES:
        raise RetiredError(f"{where}: {len(raw)} entries, more than {MAX_ENTRIES}")
    entries = tuple(_entry(item, f"{where}: address #{n}") for n, item in enumerate(raw, 1))
    return RetiredReporting(entries, (source,))


def _entry(item: object, where: str) -> RetiredAddress:
    if not isinstance(item, dict):
        raise RetiredError(f"{where}: must be a table")
    refuse_unknown(item, _FIELDS, where, RetiredError)
    service = _text(item, "service", where)
    reports = _text(item, "reports", where)
    if reports not in REPORT_KINDS:
        raise RetiredError(f"{where}: 'reports' must be one of {', '.join(sorted(REPORT_KINDS))}")
    source = _text(item, "source", where)
    if not source.startswith("https://"):
        raise RetiredError(f"{where}: 'source' must be an https:// address")
    retired = item.get("retired")
    if not isinstance(retired, datetime.date) or isinstance(retired, datetime.datetime):
        raise RetiredError(f"{where}: 'retired' must be a date (2026-03-31)")
    if ("mailbox" in item) == ("domain" in item):
        raise RetiredError(f"{where}: give exactly one of 'mailbox' and 'domain'")
    if "mailbox" in item:
        mailbox = _text(item, "mailbox", where)
        local, at, domain = mailbox.rpartition("@")
        domain = domain.lower().rstrip(".")
        if not at or not _LOCAL_RE.fullmatch(local) or not _DOMAIN_RE.fullmatch(domain):
            raise RetiredError(f"{where}: 'mailbox' {inert(mailbox)!r} is not local@domain")
        return RetiredAddress(service, reports, retired, source, mailbox=f"{local}@{domain}")
    domain = _text(item, "domain", where).lower().rstrip(".")
    if not _DOMAIN_RE.fullmatch(domain):
        raise RetiredError(f"{where}: 'domain' {inert(domain)!r} is not a domain name")
    return RetiredAddress(service, reports, retired, source, domain=domain)


def _text(item: Mapping[str, object], key: str, where: str) -> str:
    return text_field(item, key, where, RetiredError, MAX_TEXT)


@functools.cache
def _packaged_text() -> str:
    resource = importlib.resources.files("pytest_govmail.inputs").joinpath("retired_reporting.toml")
    return resource.read_text("utf-8")


@functools.cache
def packaged_retired() -> RetiredReporting:
    """The packaged list (NCSC Mail Check's addresses)."""
    return parse_retired(_packaged_text(), PACKAGED_SOURCE)


@functools.lru_cache(maxsize=16)
def retired_from_input(source: str, text: str) -> RetiredReporting:
    """The packaged list extended with a user's file held as an evidence input."""
    return packaged_retired().extended(parse_retired(text, source))
