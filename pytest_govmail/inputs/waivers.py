"""Accepted exceptions: a requirement that may fail for a domain, for a stated reason, until a date.

A waiver file (TOML) holds entries like::

    [[waiver]]
    requirement = "TLS-04"
    domain = "legacy-*.gov.uk"      # fnmatch glob, lower case
    host = "mx2.*"                  # optional, for host tests
    reason = "Legacy relay keeps TLS 1.1 until the migration, change CHG-1234"
    expires = 2026-12-31

A waived test that fails is reported as xfail with the reason; one that passes fails as
XPASS(strict), so a fixed domain prompts the waiver's removal. An expired waiver no longer
applies and the report says so; a waiver that matches no test is reported too. Inconclusive
tests stay errors whatever the waivers say: a waiver accepts a known failure, not a blind spot.

A waiver file is written by people and read by an assessor, so it must not be able to surprise
either:

- ``expires`` is a TOML local date (TOML v1.0.0, "Local Date"). A date and time, with or without
  an offset, or a bare time, is refused with the file and entry named: a waiver lasts whole days,
  and comparing a ``datetime`` with today's ``date`` raised ``TypeError`` in every waived test.
- :class:`Horizon`: a waiver may run no further than a horizon (``--govmail-waiver-horizon``,
  365 days by default), so that an exception is reviewed at least that often. GOV.UK's Service
  Manual asks that risks accepted be recorded and reviewed regularly
  (https://www.gov.uk/service-manual/technology/securing-your-information); a waiver until 2099
  is no longer an exception but a policy.
- Every text value that reaches output (requirement, patterns, reason) is made inert here, once:
  control and formatting characters (terminal escapes, C1 controls such as U+009B, bidirectional
  overrides, see Unicode TR #36 section 2.3 and "Trojan Source", CVE-2021-42574) are shown as
  ``\\x1b`` or ``\\u202e`` escapes by :func:`~pytest_govmail.model.text.inert`, the same
  rule the judges apply to DNS data. Patterns may hold none at all: no domain contains one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pytest_govmail.inputs.toml_input import load_toml, refuse_unknown, text_field
from pytest_govmail.model.text import inert

_ID = re.compile(r"[A-Z]+-\d{2}")
_KEYS = {"requirement", "domain", "host", "reason", "expires"}
#: Characters that make an fnmatch pattern cover more than one name.
_GLOB = re.compile(r"[*?\[]")

#: The horizon when none is configured (``--govmail-waiver-horizon``, ini
#: ``govmail_waiver_horizon``): a year, the usual review cycle of a risk register.
DEFAULT_HORIZON_DAYS = 365


class WaiverError(ValueError):
    """A waiver file that cannot be used: unreadable, not TOML, or an entry with a bad field."""


def date_problem(value: object, key: str) -> str | None:
    """Why ``value``, read from TOML for field ``key``, is not a plain date; None when it is.

    ``tomllib`` gives ``datetime`` (a subclass of ``date``) for an offset or local date-time and
    ``time`` for a local time (TOML v1.0.0): both are refused by name, not just by type, so the
    message tells the writer what to change.
    """
    if isinstance(value, datetime):
        return f"{key} must be a date such as 2027-03-31, not a date and time"
    if isinstance(value, time):
        return f"{key} must be a date such as 2027-03-31, not a time of day"
    if not isinstance(value, date):
        return f"'{key}' must be a date such as 2027-03-31"
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why a domain or host pattern cannot be used; None when it can.

    No DNS name holds a control or formatting character (RFC 1123 section 2.1 host names; IDNs
    are compared as A-labels, RFC 5890), so a pattern with one can match nothing but could make
    the report show one name while meaning another.
    """
    if inert(pattern) != pattern:
        return f"'{inert(pattern)}' holds control or formatting characters"
    return None


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far ahead a waiver may expire: ``days`` after ``today`` (the run's UTC date)."""

    days: int
    today: date

    @property
    def latest(self) -> date:
        return self.today + timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Waiver:
    requirement: str
    domain: str
    reason: str
    expires: date
    host: str | None = None
    source: str = ""

    def matches(self, requirement: str, domain: str, host: str | None) -> bool:
        if requirement != self.requirement or not fnmatch.fnmatchcase(domain, self.domain):
            return False
        if self.host is None:
            return True
        return host is not None and fnmatch.fnmatchcase(host, self.host)

    def active(self, today: date) -> bool:
        """A waiver applies up to and including its expiry date."""
        return today <= self.expires

    @property
    def broad(self) -> bool:
        """Whether the domain pattern is a glob, so may cover more than one domain: such a
        waiver is flagged wherever it is listed, as ``domain = "*"`` once hid ten failures."""
        return _GLOB.search(self.domain) is not None

    def describe(self) -> str:
        where = self.domain + (f" (MX {self.host})" if self.host else "")
        return f"{self.requirement} for {where} until {self.expires.isoformat()}: {self.reason}"

    def listing(self) -> str:
        """The waiver for the report's list: its pattern flagged when it is a glob."""
        flag = " [GLOB: covers more than one domain]" if self.broad else ""
        host = f", MX {self.host}" if self.host else ""
        return (
            f"{self.requirement}, domain {self.domain}{flag}{host}, expires "
            f"{self.expires.isoformat()}: {self.reason} ({self.source})"
        )


def _text(entry: dict[str, object], key: str, where: str, required: bool = True) -> str | None:
    if entry.get(key) is None and not required:
        return None
    return text_field(entry, key, where, WaiverError)


def _pattern(entry: dict[str, object], key: str, where: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise WaiverError(f"{where}: '{key}' must be a non-empty string")
    problem = pattern_problem(value.strip())
    if problem is not None:
        raise WaiverError(f"{where}: '{key}' {problem}")
    return value.strip().lower()


def parse_waivers(
    text: str, source: str, known_ids: Iterable[str], horizon: Horizon | None = None
) -> tuple[Waiver, ...]:
    """The waivers of one file, or ``WaiverError`` naming the file, the entry and the field.

    With a ``horizon``, a waiver expiring after ``horizon.latest`` is an error too. Nothing else
    escapes, whatever the text: a waiver file is the user's, and a bad one must stop the run
    with a usage error, never a traceback in each test.
    """
    data = load_toml(text, source, WaiverError)
    entries = data.get("waiver", [])
    refuse_unknown(data, {"waiver"}, source, WaiverError, "unknown table(s)")
    if not isinstance(entries, list):
        raise WaiverError(f"{source}: 'waiver' must be an array of tables ([[waiver]])")
    ids = set(known_ids)
    waivers = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}, waiver #{number}"
        if not isinstance(entry, dict):
            raise WaiverError(f"{where}: each waiver must be a table ([[waiver]])")
        refuse_unknown(entry, _KEYS, where, WaiverError, "unknown field(s)")
        requirement = _text(entry, "requirement", where) or ""
        if not _ID.fullmatch(requirement) or requirement not in ids:
            raise WaiverError(f"{where}: {requirement!r} is not a requirement ID of the catalogue")
        where = f"{where} ({requirement})"
        expires = entry.get("expires")
        problem = date_problem(expires, "expires")
        if problem is not None or not isinstance(expires, date):
            raise WaiverError(f"{where}: {problem}")
        if horizon is not None and expires > horizon.latest:
            raise WaiverError(
                f"{where}: expires {expires.isoformat()}, beyond the waiver horizon of "
                f"{horizon.days} day(s) (latest {horizon.latest.isoformat()}); review the "
                "exception and give a nearer date, or raise --govmail-waiver-horizon"
            )
        host = _pattern(entry, "host", where, required=False)
        waivers.append(
            Waiver(
                requirement=requirement,
                domain=_pattern(entry, "domain", where) or "",
                reason=_text(entry, "reason", where) or "",
                expires=expires,
                host=host,
                source=f"{source}, waiver #{number}",
            )
        )
    return tuple(waivers)


@dataclass(frozen=True, slots=True)
class WaiverMatch:
    """The outcome of looking a test up: the waiver that applies, or one that expired."""

    applied: Waiver | None = None
    expired: Waiver | None = None


def find_waiver(
    waivers: Iterable[Waiver], requirement: str, domain: str, host: str | None, today: date
) -> WaiverMatch:
    expired = None
    for waiver in waivers:
        if waiver.matches(requirement, domain, host):
            if waiver.active(today):
                return WaiverMatch(applied=waiver)
            expired = expired or waiver
    return WaiverMatch(expired=expired)
