"""PARK-03 and PARK-04: the DNS recipe for domains that send and receive no mail.

GOV.UK "Protect domains that do not send email" (G3) asks for ``v=spf1 -all`` (PARK-01, judged
with SPF), DMARC ``p=reject; sp=reject`` (PARK-02, judged with DMARC), a wildcard DKIM record with
an empty key so any selector answers "revoked" (PARK-03) and a null MX (PARK-04, RFC 7505).
"""

from __future__ import annotations

from pytest_govmail.judge.common import lookup
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.dkim_selectors import parked_probe_selector
from pytest_govmail.records.mx import mx_records
from pytest_govmail.records.txt import txt_values

_WILDCARD_FIX = "Publish TXT 'v=DKIM1; p=' at *._domainkey.{domain}."


def _is_revoked_key(record: str) -> bool:
    """``v=DKIM1; p=`` (tags in any order, spaces aside): a key record with an empty key."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        if "=" in part:
            name, _, value = part.partition("=")
            tags[name.strip().lower()] = "".join(value.split())
    return "p" in tags and tags["p"] == "" and tags.get("v", "DKIM1") == "DKIM1"


def wildcard_dkim_revoked(subject: Subject) -> Verdict:
    """PARK-03: a wildcard ``*._domainkey`` TXT ``v=DKIM1; p=`` answers a random selector (G3)."""
    name = f"{parked_probe_selector(subject.domain)}._domainkey.{subject.domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    values = txt_values(result)
    fix = _WILDCARD_FIX.format(domain=subject.domain)
    if not values:
        return Verdict.failed(
            Finding(
                "park.dkim.no_wildcard",
                f"a made-up selector ({name}) got {'NXDOMAIN' if result.nxdomain else 'no TXT'}",
                "a wildcard TXT 'v=DKIM1; p=' answering every selector",
                fix,
            ),
            evidence=[result.query.key],
        )
    if len(values) == 1 and _is_revoked_key(values[0]):
        return Verdict.passed(
            f"a made-up selector answers {values[0]!r}", evidence=[result.query.key]
        )
    return Verdict.failed(
        Finding(
            "park.dkim.not_revoked",
            f"a made-up selector ({name}) answers {' | '.join(values)[:300]!r}",
            "exactly one TXT 'v=DKIM1; p=' (an empty, revoked key)",
            fix,
        ),
        evidence=[result.query.key],
    )


def null_mx_published(subject: Subject) -> Verdict:
    """PARK-04: a null MX (``0 .``) is published (G3, RFC 7505)."""
    mx = lookup(subject, subject.domain, "MX")
    if isinstance(mx, Verdict):
        return mx
    records = mx_records(mx)
    if len(records) == 1 and records[0].is_null and records[0].preference == 0:
        return Verdict.passed("null MX '0 .' published", evidence=[mx.query.key])
    observed = (
        " | ".join(mx.records) if mx.records else ("NXDOMAIN" if mx.nxdomain else "no MX records")
    )
    return Verdict.failed(
        Finding(
            "park.mx.not_null",
            f"MX for {subject.domain}: {observed}",
            "a single null MX record '0 .'",
            f"Replace the MX records of {subject.domain} with one record: MX 0 . (RFC 7505).",
        ),
        evidence=[mx.query.key],
    )
