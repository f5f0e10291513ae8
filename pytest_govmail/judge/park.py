"""PARK-03, PARK-04 and PARK-05: the DNS recipe for domains that send and receive no mail.

GOV.UK "Protect domains that do not send email" (G3) asks for ``v=spf1 -all`` (PARK-01, judged
with SPF), DMARC ``p=reject; sp=reject`` (PARK-02, judged with DMARC), a wildcard DKIM record with
an empty key so any selector answers "revoked" (PARK-03), no selector left with a live key or a
CNAME to a former provider's key (PARK-05), and a null MX (PARK-04, RFC 7505).
"""

from __future__ import annotations

from pytest_govmail.judge.common import lookup, show_value
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.dkim import DkimKeyError, looks_like_key_record, parse_dkim_key
from pytest_govmail.records.dkim_selectors import key_name, parked_probe_selector, selectors_for
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


def parked_selectors_revoked(subject: Subject) -> Verdict:
    """PARK-05: no DKIM selector of a parked domain still holds a live key or a CNAME (G3).

    A parked domain publishes an empty wildcard key (PARK-03), but a record at a selector's own
    name overrides the wildcard (RFC 4592 section 2.2.1): a key left from when the domain sent
    mail, or a CNAME to a former provider's key (Microsoft 365's ``selector1``/``selector2``
    set-up), still lets whoever holds that private key sign as the domain. Each selector tried
    (given, from sample messages, and the common list: :func:`selectors_for`) must answer no
    key or a revoked one (``v=DKIM1; p=``), and not through a CNAME. Selectors cannot be
    listed from DNS, so an old selector that is not tried is not seen: the details say which
    were. A failed lookup is inconclusive unless another selector already fails.
    """
    problems: list[str] = []
    failed: list[str] = []
    tried: list[str] = []
    evidence: list[str] = []
    for selector, source in selectors_for(subject.target, subject.messages):
        name = key_name(selector, subject.domain)
        if name is None:
            continue
        answer = lookup(subject, name, "TXT")
        if isinstance(answer, Verdict):
            failed.append(answer.summary)
            evidence.extend(answer.evidence)
            tried.append(f"{selector} ({source}): INCONCLUSIVE, {answer.summary}")
            continue
        evidence.append(answer.query.key)
        live = _live_keys(txt_values(answer))
        if answer.cname_chain:
            chain = " -> ".join(show_value(n, 100) for n in answer.cname_chain)
            held = f", which holds a live key {show_value(live[0], 80)}" if live else ""
            problems.append(f"{name} is a CNAME ({chain}){held}")
            tried.append(f"{selector} ({source}): CNAME {chain}")
        elif live:
            problems.append(f"{name} holds a live key: {show_value(live[0], 120)}")
            tried.append(f"{selector} ({source}): live key")
        else:
            shown = (
                "revoked key"
                if any(_is_revoked_key(v) for v in txt_values(answer))
                else ("NXDOMAIN" if answer.nxdomain else "no key")
            )
            tried.append(f"{selector} ({source}): {shown}")
    details = [
        ("selectors tried (source: answer)", "\n".join(tried)),
        (
            "limits",
            "selectors cannot be listed from DNS: an old selector that was not tried is not "
            "seen; give it with --govmail-dkim-selector",
        ),
    ]
    if problems:
        details.extend(("inconclusive", f) for f in failed)
        return Verdict.failed(
            Finding(
                "park.dkim.selector_live",
                "; ".join(problems),
                "every selector answers no key or the revoked key 'v=DKIM1; p=', with no CNAME",
                "At each selector listed, delete the CNAME or key record (the empty wildcard "
                f"*._domainkey.{subject.domain} then answers it), or publish TXT 'v=DKIM1; p=' "
                "there; then remove the domain from the former mail service so it stops signing.",
            ),
            evidence=evidence,
            details=details,
        )
    if failed:
        return Verdict.inconclusive(
            f"{len(failed)} selector lookup(s) failed: {'; '.join(failed[:3])}", evidence, details
        )
    return Verdict.passed(
        f"none of the {len(tried)} selectors tried holds a live key or a CNAME",
        evidence,
        details,
    )


def _live_keys(values: tuple[str, ...] | list[str]) -> list[str]:
    """The values that are DKIM key records with a key in them (parsed, not revoked)."""
    live = []
    for value in values:
        if not looks_like_key_record(value):
            continue
        try:
            key = parse_dkim_key(value)
        except DkimKeyError:
            continue
        if not key.revoked:
            live.append(value)
    return live
