"""REPORTS-01..04 as data tables: report totals and DNS answers in, verdicts out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import answer, nxdomain, subject, txt

from pytest_govmail.judge.reports import (
    ready_to_enforce,
    report_selectors_publish_keys,
    senders_pass_aligned,
    tls_reports_clean,
)
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.feedback import (
    AggregateReport,
    AuthResult,
    Feedback,
    FeedbackBuilder,
    SenderRow,
    TlsFailure,
    TlsPolicyResult,
    TlsReport,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Status

D = "example.gov.uk"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"

SERVICE = SenderRow(
    "192.0.2.10",
    D,
    "none",
    "pass",
    "pass",
    (AuthResult(D, "pass", "s1"),),
    (AuthResult(D, "pass"),),
    500,
)
MAILER = SenderRow(
    "192.0.2.25",
    D,
    "none",
    "fail",
    "fail",
    (AuthResult("mailer.example", "pass", "m1"),),
    (AuthResult("bounce.mailer.example", "pass"),),
    40,
)
FEW = replace(MAILER, source_ip="192.0.2.26", count=3)
SPOOF = SenderRow("198.51.100.9", D, "reject", "fail", "fail", (), (AuthResult(D, "fail"),), 90)
UNKEYED = SenderRow(
    "192.0.2.30", D, "none", "fail", "pass", (AuthResult(D, "fail", "gone"),), (), 2
)


def with_reports(
    *results: DnsResult,
    rows: tuple[SenderRow, ...] = (),
    tls: tuple[TlsFailure, ...] | None = None,
    age: int = 1,
) -> Subject:
    builder = FeedbackBuilder(NOW, 30)
    end = NOW - timedelta(days=age)
    if rows:
        builder.add_dmarc(
            AggregateReport("google.com", "r1", end - timedelta(days=1), end, D, "none", rows=rows),
            "f.xml",
        )
    if tls is not None:
        policy = TlsPolicyResult(
            "sts", D, ("mx.example.gov.uk",), 100, sum(f.count for f in tls), tls
        )
        builder.add_tlsrpt(
            TlsReport("google.com", "t1", end - timedelta(days=1), end, (policy,)), "t.json"
        )
    feedback = builder.build().for_domain(D)
    return replace(subject(D, *results), feedback=feedback, now=NOW)


DMARC_NONE = txt(f"_dmarc.{D}", "v=DMARC1; p=none; rua=mailto:d@example.gov.uk")
DMARC_REJECT = txt(f"_dmarc.{D}", "v=DMARC1; p=reject")


@pytest.mark.parametrize(
    ("case", "judge", "status", "words"),
    [
        (with_reports(), senders_pass_aligned, Status.NOT_APPLICABLE, "not assessed"),
        (
            with_reports(rows=(SERVICE,), age=45),
            senders_pass_aligned,
            Status.NOT_APPLICABLE,
            "1 older report(s) ignored",
        ),
        (
            with_reports(rows=(SERVICE, SPOOF)),
            senders_pass_aligned,
            Status.PASS,
            "1 spoofing source",
        ),
        (with_reports(rows=(SERVICE, FEW)), senders_pass_aligned, Status.PASS, "2 source(s)"),
        (
            with_reports(rows=(SERVICE, MAILER, SPOOF)),
            senders_pass_aligned,
            Status.FAIL,
            "DKIM mailer.example",
        ),
        (
            with_reports(DMARC_NONE, rows=(SERVICE, SPOOF)),
            ready_to_enforce,
            Status.PASS,
            "ready for p=reject",
        ),
        (
            with_reports(DMARC_NONE, rows=(SERVICE, FEW)),
            ready_to_enforce,
            Status.FAIL,
            "would reject 3",
        ),
        (
            with_reports(DMARC_REJECT, rows=(SERVICE, MAILER)),
            ready_to_enforce,
            Status.NOT_APPLICABLE,
            "already at p=reject",
        ),
        (
            with_reports(
                nxdomain(f"_dmarc.{D}", "TXT"), nxdomain("gov.uk", "TXT"), rows=(SERVICE,)
            ),
            ready_to_enforce,
            Status.NOT_APPLICABLE,
            "DMARC-01",
        ),
        (
            with_reports(txt(f"s1._domainkey.{D}", KEY), rows=(SERVICE, SPOOF)),
            report_selectors_publish_keys,
            Status.PASS,
            "s1",
        ),
        (
            with_reports(
                txt(f"s1._domainkey.{D}", KEY),
                nxdomain(f"gone._domainkey.{D}", "TXT"),
                rows=(SERVICE, UNKEYED),
            ),
            report_selectors_publish_keys,
            Status.FAIL,
            "NXDOMAIN",
        ),
        (
            with_reports(rows=(SERVICE,)),
            report_selectors_publish_keys,
            Status.INCONCLUSIVE,
            "not asked",
        ),
        (
            with_reports(rows=(SPOOF,)),
            report_selectors_publish_keys,
            Status.NOT_APPLICABLE,
            "no DKIM selector",
        ),
        (with_reports(), tls_reports_clean, Status.NOT_APPLICABLE, "TLS-RPT"),
        (with_reports(tls=()), tls_reports_clean, Status.PASS, "none failed"),
        (
            with_reports(tls=(TlsFailure("certificate-expired", "mx.example.gov.uk", "", "", 7),)),
            tls_reports_clean,
            Status.FAIL,
            "this run did not scan",
        ),
        (
            with_reports(
                tls=(TlsFailure("sts-policy-fetch-error", "mx.example.gov.uk", "", "", 2),)
            ),
            tls_reports_clean,
            Status.FAIL,
            "MTASTS-02",
        ),
    ],
)
def test_reports_judges(case: Subject, judge: object, status: Status, words: str) -> None:
    verdict = judge(case)  # type: ignore[operator]
    text = verdict.summary + " ".join(v for _k, v in verdict.details)
    assert verdict.status is status, verdict
    assert words in text, text


def test_hostile_strings_from_reports_are_shown_inert() -> None:
    hostile = replace(MAILER, dkim=(AuthResult("x\x1b[31m.example", "pass", "m1"),))
    verdict = senders_pass_aligned(with_reports(rows=(SERVICE, hostile)))
    assert "\x1b" not in verdict.summary and "\\x1b" in verdict.summary


def test_ptr_is_shown_when_the_run_has_it() -> None:
    ptr = answer("10.2.0.192.in-addr.arpa", "PTR", "mail.example.gov.uk.")
    forward = answer("mail.example.gov.uk", "A", "192.0.2.10")
    verdict = senders_pass_aligned(with_reports(ptr, forward, rows=(SERVICE,)))
    details = dict(verdict.details)
    assert 'PTR "mail.example.gov.uk" (forward-confirmed)' in details["sender (passes)"]


def test_ptr_that_does_not_resolve_back_is_said_so() -> None:
    ptr = answer("10.2.0.192.in-addr.arpa", "PTR", "mail.example.gov.uk.")
    forward = answer("mail.example.gov.uk", "A", "192.0.2.99")
    details = dict(senders_pass_aligned(with_reports(ptr, forward, rows=(SERVICE,))).details)
    assert "(does not resolve back to it)" in details["sender (passes)"]


def test_a_hostile_organisation_name_reaches_the_dkim_checks_inert() -> None:
    builder = FeedbackBuilder(NOW, 30)
    end = NOW - timedelta(days=1)
    report = AggregateReport(
        "evil\x1b]0;owned\x07\u202e", "r\x00", end - timedelta(days=1), end, D, rows=(SERVICE,)
    )
    builder.add_dmarc(report, "dir/\x1b[2Jfile.xml")
    (where,) = builder.build().domains[D].selectors.values()
    assert not any(c in where for c in "\x1b\x07\x00\u202e")
    assert "\\x1b]0;owned" in where


def test_senders_are_shown_per_reporting_day() -> None:
    builder = FeedbackBuilder(NOW, 30)
    for days, rows in ((2, (SERVICE,)), (1, (SERVICE, SPOOF))):
        end = NOW - timedelta(days=days)
        builder.add_dmarc(
            AggregateReport("google.com", f"r{days}", end - timedelta(days=1), end, D, rows=rows),
            "f.xml",
        )
    case = replace(subject(D), feedback=builder.build().for_domain(D), now=NOW)
    details = dict(senders_pass_aligned(case).details)
    assert details["by reporting day"] == (
        "2026-11-29: 500 message(s), 500 passing aligned\n"
        "2026-11-30: 590 message(s), 500 passing aligned"
    )


def test_report_totals_survive_the_evidence_file(tmp_path: Path) -> None:
    from pytest_govmail.model import evidence as evidence_file
    from pytest_govmail.model.dns import DnsSnapshot
    from pytest_govmail.model.target import Target

    live = with_reports(
        rows=(SERVICE, MAILER, SPOOF),
        tls=(TlsFailure("certificate-expired", "mx.example.gov.uk", "", "", 7),),
    )
    assert live.feedback is not None
    feedback = Feedback(domains={D: live.feedback}, files=2)
    path = tmp_path / "evidence.json"
    evidence_file.write(
        evidence_file.Evidence((Target(D),), DnsSnapshot(), feedback=feedback), path
    )
    back = evidence_file.read(path).feedback
    assert back is not None and back.domains[D] == live.feedback
    replayed = replace(live, feedback=back.for_domain(D))
    for judge in (senders_pass_aligned, tls_reports_clean):
        assert judge(replayed) == judge(live)


def test_a_damaged_feedback_section_is_an_evidence_error(tmp_path: Path) -> None:
    import json

    from pytest_govmail.model import evidence as evidence_file
    from pytest_govmail.model.dns import DnsSnapshot
    from pytest_govmail.model.target import Target

    path = tmp_path / "evidence.json"
    evidence_file.write(evidence_file.Evidence((Target(D),), DnsSnapshot()), path)
    data = json.loads(path.read_text())
    data["feedback"] = {"domains": [{"domain": D, "senders": [["1.2.3.4", "x", -1]]}]}
    path.write_text(json.dumps(data))
    with pytest.raises(evidence_file.EvidenceError, match="malformed evidence"):
        evidence_file.read(path)
