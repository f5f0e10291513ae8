"""Attestations: the controls no probe can see, recorded by a person with a link to evidence.

ATTEST-01 covers what GOV.UK's "Securing government email" asks that only the organisation can
show: inbound DMARC enforcement, spam and malware filtering, TLS enforced to ``*.gov.uk``, and
DKIM signing at the outbound gateway. An attestation file (TOML) holds one entry per domain and
control::

    [[attestation]]
    domain = "example-dept.gov.uk"          # fnmatch glob allowed
    control = "inbound-dmarc-enforcement"
    attested_by = "A. Person, Head of IT Operations"
    date = 2026-10-01
    evidence = "https://intranet.example/change/CHG-1234"
    expires = 2027-10-01                    # optional

The file is an input, not network evidence: give it again when replaying.

The rules of :mod:`pytest_govmail.inputs.waivers` hold here too: ``date`` and ``expires`` are
TOML local dates (a date and time or a time of day is refused, by name), the domain pattern may
hold no control or formatting character, and ``attested_by`` and ``evidence`` are made inert
(control and formatting characters shown as escapes) before any report, the terminal's
included, shows them. Any text at all gives attestations or an ``AttestationError``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date

from pytest_govmail.inputs.toml_input import load_toml, refuse_unknown, text_field
from pytest_govmail.inputs.waivers import date_problem, pattern_problem

#: control -> what the attester vouches for.
CONTROLS: dict[str, str] = {
    "inbound-dmarc-enforcement": "inbound mail failing DMARC is rejected as its sender asks",
    "spam-malware-filtering": "inbound mail is filtered for spam and malware",
    "tls-to-gov-uk": "outbound mail to *.gov.uk goes only over TLS (enforced, not opportunistic)",
    "outbound-dkim-signing": "outbound mail is DKIM-signed at the gateway",
}
_KEYS = {"domain", "control", "attested_by", "date", "evidence", "expires"}


class AttestationError(ValueError):
    """An attestation file that cannot be used, with the entry and field at fault."""


@dataclass(frozen=True, slots=True)
class Attestation:
    domain: str
    control: str
    attested_by: str
    attested_on: date
    evidence: str
    expires: date | None = None
    source: str = ""

    def covers(self, domain: str) -> bool:
        return fnmatch.fnmatchcase(domain, self.domain)

    def current(self, today: date) -> bool:
        return self.expires is None or today <= self.expires


def parse_attestations(text: str, source: str) -> tuple[Attestation, ...]:
    data = load_toml(text, source, AttestationError)
    if set(data) - {"attestation"}:
        raise AttestationError(f"{source}: only [[attestation]] tables are allowed")
    entries = data.get("attestation", [])
    if not isinstance(entries, list):
        raise AttestationError(f"{source}: 'attestation' must be an array of tables")
    found = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}, attestation #{number}"
        if not isinstance(entry, dict):
            raise AttestationError(f"{where}: each attestation must be a table ([[attestation]])")
        refuse_unknown(entry, _KEYS, where, AttestationError, "unknown field(s)")
        texts = {
            key: text_field(entry, key, where, AttestationError)
            for key in ("domain", "control", "attested_by", "evidence")
        }
        problem = pattern_problem(str(entry["domain"]).strip())
        if problem is not None:
            raise AttestationError(f"{where}: 'domain' {problem}")
        if texts["control"] not in CONTROLS:
            raise AttestationError(
                f"{where}: unknown control {texts['control']!r} (valid: {', '.join(CONTROLS)})"
            )
        when = entry.get("date")
        expires = entry.get("expires")
        problem = date_problem(when, "date")
        if problem is not None or not isinstance(when, date):
            raise AttestationError(f"{where}: {problem}")
        if expires is not None:
            problem = date_problem(expires, "expires")
            if problem is not None or not isinstance(expires, date):
                raise AttestationError(f"{where}: {problem}")
        found.append(
            Attestation(
                domain=texts["domain"].lower(),
                control=texts["control"],
                attested_by=texts["attested_by"],
                attested_on=when,
                evidence=texts["evidence"],
                expires=expires,
                source=where,
            )
        )
    return tuple(found)
