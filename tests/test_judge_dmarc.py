"""Judge tables for DMARC-01..09 and PARK-02, and the DMARC planner's fixed point: no network.

DMARC-07 (reports to NCSC Mail Check) was withdrawn in catalogue version 2; DMARC-09's table
holds the shapes real records take: Mail Check's address alone (as G3's example still shows
it), beside a live address, its per-organisation token addresses, and a user's own retired
service. No fix text may name a retired address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from factories import answer, failed, nxdomain, subject, txt

from pytest_govmail.inputs.retired_reporting import packaged_retired, parse_retired
from pytest_govmail.judge import dmarc
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan import Planner
from pytest_govmail.plan.dmarc import dmarc_queries
from pytest_govmail.plan.mtasts import mtasts_queries
from pytest_govmail.plan.tlsrpt import tlsrpt_queries
from pytest_govmail.records.dmarc import parse_dmarc

D = "example-dept.gov.uk"
S = "sub.example-dept.gov.uk"
OWN = f"_dmarc.{D}"
SUB = f"_dmarc.{S}"
#: NCSC Mail Check's aggregate-report address: retired on 31 March 2026.
NCSC = "mailto:dmarc-rua@dmarc.service.gov.uk"
#: A live reporting service's address, outside the organisational domain.
LIVE = "mailto:dmarc@vendor.example"
GOOD = f"v=DMARC1; p=reject; rua={LIVE}"
AUTH_D = f"{D}._report._dmarc.vendor.example"
AUTH_S = f"{S}._report._dmarc.vendor.example"
#: The mailbox a fix suggests when no live address is left: at the organisational domain.
FIX = "mailto:dmarc-reports@example-dept.gov.uk"
#: The default mailbox of recommended_record when none is given.
MINE = "mailto:dmarc-reports@example.gov.uk"

Judge = Callable[[Subject], Verdict]


def nodata(name: str) -> DnsResult:
    return answer(name, "TXT")


def own(*values: str) -> list[DnsResult]:
    """The domain's own record(s) and an authorisation for the live reporting service."""
    return [txt(OWN, *values), txt(AUTH_D, "v=DMARC1")]


def inherited(*values: str, sub: DnsResult | None = None) -> list[DnsResult]:
    """Nothing at the subdomain, the organisational domain's record(s) and its authorisation."""
    return [sub or nxdomain(SUB, "TXT"), txt(OWN, *values), txt(AUTH_D, "v=DMARC1")]


def judge(function: Judge, results: list[DnsResult], domain: str = D) -> Verdict:
    verdict = function(subject(domain, *results))
    assert verdict.status is not Status.FAIL or verdict.findings
    for finding in verdict.findings:
        assert finding.code and finding.observed and finding.expected and finding.remediation
    return verdict


def check(verdict: Verdict, status: Status, codes: list[str] | None) -> None:
    assert verdict.status is status, verdict
    if codes is not None:
        assert [f.code for f in verdict.findings] == codes, verdict


# --- DMARC-01 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes", "evidence"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], [OWN], id="own-record"),
        pytest.param(
            D, [txt(OWN, "v=spf1 -all", GOOD)], Status.PASS, [], [OWN], id="other-txt-beside-it"
        ),
        pytest.param(S, inherited(GOOD), Status.PASS, [], [SUB, OWN], id="inherited-nxdomain"),
        pytest.param(
            S, inherited(GOOD, sub=nodata(SUB)), Status.PASS, [], [SUB, OWN], id="inherited-nodata"
        ),
        pytest.param(
            S,
            inherited(GOOD, sub=txt(SUB, "v=dmarc1; p=none")),
            Status.PASS,
            [],
            [SUB, OWN],
            id="lookalike-discarded-then-inherited",
        ),
        pytest.param(
            S,
            [txt(SUB, GOOD), failed(OWN, "TXT")],
            Status.PASS,
            [],
            [SUB],
            id="own-record-org-not-needed",
        ),
        pytest.param(
            D,
            [nxdomain(OWN, "TXT")],
            Status.FAIL,
            ["dmarc.record.missing"],
            [OWN],
            id="org-domain-nxdomain",
        ),
        pytest.param(
            D,
            [txt(OWN, "v=spf1 -all")],
            Status.FAIL,
            ["dmarc.record.missing"],
            [OWN],
            id="org-domain-no-dmarc-txt",
        ),
        pytest.param(
            S,
            [nxdomain(SUB, "TXT"), nodata(OWN)],
            Status.FAIL,
            ["dmarc.record.missing"],
            [SUB, OWN],
            id="missing-at-both",
        ),
        pytest.param(
            D,
            own(GOOD, "v=DMARC1; p=none"),
            Status.FAIL,
            ["dmarc.record.multiple"],
            [OWN],
            id="two-records",
        ),
        pytest.param(
            S,
            [txt(SUB, GOOD, GOOD), txt(OWN, GOOD)],
            Status.FAIL,
            ["dmarc.record.multiple"],
            [SUB],
            id="two-at-subdomain-no-fallback",
        ),
        pytest.param(
            S,
            inherited(GOOD, "v=DMARC1; p=none"),
            Status.FAIL,
            ["dmarc.record.multiple"],
            [SUB, OWN],
            id="two-at-org",
        ),
        pytest.param(D, [failed(OWN, "TXT")], Status.INCONCLUSIVE, None, [OWN], id="timeout"),
        pytest.param(
            D,
            [failed(OWN, "TXT", ErrorKind.SERVFAIL)],
            Status.INCONCLUSIVE,
            None,
            [OWN],
            id="servfail",
        ),
        pytest.param(D, [], Status.INCONCLUSIVE, None, [OWN], id="not-collected"),
        pytest.param(
            S,
            [nxdomain(SUB, "TXT"), failed(OWN, "TXT")],
            Status.INCONCLUSIVE,
            None,
            [SUB, OWN],
            id="fallback-timeout",
        ),
        pytest.param(
            S,
            [nxdomain(SUB, "TXT"), failed(OWN, "TXT", ErrorKind.SERVFAIL)],
            Status.INCONCLUSIVE,
            None,
            [SUB, OWN],
            id="fallback-servfail",
        ),
        pytest.param(
            S,
            [nxdomain(SUB, "TXT")],
            Status.INCONCLUSIVE,
            None,
            [SUB, OWN],
            id="fallback-not-collected",
        ),
    ],
)
def test_dmarc_01_record_applies(
    domain: str,
    results: list[DnsResult],
    status: Status,
    codes: list[str] | None,
    evidence: list[str],
) -> None:
    verdict = judge(dmarc.dmarc_record_applies, results, domain)
    check(verdict, status, codes)
    assert list(verdict.evidence) == [f"{name}/TXT" for name in evidence]


def test_dmarc_01_says_where_the_record_was_found() -> None:
    summary = judge(dmarc.dmarc_record_applies, inherited(GOOD), S).summary
    assert summary.startswith(f"{SUB}: NXDOMAIN; the organisational domain's record applies")
    assert "inherited from the organisational domain, at _dmarc.example-dept.gov.uk, TTL 3600" in (
        summary
    )
    passed_over = judge(
        dmarc.dmarc_record_applies, inherited(GOOD, sub=txt(SUB, "v=DMARC1 p=reject")), S
    ).summary
    assert "must start with exactly 'v=DMARC1'" in passed_over
    missing = judge(dmarc.dmarc_record_applies, [nxdomain(SUB, "TXT"), nodata(OWN)], S)
    assert f"{SUB}: NXDOMAIN" in missing.findings[0].observed
    assert f"{OWN}: no TXT records (NODATA)" in missing.findings[0].observed
    assert f'Publish one TXT record at {SUB}: "v=DMARC1; p=reject; rua={FIX}"' in (
        missing.findings[0].remediation
    )
    lookalike = judge(dmarc.dmarc_record_applies, [txt(OWN, "v=dmarc1; p=reject")])
    assert "must start with exactly 'v=DMARC1'" in lookalike.findings[0].observed


# --- DMARC-02 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], id="valid"),
        pytest.param(
            D,
            own("v=DMARC1; p=reject; pct=50; psd=n; t=n; np=reject"),
            Status.PASS,
            [],
            id="both-rfcs-tags",
        ),
        pytest.param(
            D,
            own("v=DMARC1; p=reject; p=none"),
            Status.FAIL,
            ["dmarc.syntax.duplicate"],
            id="duplicate",
        ),
        pytest.param(
            D, own("v=DMARC1; p=block"), Status.FAIL, ["dmarc.syntax.value"], id="bad-value"
        ),
        pytest.param(
            D,
            own("v=DMARC1; p=reject; rua=reports@example.org"),
            Status.FAIL,
            ["dmarc.syntax.uri"],
            id="bad-uri",
        ),
        pytest.param(
            D, own("v=DMARC1;; p=reject"), Status.FAIL, ["dmarc.syntax.tag"], id="empty-tag"
        ),
        pytest.param(
            S,
            inherited("v=DMARC1; p=reject; sp=maybe"),
            Status.FAIL,
            ["dmarc.syntax.value"],
            id="inherited-invalid",
        ),
        pytest.param(
            D, [nxdomain(OWN, "TXT")], Status.FAIL, ["dmarc.record.missing"], id="missing"
        ),
        pytest.param(D, own(GOOD, GOOD), Status.FAIL, ["dmarc.record.missing"], id="multiple"),
        pytest.param(D, [failed(OWN, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
    ],
)
def test_dmarc_02_syntax(
    domain: str, results: list[DnsResult], status: Status, codes: list[str] | None
) -> None:
    check(judge(dmarc.dmarc_syntax_valid, results, domain), status, codes)


def test_dmarc_02_reports_notes_and_salvages_the_record() -> None:
    passed = judge(dmarc.dmarc_syntax_valid, own("v=DMARC1; p=reject; pct=50"))
    assert "1 note(s)" in passed.summary
    assert any("pct was removed" in text for _, text in passed.details)
    failed_ = judge(dmarc.dmarc_syntax_valid, own("v=DMARC1; p=quarantine; p=none; fo=1"))
    finding = failed_.findings[0]
    assert "appears more than once" in finding.observed
    assert f'"v=DMARC1; p=quarantine; fo=1; rua={FIX}"' in finding.remediation


# --- DMARC-03 -------------------------------------------------------------------------------------

_INVALID = ["dmarc.record.invalid"]
_MISSING = ["dmarc.record.missing"]


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], id="reject"),
        pytest.param(D, own("v=DMARC1; p=quarantine"), Status.PASS, [], id="quarantine"),
        pytest.param(
            D,
            own("v=DMARC1; p=reject; sp=none"),
            Status.PASS,
            [],
            id="own-record-sp-does-not-apply",
        ),
        pytest.param(
            D, own("v=DMARC1; p=none; sp=reject"), Status.FAIL, ["dmarc.policy.none"], id="none"
        ),
        pytest.param(
            D,
            own(f"v=DMARC1; rua={NCSC}"),
            Status.FAIL,
            ["dmarc.policy.none"],
            id="p-absent-reads-none",
        ),
        pytest.param(
            S, inherited("v=DMARC1; p=none; sp=reject"), Status.PASS, [], id="inherited-sp-applies"
        ),
        pytest.param(
            S, inherited("v=DMARC1; p=quarantine"), Status.PASS, [], id="inherited-no-sp-takes-p"
        ),
        pytest.param(
            S,
            inherited("v=DMARC1; p=reject; sp=none"),
            Status.FAIL,
            ["dmarc.policy.none"],
            id="inherited-sp-none",
        ),
        pytest.param(
            S,
            inherited("v=DMARC1; p=none"),
            Status.FAIL,
            ["dmarc.policy.none"],
            id="inherited-p-none",
        ),
        pytest.param(
            D,
            own("v=DMARC1; p=quarantine; t=y"),
            Status.FAIL,
            ["dmarc.policy.testing"],
            id="quarantine-test-mode",
        ),
        pytest.param(
            D, own("v=DMARC1; p=reject; t=y"), Status.PASS, [], id="reject-test-mode-is-quarantine"
        ),
        pytest.param(D, own("v=DMARC1; p=reject; pct=0"), Status.PASS, [], id="pct-is-dmarc-04s"),
        pytest.param(D, own("v=DMARC1; p=reject; p=reject"), Status.FAIL, _INVALID, id="invalid"),
        pytest.param(D, [nxdomain(OWN, "TXT")], Status.FAIL, _MISSING, id="missing"),
        pytest.param(D, [failed(OWN, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
        pytest.param(
            D, [failed(OWN, "TXT", ErrorKind.SERVFAIL)], Status.INCONCLUSIVE, None, id="servfail"
        ),
        pytest.param(
            S,
            [nxdomain(SUB, "TXT"), failed(OWN, "TXT")],
            Status.INCONCLUSIVE,
            None,
            id="fallback-timeout",
        ),
    ],
)
def test_dmarc_03_policy(
    domain: str, results: list[DnsResult], status: Status, codes: list[str] | None
) -> None:
    check(judge(dmarc.dmarc_policy_enforced, results, domain), status, codes)


def test_dmarc_03_remediation_is_the_corrected_record() -> None:
    record = "v=DMARC1; p=none; rua=mailto:reports@example-dept.gov.uk; fo=1; ruf=mailto:f@x.org"
    finding = judge(dmarc.dmarc_policy_enforced, own(record)).findings[0]
    assert finding.observed.startswith(
        f'rollout stage monitoring: p=none applies: "{record}" (at {OWN}, TTL 3600)'
    )
    assert (
        f'Publish at {OWN}, replacing the record: "v=DMARC1; p=reject; '
        'rua=mailto:reports@example-dept.gov.uk; fo=1; ruf=mailto:f@x.org"'
    ) in finding.remediation


@pytest.mark.parametrize(
    ("record", "stage", "code"),
    [
        ("v=DMARC1; p=none; rua=mailto:a@example-dept.gov.uk", "monitoring (p=none)", "none"),
        ("v=DMARC1; rua=mailto:a@example-dept.gov.uk", "monitoring (no p tag", "none"),
        ("v=DMARC1; p=quarantine; t=y", "testing (p=quarantine, t=y)", "testing"),
    ],
)
def test_dmarc_03_names_the_rollout_stage(record: str, stage: str, code: str) -> None:
    verdict = judge(dmarc.dmarc_policy_enforced, own(record))
    assert [f.code for f in verdict.findings] == [f"dmarc.policy.{code}"]
    assert verdict.findings[0].observed.startswith(f"rollout stage {stage.split()[0]}: ")
    assert dict(verdict.details)["rollout stage"].startswith(stage)


def test_dmarc_03_inherited_remediation_offers_a_record_of_its_own() -> None:
    finding = judge(
        dmarc.dmarc_policy_enforced, inherited("v=DMARC1; p=reject; sp=none"), S
    ).findings[0]
    assert finding.observed.startswith("rollout stage monitoring: sp=none applies")
    assert f'Publish a record of its own at {SUB}: "v=DMARC1; p=reject; rua={FIX}"' in (
        finding.remediation
    )
    assert f"or fix the record at {OWN}" in finding.remediation


# --- DMARC-04 and DMARC-05 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "status", "codes"),
    [
        pytest.param(own(GOOD), Status.PASS, [], id="absent"),
        pytest.param(own(GOOD + "; pct=100"), Status.PASS, [], id="100"),
        pytest.param(own(GOOD + "; pct=50"), Status.FAIL, ["dmarc.pct.partial"], id="50"),
        pytest.param(own(GOOD + "; pct=0"), Status.FAIL, ["dmarc.pct.partial"], id="0"),
        pytest.param(own(GOOD + "; pct=500"), Status.FAIL, _INVALID, id="invalid"),
        pytest.param([nxdomain(OWN, "TXT")], Status.FAIL, _MISSING, id="missing"),
        pytest.param([failed(OWN, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
    ],
)
def test_dmarc_04_pct(results: list[DnsResult], status: Status, codes: list[str] | None) -> None:
    verdict = judge(dmarc.dmarc_pct_full, results)
    check(verdict, status, codes)
    if codes == ["dmarc.pct.partial"]:
        assert f'"{GOOD}"' in verdict.findings[0].remediation  # pct removed, the rest kept


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], id="absent"),
        pytest.param(
            D, own("v=DMARC1; p=none"), Status.PASS, [], id="absent-with-p-none-is-dmarc-03s"
        ),
        pytest.param(D, own(GOOD + "; sp=quarantine"), Status.PASS, [], id="quarantine"),
        pytest.param(D, own(GOOD + "; sp=none"), Status.FAIL, ["dmarc.sp.none"], id="none"),
        pytest.param(
            S, inherited(GOOD + "; sp=none"), Status.FAIL, ["dmarc.sp.none"], id="inherited-none"
        ),
        pytest.param(D, own(GOOD + "; sp=nope"), Status.FAIL, _INVALID, id="invalid"),
        pytest.param(D, [nxdomain(OWN, "TXT")], Status.FAIL, _MISSING, id="missing"),
        pytest.param(
            D, [failed(OWN, "TXT", ErrorKind.SERVFAIL)], Status.INCONCLUSIVE, None, id="servfail"
        ),
    ],
)
def test_dmarc_05_sp(
    domain: str, results: list[DnsResult], status: Status, codes: list[str] | None
) -> None:
    check(judge(dmarc.dmarc_subdomain_policy, results, domain), status, codes)


# --- DMARC-06 and DMARC-07 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "status", "codes"),
    [
        pytest.param(own(GOOD), Status.PASS, [], id="one-mailto"),
        pytest.param(own(GOOD + ",mailto:a@example-dept.gov.uk"), Status.PASS, [], id="two-mailto"),
        pytest.param(own("v=DMARC1; p=reject"), Status.FAIL, ["dmarc.rua.missing"], id="no-rua"),
        pytest.param(
            own(GOOD + ",mailto:a@example-dept.gov.uk,mailto:b@example-dept.gov.uk"),
            Status.PASS,
            [],
            id="three-noted",
        ),
        pytest.param(
            own(GOOD + ",https://reports.example/dmarc"),
            Status.FAIL,
            ["dmarc.rua.not_mailto"],
            id="https",
        ),
        pytest.param(
            own(GOOD + ",https://r.example/a,mailto:a@example-dept.gov.uk"),
            Status.FAIL,
            ["dmarc.rua.not_mailto"],
            id="https-and-three",
        ),
        pytest.param(own("v=DMARC1; p=reject; rua=mailto:"), Status.FAIL, _INVALID, id="invalid"),
        pytest.param([nxdomain(OWN, "TXT")], Status.FAIL, _MISSING, id="missing"),
        pytest.param([failed(OWN, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
    ],
)
def test_dmarc_06_aggregate_reporting(
    results: list[DnsResult], status: Status, codes: list[str] | None
) -> None:
    check(judge(dmarc.dmarc_aggregate_reporting, results), status, codes)


def test_dmarc_06_more_than_two_addresses_is_a_note_not_a_failure() -> None:
    """RFC 7489 section 6.2: receivers "MUST support the ability to send to at least two"."""
    record = (
        "v=DMARC1; p=reject; rua=mailto:a@example-dept.gov.uk,mailto:b@x.example,mailto:c@y.example"
    )
    verdict = judge(dmarc.dmarc_aggregate_reporting, own(record))
    assert verdict.status is Status.PASS
    assert "need send to only the first 2" in dict(verdict.details)["note"]
    assert not judge(dmarc.dmarc_aggregate_reporting, own(GOOD)).details


# --- DMARC-09 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rua", "status", "codes"),
    [
        pytest.param(LIVE, Status.PASS, [], id="live-service"),
        pytest.param("mailto:dmarc@example-dept.gov.uk", Status.PASS, [], id="own-mailbox"),
        pytest.param(NCSC, Status.FAIL, ["dmarc.rua.no_live_address"], id="mail-check-only"),
        pytest.param(
            "mailto:dmarc-rua@DMARC.Service.GOV.UK.",
            Status.FAIL,
            ["dmarc.rua.no_live_address"],
            id="mail-check-domain-case-and-dot",
        ),
        pytest.param(f"{NCSC}!10m", Status.FAIL, ["dmarc.rua.no_live_address"], id="size-ignored"),
        pytest.param(
            "mailto:ab12cd@dmarc-rua.mailcheck.service.ncsc.gov.uk",
            Status.FAIL,
            ["dmarc.rua.no_live_address"],
            id="mail-check-token",
        ),
        pytest.param(
            f"{NCSC},mailto:dmarc@example-dept.gov.uk",
            Status.PASS,
            [],
            id="mail-check-beside-own-as-g3-shows-it",
        ),
        pytest.param(
            "mailto:DMARC-RUA@dmarc.service.gov.uk",
            Status.PASS,
            [],
            id="local-part-exact-another-mailbox",
        ),
        pytest.param(
            "https://reports.example/dmarc",
            Status.FAIL,
            ["dmarc.rua.no_live_address"],
            id="not-mailto",
        ),
        pytest.param(None, Status.FAIL, ["dmarc.rua.no_live_address"], id="no-rua"),
    ],
)
def test_dmarc_09_reports_reach_a_live_address(
    rua: str | None, status: Status, codes: list[str]
) -> None:
    record = "v=DMARC1; p=reject" + (f"; rua={rua}" if rua else "")
    verdict = judge(dmarc.dmarc_reports_reach_live_address, own(record))
    check(verdict, status, codes)
    if codes:
        remediation = verdict.findings[0].remediation
        assert "dmarc.service.gov.uk" not in remediation
        assert "mailcheck" not in remediation
        assert FIX in remediation


def test_dmarc_09_notes_retired_addresses_in_rua_and_ruf() -> None:
    record = f"v=DMARC1; p=reject; rua={NCSC},{LIVE}; ruf=mailto:dmarc-ruf@dmarc.service.gov.uk"
    verdict = judge(dmarc.dmarc_reports_reach_live_address, own(record))
    assert verdict.status is Status.PASS
    notes = [text for key, text in verdict.details if key == "retired"]
    assert len(notes) == 2 and all("NCSC Mail Check, retired 2026-03-31" in n for n in notes)
    failing = judge(dmarc.dmarc_reports_reach_live_address, own(f"v=DMARC1; p=none; rua={NCSC}"))
    assert "only to retired services (NCSC Mail Check)" in failing.findings[0].observed


def test_dmarc_09_a_users_own_retired_service() -> None:
    mine = parse_retired(
        'schema = 1\n[[address]]\nservice = "Old vendor"\nreports = "dmarc"\n'
        'mailbox = "dmarc@Vendor.Example"\nretired = 2025-06-30\nsource = "https://x.example"\n',
        "mine.toml",
    )
    base = subject(D, *own(GOOD))
    assert dmarc.dmarc_reports_reach_live_address(base).status is Status.PASS
    verdict = dmarc.dmarc_reports_reach_live_address(
        replace(base, retired=packaged_retired().extended(mine))
    )
    assert verdict.status is Status.FAIL
    assert "(Old vendor)" in verdict.findings[0].observed
    assert LIVE not in verdict.findings[0].remediation


def test_no_dmarc_fix_text_names_a_retired_address() -> None:
    judges = [
        dmarc.dmarc_record_applies,
        dmarc.dmarc_syntax_valid,
        dmarc.dmarc_policy_enforced,
        dmarc.dmarc_pct_full,
        dmarc.dmarc_subdomain_policy,
        dmarc.dmarc_aggregate_reporting,
        dmarc.dmarc_reports_reach_live_address,
        dmarc.parked_dmarc_reject,
    ]
    records = [
        f"v=DMARC1; p=none; sp=none; pct=5; rua={NCSC}; ruf=mailto:dmarc-ruf@dmarc.service.gov.uk",
        "v=DMARC1; p=quarantine; p=none",
        "v=DMARC1",
    ]
    for record in records:
        for function in judges:
            for finding in judge(function, own(record)).findings:
                assert "dmarc.service.gov.uk" not in finding.remediation, (function, finding)
    for finding in judge(dmarc.dmarc_record_applies, [nxdomain(OWN, "TXT")]).findings:
        assert "dmarc.service.gov.uk" not in finding.remediation


# --- DMARC-08 -------------------------------------------------------------------------------------

EXT = "reports.example"
AUTH_EXT = f"{D}._report._dmarc.{EXT}"
WITH_EXT = f"v=DMARC1; p=reject; rua={LIVE}; ruf=mailto:f@{EXT}"


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes", "evidence"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], [OWN, AUTH_D], id="ncsc-authorised"),
        pytest.param(
            D,
            [txt(OWN, "v=DMARC1; p=reject; rua=mailto:d@mail.example-dept.gov.uk")],
            Status.PASS,
            [],
            [OWN],
            id="internal-only",
        ),
        pytest.param(D, [txt(OWN, "v=DMARC1; p=reject")], Status.PASS, [], [OWN], id="no-uris"),
        pytest.param(
            D,
            [txt(OWN, "v=DMARC1; p=reject; rua=https://r.example/x")],
            Status.PASS,
            [],
            [OWN],
            id="https-not-checked",
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD), txt(AUTH_D, "v=DMARC1; rua=mailto:x@y.example")],
            Status.PASS,
            [],
            [OWN, AUTH_D],
            id="authorisation-with-tags",
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD), nxdomain(AUTH_D, "TXT")],
            Status.FAIL,
            ["dmarc.external.unauthorised"],
            [OWN, AUTH_D],
            id="nxdomain",
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD), nodata(AUTH_D)],
            Status.FAIL,
            ["dmarc.external.unauthorised"],
            [OWN, AUTH_D],
            id="nodata",
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD), txt(AUTH_D, "v=spf1 -all")],
            Status.FAIL,
            ["dmarc.external.unauthorised"],
            [OWN, AUTH_D],
            id="txt-not-dmarc",
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD), failed(AUTH_D, "TXT")],
            Status.INCONCLUSIVE,
            None,
            [OWN, AUTH_D],
            id="timeout",
        ),
        pytest.param(
            D, [txt(OWN, GOOD)], Status.INCONCLUSIVE, None, [OWN, AUTH_D], id="not-collected"
        ),
        pytest.param(
            D,
            [*own(WITH_EXT), txt(AUTH_EXT, "v=DMARC1")],
            Status.PASS,
            [],
            [OWN, AUTH_D, AUTH_EXT],
            id="ruf-authorised-too",
        ),
        pytest.param(
            D,
            [*own(WITH_EXT), nxdomain(AUTH_EXT, "TXT")],
            Status.FAIL,
            ["dmarc.external.unauthorised"],
            [OWN, AUTH_D, AUTH_EXT],
            id="ruf-missing",
        ),
        pytest.param(
            D,
            [txt(OWN, WITH_EXT), failed(AUTH_D, "TXT"), nxdomain(AUTH_EXT, "TXT")],
            Status.FAIL,
            ["dmarc.external.unauthorised"],
            [OWN, AUTH_D, AUTH_EXT],
            id="fail-beats-timeout",
        ),
        pytest.param(
            S, inherited(GOOD), Status.PASS, [], [SUB, OWN, AUTH_D], id="inherited-uses-org-name"
        ),
        pytest.param(
            S,
            [txt(SUB, GOOD), txt(AUTH_S, "v=DMARC1")],
            Status.PASS,
            [],
            [SUB, AUTH_S],
            id="own-subdomain-record-uses-its-name",
        ),
        pytest.param(D, [nxdomain(OWN, "TXT")], Status.FAIL, _MISSING, [OWN], id="missing"),
        pytest.param(D, [failed(OWN, "TXT")], Status.INCONCLUSIVE, None, [OWN], id="dmarc-timeout"),
    ],
)
def test_dmarc_08_external_destinations(
    domain: str,
    results: list[DnsResult],
    status: Status,
    codes: list[str] | None,
    evidence: list[str],
) -> None:
    verdict = judge(dmarc.dmarc_external_reports_authorised, results, domain)
    check(verdict, status, codes)
    assert list(verdict.evidence) == [f"{name}/TXT" for name in evidence]


def test_dmarc_08_names_the_record_to_publish() -> None:
    verdict = judge(
        dmarc.dmarc_external_reports_authorised, [txt(OWN, GOOD), nxdomain(AUTH_D, "TXT")]
    )
    finding = verdict.findings[0]
    assert f'publish TXT "v=DMARC1" at {AUTH_D}' in finding.remediation
    assert finding.expected == f"a TXT record starting v=DMARC1 at {AUTH_D}"
    assert f"{AUTH_D}: NXDOMAIN" in finding.observed
    mixed = judge(
        dmarc.dmarc_external_reports_authorised,
        [txt(OWN, WITH_EXT), failed(AUTH_D, "TXT"), nxdomain(AUTH_EXT, "TXT")],
    )
    assert mixed.details and mixed.details[0][0] == "inconclusive"


# --- PARK-02 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "results", "status", "codes"),
    [
        pytest.param(D, own(GOOD), Status.PASS, [], id="p-reject-sp-inherits"),
        pytest.param(D, own(GOOD + "; sp=reject"), Status.PASS, [], id="both-reject"),
        pytest.param(
            D,
            own(GOOD + "; sp=quarantine"),
            Status.FAIL,
            ["park.dmarc.not_reject"],
            id="sp-quarantine",
        ),
        pytest.param(
            D,
            own("v=DMARC1; p=quarantine; sp=reject"),
            Status.FAIL,
            ["park.dmarc.not_reject"],
            id="p-quarantine",
        ),
        pytest.param(
            D, own(GOOD + "; t=y"), Status.FAIL, ["park.dmarc.not_reject"], id="test-mode"
        ),
        pytest.param(
            S, inherited("v=DMARC1; p=none; sp=reject"), Status.PASS, [], id="inherited-sp-reject"
        ),
        pytest.param(S, inherited(GOOD), Status.PASS, [], id="inherited-p-reject"),
        pytest.param(
            S,
            inherited(GOOD + "; sp=none"),
            Status.FAIL,
            ["park.dmarc.not_reject"],
            id="inherited-sp-none",
        ),
        pytest.param(
            D, own("v=DMARC1; p=reject; sp=reject; sp=reject"), Status.FAIL, _INVALID, id="invalid"
        ),
        pytest.param(D, [nodata(OWN)], Status.FAIL, _MISSING, id="missing"),
        pytest.param(D, [failed(OWN, "TXT")], Status.INCONCLUSIVE, None, id="timeout"),
    ],
)
def test_park_02(
    domain: str, results: list[DnsResult], status: Status, codes: list[str] | None
) -> None:
    verdict = judge(dmarc.parked_dmarc_reject, results, domain)
    check(verdict, status, codes)
    if codes == ["park.dmarc.not_reject"]:
        assert "p=reject" in verdict.findings[0].remediation
        assert "sp=reject" in verdict.findings[0].remediation


# --- hostile data ---------------------------------------------------------------------------------


def test_hostile_values_are_bounded_and_control_characters_shown() -> None:
    huge = "v=DMARC1; p=none; x=<script>alert(1)</script>" + "a" * 16000
    finding = judge(dmarc.dmarc_policy_enforced, own(huge)).findings[0]
    assert "<script>" in finding.observed  # kept as text: the reporting layer escapes HTML
    assert "characters in all" in finding.observed
    assert len(finding.observed) < 1000
    escaped = judge(dmarc.dmarc_syntax_valid, own("v=DMARC1; p=none; x=\x1b[2J\u202e"))
    text = escaped.findings[0].observed
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J\\u202e" in text


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=DMARC1; p=none", f"v=DMARC1; p=reject; rua={MINE}"),
        (
            "v=DMARC1; p=quarantine; sp=none; pct=20; t=y; adkim=s",
            f"v=DMARC1; p=quarantine; adkim=s; rua={MINE}",
        ),
        (f"v=DMARC1; rua=https://x.example/r,{LIVE}!5m", f"v=DMARC1; p=reject; rua={LIVE}!5m"),
        (f"v=DMARC1; p=reject; rua={LIVE}; zz=kept", f"v=DMARC1; p=reject; rua={LIVE}; zz=kept"),
        # Mail Check's addresses (retired) are dropped, from ruf too; a live address is kept.
        (f"v=DMARC1; p=reject; rua={NCSC}", f"v=DMARC1; p=reject; rua={MINE}"),
        (f"v=DMARC1; p=reject; rua={NCSC},{LIVE}", f"v=DMARC1; p=reject; rua={LIVE}"),
        (
            f"v=DMARC1; p=reject; rua={LIVE}; ruf=mailto:dmarc-ruf@dmarc.service.gov.uk",
            f"v=DMARC1; p=reject; rua={LIVE}",
        ),
        (
            f"v=DMARC1; p=reject; rua={LIVE}; ruf=mailto:dmarc-ruf@dmarc.service.gov.uk,{LIVE}",
            f"v=DMARC1; p=reject; rua={LIVE}; ruf={LIVE}",
        ),
    ],
)
def test_recommended_record(record: str, expected: str) -> None:
    assert dmarc.recommended_record(parse_dmarc(record), mailbox=MINE[7:]) == expected


def test_recommended_record_for_a_subdomain_drops_psd() -> None:
    record = parse_dmarc(f"v=DMARC1; p=reject; psd=n; rua={LIVE}")
    assert dmarc.recommended_record(record, for_subdomain=True) == f"v=DMARC1; p=reject; rua={LIVE}"
    assert dmarc.recommended_record(record) == record.text


def test_recommended_record_for_parked_domains() -> None:
    assert dmarc.recommended_record(parse_dmarc("v=DMARC1; p=none"), parked=True) == (
        f"v=DMARC1; p=reject; sp=reject; rua={MINE}"
    )


# --- the planners ---------------------------------------------------------------------------------


def settle(planner: Planner, domain: str, answers: list[DnsResult]) -> set[str]:
    """Run a planner to its fixed point against canned answers (NXDOMAIN for anything else)."""
    canned = {r.query: r for r in answers}
    asked: set[Query] = set()
    for _ in range(20):
        snapshot = DnsSnapshot(canned.get(q) or nxdomain(q.name, q.rdtype) for q in asked)
        wanted = set(planner(Target(domain), snapshot))
        if wanted <= asked:
            return {q.key for q in asked}
        asked |= wanted
    raise AssertionError("the planner did not settle")


@pytest.mark.parametrize(
    ("domain", "answers", "expected"),
    [
        pytest.param(D, [txt(OWN, GOOD)], [OWN, AUTH_D], id="own-record-external-rua"),
        pytest.param(
            D,
            [txt(OWN, "v=DMARC1; p=reject; rua=mailto:a@x.example-dept.gov.uk")],
            [OWN],
            id="internal-rua",
        ),
        pytest.param(
            D,
            [nxdomain(OWN, "TXT")],
            [OWN, "_dmarc.gov.uk", "_dmarc.uk", f"{D}/MX"],
            id="org-domain-without-record",
        ),
        pytest.param(D, [failed(OWN, "TXT")], [OWN], id="timeout-stops"),
        pytest.param(S, [txt(SUB, GOOD)], [SUB, AUTH_S], id="subdomain-own-record"),
        pytest.param(
            S,
            [txt(OWN, WITH_EXT)],
            [SUB, OWN, "_dmarc.gov.uk", "_dmarc.uk", f"{S}/MX", AUTH_D, AUTH_EXT],
            id="inherited-uses-org-name",
        ),
        pytest.param(
            S,
            [txt(SUB, "v=dmarc1; p=none"), txt(OWN, GOOD)],
            [SUB, OWN, "_dmarc.gov.uk", "_dmarc.uk", f"{S}/MX", AUTH_D],
            id="lookalike-falls-back",
        ),
        pytest.param(S, [failed(SUB, "TXT")], [SUB], id="subdomain-timeout-stops"),
        pytest.param(
            S, [failed(OWN, "TXT", ErrorKind.SERVFAIL)], [SUB, OWN], id="fallback-servfail-stops"
        ),
        pytest.param(
            D,
            [txt(OWN, GOOD, GOOD)],
            [OWN, "_dmarc.gov.uk", "_dmarc.uk", f"{D}/MX"],
            id="multiple-records",
        ),
        pytest.param(D, [txt(OWN, GOOD + "; p=none")], [OWN], id="invalid-record"),
        pytest.param(
            D,
            [txt(OWN, f"v=DMARC1; rua={LIVE}!1m; ruf={LIVE},mailto:x@VENDOR.example")],
            [OWN, AUTH_D],
            id="same-host-asked-once",
        ),
    ],
)
def test_dmarc_planner_fixed_point(
    domain: str, answers: list[DnsResult], expected: list[str]
) -> None:
    wanted = {name if "/" in name else f"{name}/TXT" for name in expected}
    assert settle(dmarc_queries, domain, answers) == wanted


def test_reporting_planners() -> None:
    assert settle(tlsrpt_queries, D, []) == {f"_smtp._tls.{D}/TXT"}
    assert settle(mtasts_queries, D, []) == {f"_mta-sts.{D}/TXT"}
