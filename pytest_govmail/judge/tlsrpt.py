"""TLSRPT-01 and TLSRPT-02: SMTP TLS Reporting (RFC 8460) and the NCSC's report mailbox.

Sources: RFC 8460 section 3 (the ``_smtp._tls`` TXT record: records that do not begin with
``v=TLSRPTv1`` are discarded, and unless exactly one remains the domain does not take part),
GOV.UK "Securing government email" (G1: TLS-RPT reporting), security.gov.uk "Set up TLS-RPT and
MTA-STS" (G5) and NCSC Mail Check's TLS-RPT rules (MC: the record must include
``tls-rua@mailcheck.service.ncsc.gov.uk``).

As with DMARC, answers come only through :func:`~pytest_govmail.judge.common.lookup` (a timeout
or SERVFAIL is INCONCLUSIVE), and when no valid record exists TLSRPT-02 fails with the same code
as TLSRPT-01 (``tlsrpt.record.missing``, ``tlsrpt.record.multiple``, ``tlsrpt.record.invalid``).
"""

from __future__ import annotations

from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.tlsrpt import (
    TlsRptRecord,
    TlsRptSyntaxError,
    parse_tlsrpt,
    tlsrpt_records,
)

#: The NCSC's TLS-RPT mailbox (G1, G5, MC).
NCSC_TLS_RUA = "tls-rua@mailcheck.service.ncsc.gov.uk"
BASELINE_RECORD = f"v=TLSRPTv1; rua=mailto:{NCSC_TLS_RUA}"
_SCHEMES = ("mailto", "https")


def _record(subject: Subject) -> tuple[DnsResult, str, TlsRptRecord] | Verdict:
    """The one valid TLS-RPT record, or the verdict to return (inconclusive, or a failure)."""
    name = f"_smtp._tls.{subject.domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    evidence = [result.query.key]
    records = tlsrpt_records(result)
    publish = f'Publish one TXT record at {name}: "{BASELINE_RECORD}".'
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
                f'Delete all but one, listing every address in its rua: "{BASELINE_RECORD}".',
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


def _with_ncsc(record: TlsRptRecord) -> str:
    uris = [u.text for u in record.rua if u.scheme in _SCHEMES]
    if not any(u.same_mailbox(NCSC_TLS_RUA) for u in record.rua):
        uris.insert(0, f"mailto:{NCSC_TLS_RUA}")
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
                f'Publish at {result.name}, replacing the record: "{_with_ncsc(record)}".',
            ),
            evidence=evidence,
        )
    return Verdict.passed(
        f"TLS-RPT record {show_value(text)} at {where(result)}", evidence=evidence
    )


def tlsrpt_ncsc_reporting(subject: Subject) -> Verdict:
    """TLSRPT-02: ``rua`` includes ``mailto:tls-rua@mailcheck.service.ncsc.gov.uk`` (G1, G5, MC).

    The address's domain is compared case-insensitively and its local part exactly.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    result, text, record = got
    evidence = [result.query.key]
    if any(u.same_mailbox(NCSC_TLS_RUA) for u in record.rua):
        return Verdict.passed(
            f"rua includes mailto:{NCSC_TLS_RUA} at {where(result)}", evidence=evidence
        )
    return Verdict.failed(
        Finding(
            "tlsrpt.rua.ncsc_missing",
            f"rua does not include the NCSC mailbox: {show_value(text)} at {where(result)}",
            f"rua including mailto:{NCSC_TLS_RUA}",
            f"Add mailto:{NCSC_TLS_RUA} to rua. Publish at {result.name}, replacing the "
            f'record: "{_with_ncsc(record)}".',
        ),
        evidence=evidence,
    )
