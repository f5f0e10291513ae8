"""TLSRPT-01 and TLSRPT-03: SMTP TLS Reporting (RFC 8460), and reports that reach someone.

Sources: RFC 8460 section 3 (the ``_smtp._tls`` TXT record: records that do not begin with
``v=TLSRPTv1`` are discarded, and unless exactly one remains the domain does not take part),
GOV.UK "Securing government email" (G1: "set up DMARC and TLS reporting (TLS-RPT) and reviewing
the data regularly") and security.gov.uk "Set up TLS-RPT and MTA-STS" (G5).

TLSRPT-02 (reports to NCSC Mail Check) was withdrawn in catalogue version 2: Mail Check was
retired on 31 March 2026. TLSRPT-03 asks instead for at least one address that is not at a
retired service (:mod:`pytest_govmail.inputs.retired_reporting`), and no fix text here names a
retired address.

As with DMARC, answers come only through :func:`~pytest_govmail.judge.common.lookup` (a timeout
or SERVFAIL is INCONCLUSIVE), and when no valid record exists TLSRPT-03 fails with the same code
as TLSRPT-01 (``tlsrpt.record.missing``, ``tlsrpt.record.multiple``, ``tlsrpt.record.invalid``).
"""

from __future__ import annotations

from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.dmarc import organisational_domain
from pytest_govmail.records.tlsrpt import (
    TlsRptRecord,
    TlsRptSyntaxError,
    parse_tlsrpt,
    tlsrpt_records,
)

#: The local part of the TLS report mailbox a fix suggests, at the organisational domain.
REPORT_MAILBOX = "tls-reports"
_SCHEMES = ("mailto", "https")


def report_mailbox(domain: str) -> str:
    """The TLS report mailbox a fix suggests for ``domain``: at its organisational domain."""
    return f"{REPORT_MAILBOX}@{organisational_domain(domain)}"


def baseline_record(domain: str) -> str:
    """The smallest record that passes TLSRPT-01 and TLSRPT-03 for ``domain``."""
    return f"v=TLSRPTv1; rua=mailto:{report_mailbox(domain)}"


def _record(subject: Subject) -> tuple[DnsResult, str, TlsRptRecord] | Verdict:
    """The one valid TLS-RPT record, or the verdict to return (inconclusive, or a failure)."""
    name = f"_smtp._tls.{subject.domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    evidence = [result.query.key]
    records = tlsrpt_records(result)
    publish = f'Publish one TXT record at {name}: "{baseline_record(subject.domain)}".'
    if not records:
        return Verdict.failed(
            Finding(
                "tlsrpt.record.missing",
                describe_answer(result, "TLS-RPT (v=TLSRPTv1)"),
                f"one TXT record at {name} starting v=TLSRPTv1 (case-sensitive)",
                publish,
            ),
            evidence=evidence,
        )
    if len(records) > 1:
        shown = "; ".join(show_value(r, 120) for r in records[:5])
        return Verdict.failed(
            Finding(
                "tlsrpt.record.multiple",
                f"{len(records)} TLS-RPT records at {where(result)}, so senders use none "
                f"(RFC 8460 section 3): {shown}",
                "exactly one TXT record starting v=TLSRPTv1",
                "Delete all but one, listing every address in its rua: "
                f'"{baseline_record(subject.domain)}".',
            ),
            evidence=evidence,
        )
    try:
        return result, records[0], parse_tlsrpt(records[0])
    except TlsRptSyntaxError as exc:
        return Verdict.failed(
            Finding(
                "tlsrpt.record.invalid",
                f"invalid TLS-RPT record ({exc}): {show_value(records[0])} at {where(result)}",
                "v=TLSRPTv1; rua=<mailto: or https: URIs> (RFC 8460 section 3)",
                f"Correct the record ({exc}). {publish}",
            ),
            evidence=evidence,
        )


def _fixed(subject: Subject, record: TlsRptRecord) -> str:
    """The user's record with only mailto:/https: URIs that are not at a retired service, and a
    mailbox of the domain's own when none is left; extension fields kept."""
    uris = [
        u.text
        for u in record.rua
        if u.scheme in _SCHEMES and subject.retired.find("tlsrpt", u) is None
    ] or [f"mailto:{report_mailbox(subject.domain)}"]
    fields = [f"rua={','.join(uris)}", *(f"{n}={v}" for n, v in record.extensions)]
    return "; ".join(["v=TLSRPTv1", *fields])


def tlsrpt_record(subject: Subject) -> Verdict:
    """TLSRPT-01: exactly one ``_smtp._tls`` TXT record starts ``v=TLSRPTv1`` and has a ``rua`` of
    ``mailto:`` or ``https:`` URIs (RFC 8460 section 3; G1, G5)."""
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    result, text, record = got
    evidence = [result.query.key]
    other = [u for u in record.rua if u.scheme not in _SCHEMES]
    if other:
        listed = ", ".join(show_value(u.text, 80) for u in other)
        return Verdict.failed(
            Finding(
                "tlsrpt.rua.scheme",
                f"rua holds URIs that are neither mailto: nor https: ({listed}): "
                f"{show_value(text)} at {where(result)}",
                "rua of mailto: or https: URIs only (RFC 8460 section 3)",
                f'Publish at {result.name}, replacing the record: "{_fixed(subject, record)}".',
            ),
            evidence=evidence,
        )
    return Verdict.passed(
        f"TLS-RPT record {show_value(text)} at {where(result)}", evidence=evidence
    )


def tlsrpt_reports_reach_live_address(subject: Subject) -> Verdict:
    """TLSRPT-03: ``rua`` holds at least one ``mailto:`` or ``https:`` URI that is not at a retired
    reporting service (G1 "set up DMARC and TLS reporting (TLS-RPT) and reviewing the data
    regularly"; RFC 8460 section 3).

    Replaces TLSRPT-02 (reports to NCSC Mail Check), withdrawn when Mail Check was retired on
    31 March 2026. A mailbox's domain is compared case-insensitively, its local part exactly; a
    retired domain covers every mailbox at it and ``https:`` URIs at that host.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    result, text, record = got
    evidence = [result.query.key]
    retired = subject.retired
    gone = [(u, e) for u in record.rua if (e := retired.find("tlsrpt", u)) is not None]
    live = [u for u in record.rua if u.scheme in _SCHEMES and retired.find("tlsrpt", u) is None]
    notes = tuple(("retired", f"rua {show_value(u.uri, 100)}: {e.describe()}") for u, e in gone)
    if live:
        listed = ", ".join(show_value(u.uri, 100) for u in live)
        return Verdict.passed(
            f"TLS reports go to {listed} at {where(result)}", evidence=evidence, details=notes
        )
    services = ", ".join(sorted({e.service for _, e in gone})) or "none listed"
    return Verdict.failed(
        Finding(
            "tlsrpt.rua.no_live_address",
            f"rua sends TLS reports only to retired services ({services}), so they reach no one: "
            f"{show_value(text)} at {where(result)}",
            "rua with at least one mailto: or https: URI that is not at a retired service",
            "Send TLS reports to a mailbox you read or to your TLS reporting service, and "
            f"remove retired addresses. Publish at {result.name}, replacing the record: "
            f'"{_fixed(subject, record)}".',
        ),
        evidence=evidence,
        details=notes,
    )
