"""MX-01..MX-05: the domain's mail exchangers exist, are hostnames, a null MX stands alone, and
no retired gsi-family name is in use.

RFC 5321 section 5.1 (MX selection, implicit MX, no CNAME or address literal as exchange),
RFC 7505 (null MX), and GOV.UK "Securing government email" on the gsi-family domains.
"""

from __future__ import annotations

from pytest_govmail.judge.common import lookup
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.mx import ADDRESS_TYPES, MxRecord, mx_records


def _mx(subject: Subject) -> tuple[DnsResult, tuple[MxRecord, ...]] | Verdict:
    mx = lookup(subject, subject.domain, "MX")
    if isinstance(mx, Verdict):
        return mx
    try:
        return mx, mx_records(mx)
    except ValueError as exc:
        return Verdict.inconclusive(f"unreadable MX answer for {subject.domain}: {exc}")


def mx_resolves(subject: Subject) -> Verdict:
    """MX-01: an MX exchange (or the implicit MX) resolves to an address (RFC 5321 5.1)."""
    got = _mx(subject)
    if isinstance(got, Verdict):
        return got
    mx, records = got
    keys = [mx.query.key]
    usable = [r for r in records if not r.is_null]
    literals = [r.exchange for r in usable if r.is_ip_literal]
    hosts = [r.exchange for r in usable if not r.is_ip_literal] if records else [subject.domain]
    failures: list[str] = []
    for host in hosts:
        for rdtype in ADDRESS_TYPES:
            result = subject.dns.get(host, rdtype)
            keys.append(f"{host}/{rdtype}")
            if result is None or result.error is not None:
                failures.append(result.describe() if result else f"{host}/{rdtype} not collected")
            elif result.records:
                return Verdict.passed(
                    f"{host} resolves to {', '.join(result.records)}", evidence=keys
                )
    if failures:
        return Verdict.inconclusive(
            "no MX host resolved to an address and some lookups failed: " + "; ".join(failures),
            evidence=keys,
        )
    if records and not usable:
        observed = "only a null MX"
    elif literals and not hosts:
        observed = f"only address literals as MX exchanges ({', '.join(literals)})"
    elif not records:
        observed = "no MX and no address records for the implicit MX"
    else:
        observed = f"no A or AAAA record for {', '.join(hosts)}"
    return Verdict.failed(
        Finding(
            "mx.unresolvable",
            observed,
            "at least one MX exchange that resolves to an IPv4 or IPv6 address",
            "Publish A/AAAA records for the MX hosts, or MX records pointing at hosts that have "
            "them (a domain that receives no mail should publish a null MX: '0 .').",
        ),
        evidence=keys,
    )


def mx_is_hostname(subject: Subject) -> Verdict:
    """MX-02: the exchange is a hostname: no CNAME, no IP literal (RFC 5321 5.1, RFC 2181 10.3)."""
    host = subject.host or subject.domain
    got = _mx(subject)
    if isinstance(got, Verdict):
        return got
    mx, records = got
    if records and host not in {r.exchange for r in records}:
        return Verdict.inconclusive(f"{host} is not an MX exchange of {subject.domain}")
    keys = [mx.query.key]
    if any(r.exchange == host and r.is_ip_literal for r in records):
        return Verdict.failed(
            Finding(
                "mx.ip_literal",
                f"MX exchange {host} is an IP address written as a name",
                "an MX exchange that is a hostname",
                "Publish an A/AAAA record for a hostname (e.g. mail.<domain>) and use that name "
                "in the MX record.",
            ),
            evidence=keys,
        )
    for rdtype in ADDRESS_TYPES:
        result = lookup(subject, host, rdtype)
        if isinstance(result, Verdict):
            return result
        keys.append(result.query.key)
        if result.cname_chain:
            chain = " -> ".join((host, *result.cname_chain))
            return Verdict.failed(
                Finding(
                    "mx.cname",
                    f"MX exchange {host} is an alias (CNAME {chain})",
                    "an MX exchange with its own A/AAAA records",
                    f"Point the MX record at the canonical name ({result.cname_chain[-1]}) "
                    "instead of the alias.",
                ),
                evidence=keys,
            )
    return Verdict.passed(f"{host} is a hostname with its own address records", evidence=keys)


def null_mx_alone(subject: Subject) -> Verdict:
    """MX-03: a null MX (``0 .``) is the only MX record when present (RFC 7505 section 3)."""
    got = _mx(subject)
    if isinstance(got, Verdict):
        return got
    mx, records = got
    nulls = [r for r in records if r.is_null]
    if not nulls:
        return Verdict.passed("no null MX published", evidence=[mx.query.key])
    findings = []
    if len(records) > 1:
        findings.append(
            Finding(
                "mx.null.mixed",
                f"a null MX published together with other MX records: {' | '.join(mx.records)}",
                "the null MX '0 .' as the only MX record",
                "Remove either the null MX (if the domain receives mail) or the other MX records.",
            )
        )
    if any(r.preference != 0 for r in nulls):
        findings.append(
            Finding(
                "mx.null.preference",
                f"null MX with preference {nulls[0].preference}",
                "preference 0 ('0 .')",
                "Publish the null MX as '0 .'.",
            )
        )
    if findings:
        return Verdict.failed(*findings, evidence=[mx.query.key])
    return Verdict.passed("a null MX is the only MX record", evidence=[mx.query.key])


#: The gsi family of government email domains, retired in March 2019: GOV.UK "Securing
#: government email" says organisations still using them must now replace them.
GSI_FAMILY = ("gsi.gov.uk", "gse.gov.uk", "gcsx.gov.uk", "gsx.gov.uk")


def _gsi_parent(name: str) -> str | None:
    """The gsi-family domain ``name`` is or lies under, else None."""
    name = name.rstrip(".").lower()
    return next((d for d in GSI_FAMILY if name == d or name.endswith("." + d)), None)


def no_gsi_family(subject: Subject) -> Verdict:
    """MX-05: neither the domain nor its MX exchanges are gsi-family names (GOV.UK, "Securing
    government email": the gsi family was retired in 2019 and must be replaced).

    The domain's own name fails on its own, whatever its MX answer; an MX answer that could not
    be had leaves the exchanges undecided (inconclusive).
    """
    findings = []
    family = _gsi_parent(subject.domain)
    if family is not None:
        findings.append(
            Finding(
                "mx.gsi.domain",
                f"{subject.domain} is under the retired gsi-family domain {family}",
                "a domain outside gsi.gov.uk, gse.gov.uk, gcsx.gov.uk and gsx.gov.uk",
            )
        )
    got = _mx(subject)
    if isinstance(got, Verdict):
        return Verdict.failed(*findings) if findings else got
    mx, records = got
    exchanges = [r.exchange for r in records if not r.is_null and not r.is_ip_literal]
    legacy = [(host, _gsi_parent(host)) for host in exchanges if _gsi_parent(host)]
    if legacy:
        findings.append(
            Finding(
                "mx.gsi.exchange",
                "MX exchange(s) under retired gsi-family domains: "
                + ", ".join(f"{host} ({family})" for host, family in legacy),
                "MX exchanges outside gsi.gov.uk, gse.gov.uk, gcsx.gov.uk and gsx.gov.uk",
            )
        )
    if findings:
        return Verdict.failed(*findings, evidence=[mx.query.key])
    shown = ", ".join(exchanges) if exchanges else "no MX exchange"
    return Verdict.passed(f"no gsi-family name: {subject.domain}; {shown}", evidence=[mx.query.key])
