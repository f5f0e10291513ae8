"""MTA-STS (RFC 8461): MTASTS-01, the ``_mta-sts`` TXT record that announces a policy.

The policy file's judges (MTASTS-02..07) are to join this module. Sources: RFC 8461 section 3.1
(the record, and: records that do not begin with ``v=STSv1`` are discarded; if not exactly one
remains, or it is invalid, senders assume there is no MTA-STS policy), GOV.UK "Securing
government email" (G1: an MTA-STS policy for every receiving domain) and security.gov.uk "Set up
TLS-RPT and MTA-STS" (G5). Answers come only through
:func:`~pytest_govmail.judge.common.lookup`: a timeout or SERVFAIL is INCONCLUSIVE.
"""

from __future__ import annotations

from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.model import Finding, Subject, Verdict
from pytest_govmail.records.mtasts import MtaStsSyntaxError, mtasts_records, parse_mtasts_record


def mtasts_txt_record(subject: Subject) -> Verdict:
    """MTASTS-01: exactly one ``_mta-sts`` TXT record starts ``v=STSv1`` and has an ``id`` of 1-32
    letters and digits (RFC 8461 section 3.1; G1, G5)."""
    name = f"_mta-sts.{subject.domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    evidence = [result.query.key]
    stamp = subject.now.strftime("%Y%m%d%H%M") if subject.now is not None else "1"
    example = f"v=STSv1; id={stamp}"
    publish = (
        f'Publish one TXT record at {name}: "{example}" (change the id whenever the '
        f"policy at https://mta-sts.{subject.domain}/.well-known/mta-sts.txt changes)."
    )
    records = mtasts_records(result)
    if not records:
        return Verdict.failed(
            Finding(
                "mtasts.record.missing",
                describe_answer(result, "MTA-STS (v=STSv1)"),
                f"one TXT record at {name} starting v=STSv1 (case-sensitive)",
                publish,
            ),
            evidence=evidence,
        )
    if len(records) > 1:
        shown = "; ".join(show_value(r, 120) for r in records[:5])
        return Verdict.failed(
            Finding(
                "mtasts.record.multiple",
                f"{len(records)} MTA-STS records at {where(result)}, so senders assume no policy "
                f"(RFC 8461 section 3.1): {shown}",
                "exactly one TXT record starting v=STSv1",
                f"Delete all but one. {publish}",
            ),
            evidence=evidence,
        )
    try:
        record = parse_mtasts_record(records[0])
    except MtaStsSyntaxError as exc:
        return Verdict.failed(
            Finding(
                "mtasts.record.invalid",
                f"invalid MTA-STS record ({exc}): {show_value(records[0])} at {where(result)}",
                "v=STSv1; id=<1 to 32 letters and digits> (RFC 8461 section 3.1)",
                f"Correct the record ({exc}). {publish}",
            ),
            evidence=evidence,
        )
    return Verdict.passed(
        f"MTA-STS record with id={record.id} at {where(result)}: {show_value(records[0])}",
        evidence=evidence,
    )
