"""Judge tables for TLSRPT-01, TLSRPT-03 and MTASTS-01: plain data, no network.

TLSRPT-02 (reports to NCSC Mail Check) was withdrawn in catalogue version 2; TLSRPT-03's table
holds the shapes real records take: Mail Check's address alone (as security.gov.uk still
shows it), beside a live address, in other cases, and a user's own retired service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from factories import answer, failed, nxdomain, subject, txt

from pytest_govmail.inputs.retired_reporting import packaged_retired, parse_retired
from pytest_govmail.judge.mtasts import mtasts_txt_record
from pytest_govmail.judge.tlsrpt import tlsrpt_record, tlsrpt_reports_reach_live_address
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status, Verdict

D = "example-dept.gov.uk"
TLS = f"_smtp._tls.{D}"
STS = f"_mta-sts.{D}"
NCSC = "mailto:tls-rua@mailcheck.service.ncsc.gov.uk"
OWN = f"mailto:tls-reports@{D}"
GOOD = f"v=TLSRPTv1; rua={OWN}"


def run(function: Callable[[Subject], Verdict], *results: DnsResult) -> Verdict:
    verdict = function(subject(D, *results))
    for finding in verdict.findings:
        assert finding.code and finding.observed and finding.expected and finding.remediation
    return verdict


def check(verdict: Verdict, status: Status, codes: list[str] | None, name: str) -> None:
    assert verdict.status is status, verdict
    if codes is not None:
        assert [f.code for f in verdict.findings] == codes, verdict
    assert list(verdict.evidence) == [f"{name}/TXT"]


_TLS_COMMON = [
    pytest.param([nxdomain(TLS, "TXT")], Status.FAIL, ["tlsrpt.record.missing"], id="nxdomain"),
    pytest.param([answer(TLS, "TXT")], Status.FAIL, ["tlsrpt.record.missing"], id="nodata"),
    pytest.param(
        [txt(TLS, "v=tlsrptv1; rua=" + OWN)],
        Status.FAIL,
        ["tlsrpt.record.missing"],
        id="version-case",
    ),
    pytest.param([txt(TLS, GOOD, GOOD)], Status.FAIL, ["tlsrpt.record.multiple"], id="two"),
    pytest.param(
        [txt(TLS, "v=TLSRPTv1; rua=tls@example.org")],
        Status.FAIL,
        ["tlsrpt.record.invalid"],
        id="invalid",
    ),
    pytest.param([txt(TLS, "v=TLSRPTv1")], Status.FAIL, ["tlsrpt.record.invalid"], id="no-rua"),
    # RFC 8460 section 3 discards records that do not begin with "v=TLSRPTv1;".
    pytest.param(
        [txt(TLS, "v=TLSRPTv1", GOOD)],
        Status.PASS,
        [],
        id="bare-beside-valid",
    ),
    pytest.param([failed(TLS, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
    pytest.param(
        [failed(TLS, "TXT", ErrorKind.SERVFAIL)], Status.INCONCLUSIVE, None, id="servfail"
    ),
    pytest.param([], Status.INCONCLUSIVE, None, id="not-collected"),
]


@pytest.mark.parametrize(
    ("results", "status", "codes"),
    [
        pytest.param([txt(TLS, GOOD)], Status.PASS, [], id="ncsc"),
        pytest.param(
            [txt(TLS, "v=spf1 -all", "v=TLSRPTv1; rua=https://r.example/tls")],
            Status.PASS,
            [],
            id="https-beside-other-txt",
        ),
        pytest.param(
            [txt(TLS, "v=TLSRPTv1; rua=mailto:a@example-dept.gov.uk,https://r.example")],
            Status.PASS,
            [],
            id="mailto-and-https",
        ),
        pytest.param(
            [txt(TLS, "v=TLSRPTv1; rua=ftp://r.example/tls")],
            Status.FAIL,
            ["tlsrpt.rua.scheme"],
            id="ftp",
        ),
        *_TLS_COMMON,
    ],
)
def test_tlsrpt_01(results: list[DnsResult], status: Status, codes: list[str] | None) -> None:
    check(run(tlsrpt_record, *results), status, codes, TLS)


@pytest.mark.parametrize(
    ("results", "status", "codes"),
    [
        pytest.param([txt(TLS, GOOD)], Status.PASS, [], id="own-mailbox"),
        pytest.param(
            [txt(TLS, f"v=TLSRPTv1;rua={NCSC}")],
            Status.FAIL,
            ["tlsrpt.rua.no_live_address"],
            id="mail-check-only-as-security-gov-uk-shows-it",
        ),
        pytest.param(
            [txt(TLS, "v=TLSRPTv1; rua=mailto:tls-rua@MAILCHECK.service.ncsc.gov.uk.")],
            Status.FAIL,
            ["tlsrpt.rua.no_live_address"],
            id="mail-check-domain-case-and-dot",
        ),
        pytest.param(
            [txt(TLS, "v=TLSRPTv1; rua=mailto:TLS-RUA@mailcheck.service.ncsc.gov.uk")],
            Status.PASS,
            [],
            id="local-part-exact-another-mailbox",
        ),
        pytest.param(
            [txt(TLS, f"v=TLSRPTv1; rua={NCSC},https://reports.example/tls")],
            Status.PASS,
            [],
            id="mail-check-beside-https",
        ),
        pytest.param(
            [txt(TLS, f"v=TLSRPTv1; rua={NCSC}, {OWN}")],
            Status.PASS,
            [],
            id="mail-check-beside-own",
        ),
        *_TLS_COMMON,
    ],
)
def test_tlsrpt_03(results: list[DnsResult], status: Status, codes: list[str] | None) -> None:
    check(run(tlsrpt_reports_reach_live_address, *results), status, codes, TLS)


def test_tlsrpt_03_names_the_retired_address_and_its_service() -> None:
    verdict = run(tlsrpt_reports_reach_live_address, txt(TLS, f"v=TLSRPTv1; rua={NCSC}; ext=1"))
    finding = verdict.findings[0]
    assert "only to retired services (NCSC Mail Check)" in finding.observed
    assert f'"v=TLSRPTv1; rua={OWN}; ext=1"' in finding.remediation
    assert "mailcheck" not in finding.remediation
    assert verdict.details[0][0] == "retired"
    assert "retired 2026-03-31" in verdict.details[0][1]
    passed = run(tlsrpt_reports_reach_live_address, txt(TLS, f"v=TLSRPTv1; rua={NCSC},{OWN}"))
    assert passed.status is Status.PASS and passed.details[0][0] == "retired"


def test_tlsrpt_03_a_users_own_retired_service() -> None:
    mine = parse_retired(
        'schema = 1\n[[address]]\nservice = "Old vendor"\nreports = "tlsrpt"\n'
        'domain = "reports.example"\nretired = 2025-01-01\nsource = "https://x.example"\n',
        "mine.toml",
    )
    retired = packaged_retired().extended(mine)
    record = "v=TLSRPTv1; rua=https://reports.example/tls,mailto:a@REPORTS.example"
    base = subject(D, txt(TLS, record))
    assert tlsrpt_reports_reach_live_address(base).status is Status.PASS
    verdict = tlsrpt_reports_reach_live_address(replace(base, retired=retired))
    assert verdict.status is Status.FAIL
    assert "(Old vendor)" in verdict.findings[0].observed


def test_no_tls_fix_text_names_a_retired_address() -> None:
    for record in ("v=TLSRPTv1", f"v=TLSRPTv1; rua={NCSC},ftp://x.example", "nothing"):
        for function in (tlsrpt_record, tlsrpt_reports_reach_live_address):
            for finding in run(function, txt(TLS, record)).findings:
                assert "mailcheck" not in finding.remediation, (record, finding)


def test_tlsrpt_01_scheme_fix_keeps_live_addresses_and_drops_retired_ones() -> None:
    finding = run(tlsrpt_record, txt(TLS, f"v=TLSRPTv1; rua={NCSC},ftp://x.example")).findings[0]
    assert f'"v=TLSRPTv1; rua={OWN}"' in finding.remediation
    record = f"v=TLSRPTv1; rua=mailto:a@{D},ftp://x.example"
    finding = run(tlsrpt_record, txt(TLS, record)).findings[0]
    assert f'"v=TLSRPTv1; rua=mailto:a@{D}"' in finding.remediation


@pytest.mark.parametrize(
    ("results", "status", "codes"),
    [
        pytest.param([txt(STS, "v=STSv1; id=20240101T000000Z")], Status.PASS, [], id="valid"),
        pytest.param(
            [txt(STS, "v=spf1 -all", "v=STSv1; id=1;")], Status.PASS, [], id="beside-other-txt"
        ),
        pytest.param([nxdomain(STS, "TXT")], Status.FAIL, ["mtasts.record.missing"], id="nxdomain"),
        pytest.param([answer(STS, "TXT")], Status.FAIL, ["mtasts.record.missing"], id="nodata"),
        pytest.param(
            [txt(STS, "v=stsv1; id=1")], Status.FAIL, ["mtasts.record.missing"], id="version-case"
        ),
        pytest.param(
            [txt(STS, "v=STSv1; id=1", "v=STSv1; id=2")],
            Status.FAIL,
            ["mtasts.record.multiple"],
            id="two",
        ),
        pytest.param(
            [txt(STS, "v=STSv1; id=2024-01-01")],
            Status.FAIL,
            ["mtasts.record.invalid"],
            id="id-with-dashes",
        ),
        pytest.param(
            [txt(STS, "v=STSv1; id=" + "9" * 33)],
            Status.FAIL,
            ["mtasts.record.invalid"],
            id="id-too-long",
        ),
        pytest.param([txt(STS, "v=STSv1")], Status.FAIL, ["mtasts.record.invalid"], id="no-id"),
        # RFC 8461 section 3.1: records that do not begin with "v=STSv1;" are discarded, so a
        # bare version beside a valid record leaves one record, and that one is the policy's.
        pytest.param(
            [txt(STS, "v=STSv1", "v=STSv1; id=1")], Status.PASS, [], id="bare-beside-valid"
        ),
        pytest.param(
            [txt(STS, "v=STSv1; id=1", "v=STSv1 ")], Status.PASS, [], id="bare-space-after-valid"
        ),
        pytest.param(
            [txt(STS, "v=STSv1 ; id=1", "v=STSv1")], Status.PASS, [], id="wsp-before-delimiter"
        ),
        pytest.param(
            [txt(STS, "v=STSv1", "v=STSv1")],
            Status.FAIL,
            ["mtasts.record.multiple"],
            id="two-bare",
        ),
        pytest.param([failed(STS, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
        pytest.param(
            [failed(STS, "TXT", ErrorKind.SERVFAIL)], Status.INCONCLUSIVE, None, id="servfail"
        ),
        pytest.param([], Status.INCONCLUSIVE, None, id="not-collected"),
    ],
)
def test_mtasts_01(results: list[DnsResult], status: Status, codes: list[str] | None) -> None:
    check(run(mtasts_txt_record, *results), status, codes, STS)


def test_mtasts_01_suggests_an_id_from_the_run_time() -> None:
    at = Subject(
        Target(D), DnsSnapshot([nxdomain(STS, "TXT")]), now=datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    )
    finding = mtasts_txt_record(at).findings[0]
    assert f'Publish one TXT record at {STS}: "v=STSv1; id=202503040506"' in finding.remediation


def test_hostile_txt_is_bounded_and_escaped() -> None:
    verdict = run(mtasts_txt_record, txt(STS, "v=STSv1; id=\x1b[31m" + "x" * 20000))
    observed = verdict.findings[0].observed
    assert "\x1b" not in observed and "\\x1b[31m" in observed
    assert len(observed) < 1000 and "characters in all" in observed
