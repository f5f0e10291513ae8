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
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_ID = re.compile(r"^[A-Z]+-\d{2}$")
_KEYS = {"requirement", "domain", "host", "reason", "expires"}


class WaiverError(ValueError):
    """A waiver file that cannot be used: unreadable, not TOML, or an entry with a bad field."""


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

    def describe(self) -> str:
        where = self.domain + (f" (MX {self.host})" if self.host else "")
        return f"{self.requirement} for {where} until {self.expires.isoformat()}: {self.reason}"


def _text(entry: dict[str, object], key: str, where: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise WaiverError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def parse_waivers(text: str, source: str, known_ids: Iterable[str]) -> tuple[Waiver, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{source}: not valid TOML ({exc})") from None
    entries = data.get("waiver", [])
    unknown_top = set(data) - {"waiver"}
    if unknown_top:
        raise WaiverError(f"{source}: unknown table(s) {', '.join(sorted(unknown_top))}")
    if not isinstance(entries, list):
        raise WaiverError(f"{source}: 'waiver' must be an array of tables ([[waiver]])")
    ids = set(known_ids)
    waivers = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}, waiver #{number}"
        extra = set(entry) - _KEYS
        if extra:
            raise WaiverError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        requirement = _text(entry, "requirement", where) or ""
        if not _ID.match(requirement) or requirement not in ids:
            raise WaiverError(f"{where}: {requirement!r} is not a requirement ID of the catalogue")
        expires = entry.get("expires")
        if not isinstance(expires, date):
            raise WaiverError(f"{where}: 'expires' must be a date such as 2026-12-31")
        host = _text(entry, "host", where, required=False)
        waivers.append(
            Waiver(
                requirement=requirement,
                domain=(_text(entry, "domain", where) or "").lower(),
                reason=_text(entry, "reason", where) or "",
                expires=expires,
                host=host.lower() if host else None,
                source=where,
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
