"""DANE-01: if TLSA records exist at ``_25._tcp.<mx>``, one of them matches the served chain.

Sources: RFC 6698 (TLSA), RFC 7671 (DANE operations) and RFC 7672 (SMTP DANE). DANE-01 applies
only when TLSA records exist: no TLSA (NXDOMAIN or NODATA) is NOT_APPLICABLE, so a report never
shows DANE as passed for a host that does not use it; a failed lookup is INCONCLUSIVE. Every
address must present a chain that one usable record matches (RFC 7672 section 3.1: usage 3
DANE-EE against the leaf; usage 2 DANE-TA against a served issuer whose chain down to the leaf
is in order, or, for ``2 1 0``, a trust-anchor key that signed a served certificate; usages 0
and 1 are unusable for SMTP, section 3.1.3). Names and dates are not part of the match (CERT-02
and CERT-03 judge them). The records are read by :mod:`pytest_govmail.records.tlsa`.

Only DNSSEC-validated TLSA records count (RFC 7672 section 2.2: a sender uses TLSA records only
when they are secure). With the run's DNSSEC validation in the evidence
(:mod:`pytest_govmail.collect.dnssec`): secure TLSA are judged; insecure ones (an unsigned zone)
are NOT_APPLICABLE, saying that senders ignore them; bogus ones FAIL, since a DANE sender then
defers the mail (RFC 7672 section 2.1.1); an indeterminate validation is INCONCLUSIVE. Evidence
from before DNSSEC was validated has no validation: the records are judged as they are, with
the resolver's AD flag and a note that they were not validated, as they were then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from pytest_govmail.judge.chain import issued_by, load_chain, signed_by_key
from pytest_govmail.judge.common import lookup
from pytest_govmail.judge.dnssec import chain_details
from pytest_govmail.judge.host import (
    AddressVerdict,
    Check,
    _bad,
    _ok,
    _unknown,
    host_verdict,
    tls_session,
)
from pytest_govmail.model.dns import Query
from pytest_govmail.model.dnssec import Security
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import TlsScan
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.mx import is_ip_literal
from pytest_govmail.records.tlsa import Tlsa, parse_tlsa

if TYPE_CHECKING:
    # Only for annotations: cryptography.x509 loads ``socket`` (through email.utils); the
    # certificates arrive parsed, from pytest_govmail.judge.chain.
    from cryptography import x509

__all__ = ["dane_tlsa_matches", "tlsa_matches", "usable_for_smtp"]


def _selected(cert: x509.Certificate, selector: int) -> bytes | None:
    try:
        if selector == 0:
            return cert.public_bytes(serialization.Encoding.DER)
        if selector == 1:
            return cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
    except Exception:
        return None
    return None


def _digest(data: bytes, matching_type: int) -> bytes | None:
    if matching_type == 0:
        return data
    if matching_type == 1:
        return hashlib.sha256(data).digest()
    if matching_type == 2:
        return hashlib.sha512(data).digest()
    return None


def _in_order(certs: Sequence[x509.Certificate], upto: int) -> bool:
    return all(issued_by(certs[i], certs[i + 1]) for i in range(upto))


def usable_for_smtp(record: Tlsa) -> bool:
    """Usages 2 and 3, selectors 0 and 1, matching types 0..2 (RFC 7672 section 3.1)."""
    return (
        record.usage in (2, 3) and record.selector in (0, 1) and record.matching_type in (0, 1, 2)
    )


def tlsa_matches(record: Tlsa, certs: Sequence[x509.Certificate]) -> bool:
    """True when ``record`` matches the served chain ``certs`` (leaf first) for SMTP DANE.

    Usage 3 (DANE-EE) matches the leaf. Usage 2 (DANE-TA) matches a served certificate other than
    the leaf whose chain down to the leaf is in order; a ``2 1 0`` record (a bare trust-anchor
    key) also matches when that key signed a served certificate at the top of an ordered chain.
    """
    if not certs or not usable_for_smtp(record):
        return False

    def matches(cert: x509.Certificate) -> bool:
        selected = _selected(cert, record.selector)
        return selected is not None and _digest(selected, record.matching_type) == record.data

    if record.usage == 3:
        return matches(certs[0])
    for index in range(1, len(certs)):
        if matches(certs[index]) and _in_order(certs, index):
            return True
    if record.selector == 1 and record.matching_type == 0:
        try:
            key = serialization.load_der_public_key(record.data)
        except Exception:
            return False
        for index, cert in enumerate(certs):
            if signed_by_key(cert, key) and _in_order(certs, index):
                return True
    return False


def _dane(records: Sequence[Tlsa], unreadable: Sequence[str], host: str) -> Check:
    usable = [r for r in records if usable_for_smtp(r)]

    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        for record in usable:
            if tlsa_matches(record, chain.certs):
                return _ok(f"the served chain matches TLSA {record.text()}")
        if chain.problem:
            return _unknown(f"no TLSA record matches what could be read: {chain.problem}")
        leaf = _selected(chain.certs[0], 1)
        digest = hashlib.sha256(leaf).hexdigest() if leaf else "<SHA-256 of the key>"
        publish = f"_25._tcp.{host}. IN TLSA 3 1 1 {digest}"
        published = ", ".join(r.text() for r in records[:8]) or "none readable"
        if not usable:
            observed = (
                f"no TLSA record usable for SMTP (published: {published}; usages 0 and 1 are "
                "not used by SMTP, RFC 7672 section 3.1.3)"
            )
            code = "dane.tlsa.unusable"
        else:
            observed = f"no TLSA record matches the served chain (published: {published})"
            code = "dane.tlsa.mismatch"
        if unreadable:
            observed += f"; unreadable: {'; '.join(unreadable[:3])}"
        return _bad(
            Finding(
                code,
                observed,
                "a TLSA record with usage 2 or 3 that matches the served chain",
                f"Publish a TLSA record for the certificate now served, for example "
                f"'{publish}' (publish the new record before changing keys), or remove the TLSA "
                "records if DANE is not maintained.",
            )
        )

    return check


def dane_tlsa_matches(subject: Subject) -> Verdict:
    """DANE-01: if ``_25._tcp.<mx>`` TLSA exists, one record matches the chain (RFC 7672 s. 3).

    No TLSA published is NOT_APPLICABLE (see the module docstring).
    """
    host = subject.host
    if host is None:
        return Verdict.inconclusive("a host requirement was judged without an MX host")
    if is_ip_literal(host):
        return Verdict.not_applicable(
            f"{host} is an address literal, which has no TLSA name (see MX-02)"
        )
    result = lookup(subject, f"_25._tcp.{host}", "TLSA")
    if isinstance(result, Verdict):
        return result
    key = result.query.key
    if not result.records:
        what = "NXDOMAIN" if result.nxdomain else "no records"
        return Verdict.not_applicable(
            f"no TLSA published at _25._tcp.{host} ({what}): DANE is not in use", [key]
        )
    records: list[Tlsa] = []
    unreadable: list[str] = []
    for text in result.records:
        parsed = parse_tlsa(text)
        if isinstance(parsed, Tlsa):
            records.append(parsed)
        else:
            unreadable.append(parsed)
    chain = subject.dnssec.get(Query.of(f"_25._tcp.{host}", "TLSA"))
    if chain is None:
        dnssec = (
            "the TLSA answer was DNSSEC-validated (AD flag set)"
            if result.authenticated
            else "the TLSA answer was not DNSSEC-validated in this run (no AD flag): DANE "
            "clients ignore TLSA records that are not DNSSEC-secure"
        )
    elif chain.result is Security.INSECURE:
        return Verdict.not_applicable(
            f"the TLSA records at _25._tcp.{host} are not DNSSEC-validated ({chain.reason}): "
            "senders ignore TLSA records that are not secure (RFC 7672 section 2.2), so DANE "
            "is not in use; sign the zone to use them",
            [key],
        )
    elif chain.result is Security.BOGUS:
        return Verdict.failed(
            Finding(
                "dane.tlsa.bogus",
                f"the TLSA records at _25._tcp.{host} fail DNSSEC validation: {chain.reason}",
                "TLSA records that validate with DNSSEC",
                "Fix the zone's DNSSEC (see DNSSEC-01): a DANE sender defers mail to a host "
                "whose TLSA records are bogus (RFC 7672 section 2.1.1).",
            ),
            evidence=[key],
            details=[chain_details(chain)],
        )
    elif chain.result is Security.INDETERMINATE:
        return Verdict.inconclusive(
            f"could not tell whether the TLSA records at _25._tcp.{host} validate: {chain.reason}",
            [key],
            [chain_details(chain)],
        )
    else:
        dnssec = f"the TLSA answer validates with DNSSEC from {chain.anchor or 'the trust anchor'}"
    return host_verdict(
        subject,
        _dane(records, unreadable, host),
        gate=tls_session,
        evidence=[key],
        details=[("DNSSEC", dnssec)],
    )
