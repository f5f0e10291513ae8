"""Judge tables for MX-01..03, PARK-03/04, PTR-01 and role inference: plain data, no network."""

from __future__ import annotations

import pytest
from factories import aliased, answer, failed, nxdomain, subject, txt

from pytest_govmail.judge import mx, park, ptr
from pytest_govmail.judge.roles import (
    applicability,
    infer_roles,
    nonexistence,
    nonexistent_verdict,
)
from pytest_govmail.model.dns import ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Role
from pytest_govmail.model.verdict import Status
from pytest_govmail.plan.base import parked_probe_selector

D = "example-dept.gov.uk"
MX1 = "mail1.example-dept.gov.uk"


def _mx(*records: str) -> list:
    return [answer(D, "MX", *records)]


@pytest.mark.parametrize(
    ("results", "expected", "code"),
    [
        pytest.param(
            [answer(D, "MX", f"10 {MX1}."), answer(MX1, "A", "192.0.2.1"), answer(MX1, "AAAA")],
            Status.PASS,
            None,
            id="exchange-resolves",
        ),
        pytest.param(
            [answer(D, "MX"), answer(D, "A", "192.0.2.9"), answer(D, "AAAA")],
            Status.PASS,
            None,
            id="implicit-mx",
        ),
        pytest.param(
            [answer(D, "MX", f"10 {MX1}."), nxdomain(MX1, "A"), nxdomain(MX1, "AAAA")],
            Status.FAIL,
            "mx.unresolvable",
            id="exchange-nxdomain",
        ),
        pytest.param(
            [answer(D, "MX", f"10 {MX1}."), failed(MX1, "A"), answer(MX1, "AAAA")],
            Status.INCONCLUSIVE,
            None,
            id="exchange-lookup-timeout",
        ),
        pytest.param([failed(D, "MX")], Status.INCONCLUSIVE, None, id="mx-timeout"),
        pytest.param(
            [failed(D, "MX", ErrorKind.SERVFAIL)], Status.INCONCLUSIVE, None, id="mx-servfail"
        ),
        pytest.param([], Status.INCONCLUSIVE, None, id="not-collected"),
    ],
)
def test_mx_resolves(results: list, expected: Status, code: str | None) -> None:
    verdict = mx.mx_resolves(subject(D, *results))
    assert verdict.status is expected, verdict
    if code:
        assert [f.code for f in verdict.findings] == [code]


@pytest.mark.parametrize(
    ("host", "results", "expected", "code"),
    [
        pytest.param(
            MX1,
            [answer(D, "MX", f"10 {MX1}."), answer(MX1, "A", "192.0.2.1"), answer(MX1, "AAAA")],
            Status.PASS,
            None,
            id="hostname",
        ),
        pytest.param(
            MX1,
            [
                answer(D, "MX", f"10 {MX1}."),
                aliased(MX1, "A", ("mx.provider.example",), "192.0.2.1"),
                answer(MX1, "AAAA"),
            ],
            Status.FAIL,
            "mx.cname",
            id="cname",
        ),
        pytest.param(
            "192.0.2.7",
            [answer(D, "MX", "10 192.0.2.7.")],
            Status.FAIL,
            "mx.ip_literal",
            id="ip-literal",
        ),
        pytest.param(
            MX1,
            [answer(D, "MX", f"10 {MX1}."), failed(MX1, "A"), answer(MX1, "AAAA")],
            Status.INCONCLUSIVE,
            None,
            id="timeout",
        ),
    ],
)
def test_mx_is_hostname(host: str, results: list, expected: Status, code: str | None) -> None:
    verdict = mx.mx_is_hostname(subject(D, *results, host=host))
    assert verdict.status is expected, verdict
    if code:
        assert [f.code for f in verdict.findings] == [code]


@pytest.mark.parametrize(
    ("records", "expected", "codes"),
    [
        pytest.param(("10 mx.example.",), Status.PASS, [], id="no-null-mx"),
        pytest.param(("0 .",), Status.PASS, [], id="null-mx-alone"),
        pytest.param(("0 .", "10 mx.example."), Status.FAIL, ["mx.null.mixed"], id="mixed"),
        pytest.param(("5 .",), Status.FAIL, ["mx.null.preference"], id="preference"),
    ],
)
def test_null_mx_alone(records: tuple[str, ...], expected: Status, codes: list[str]) -> None:
    verdict = mx.null_mx_alone(subject(D, answer(D, "MX", *records)))
    assert verdict.status is expected
    assert [f.code for f in verdict.findings] == codes


@pytest.mark.parametrize(
    ("domain", "result", "expected", "codes"),
    [
        pytest.param(D, answer(D, "MX", "10 mx.example."), Status.PASS, [], id="outside"),
        pytest.param(D, answer(D, "MX", "0 ."), Status.PASS, [], id="null-mx"),
        pytest.param(D, nxdomain(D, "MX"), Status.PASS, [], id="no-mx"),
        pytest.param(
            D,
            answer(D, "MX", "10 mail.dept.gsi.gov.uk.", "20 mx.example."),
            Status.FAIL,
            ["mx.gsi.exchange"],
            id="exchange-gsi",
        ),
        pytest.param(
            D, answer(D, "MX", "10 relay.GCSX.gov.uk."), Status.FAIL, ["mx.gsi.exchange"],
            id="exchange-gcsx-upper-case",
        ),
        pytest.param(
            D, answer(D, "MX", "10 notgsx.gov.uk."), Status.PASS, [], id="lookalike-label"
        ),
        pytest.param(
            "council.gsx.gov.uk",
            answer("council.gsx.gov.uk", "MX", "10 mx.gse.gov.uk."),
            Status.FAIL,
            ["mx.gsi.domain", "mx.gsi.exchange"],
            id="domain-and-exchange",
        ),
        pytest.param(D, failed(D, "MX"), Status.INCONCLUSIVE, [], id="mx-timeout"),
        pytest.param(
            "dept.gsi.gov.uk",
            failed("dept.gsi.gov.uk", "MX"),
            Status.FAIL,
            ["mx.gsi.domain"],
            id="domain-fails-without-mx",
        ),
    ],
)  # fmt: skip
def test_no_gsi_family(domain: str, result, expected: Status, codes: list[str]) -> None:
    verdict = mx.no_gsi_family(subject(domain, result))
    assert verdict.status is expected, verdict
    assert [f.code for f in verdict.findings] == codes


PROBE = f"{parked_probe_selector(D)}._domainkey.{D}"


@pytest.mark.parametrize(
    ("result", "expected", "code"),
    [
        pytest.param(txt(PROBE, "v=DKIM1; p="), Status.PASS, None, id="wildcard-revoked"),
        pytest.param(txt(PROBE, "v=DKIM1;p= "), Status.PASS, None, id="spacing"),
        pytest.param(nxdomain(PROBE, "TXT"), Status.FAIL, "park.dkim.no_wildcard", id="none"),
        pytest.param(
            txt(PROBE, "v=DKIM1; k=rsa; p=MIGfMA0"), Status.FAIL, "park.dkim.not_revoked", id="key"
        ),
        pytest.param(failed(PROBE, "TXT"), Status.INCONCLUSIVE, None, id="timeout"),
    ],
)
def test_wildcard_dkim_revoked(result, expected: Status, code: str | None) -> None:
    verdict = park.wildcard_dkim_revoked(subject(D, result))
    assert verdict.status is expected
    if code:
        assert verdict.findings[0].code == code


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param(answer(D, "MX", "0 ."), Status.PASS, id="null"),
        pytest.param(answer(D, "MX", "10 mx.example."), Status.FAIL, id="real-mx"),
        pytest.param(answer(D, "MX"), Status.FAIL, id="nodata"),
        pytest.param(failed(D, "MX"), Status.INCONCLUSIVE, id="timeout"),
    ],
)
def test_null_mx_published(result, expected: Status) -> None:
    assert park.null_mx_published(subject(D, result)).status is expected


def _ptr_subject(*extra) -> Subject:
    return subject(
        D,
        answer(MX1, "A", "192.0.2.1"),
        answer(MX1, "AAAA"),
        *extra,
        host=MX1,
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            [answer("1.2.0.192.in-addr.arpa", "PTR", f"{MX1}."), answer(MX1, "A", "192.0.2.1")],
            Status.PASS,
            id="fcrdns",
        ),
        pytest.param([nxdomain("1.2.0.192.in-addr.arpa", "PTR")], Status.FAIL, id="no-ptr"),
        pytest.param(
            [
                answer("1.2.0.192.in-addr.arpa", "PTR", "other.example."),
                answer("other.example", "A", "192.0.2.99"),
            ],
            Status.FAIL,
            id="ptr-does-not-resolve-back",
        ),
        pytest.param(
            [failed("1.2.0.192.in-addr.arpa", "PTR")], Status.INCONCLUSIVE, id="ptr-timeout"
        ),
    ],
)
def test_ptr_confirms_forward(extra: list, expected: Status) -> None:
    assert ptr.ptr_confirms_forward(_ptr_subject(*extra)).status is expected


@pytest.mark.parametrize(
    ("results", "roles", "facts"),
    [
        pytest.param(
            [answer(D, "MX", "10 mx.example."), txt(D, "v=spf1 include:x.example -all")],
            frozenset(),
            (True, True, False),
            id="ordinary",
        ),
        pytest.param(
            [answer(D, "MX", "0 ."), txt(D, "v=spf1 -all")],
            frozenset(),
            (False, False, True),
            id="parked-inferred",
        ),
        pytest.param(
            [answer(D, "MX"), answer(D, "A"), answer(D, "AAAA"), txt(D)],
            frozenset(),
            (False, False, False),
            id="nothing",
        ),
        pytest.param(
            [failed(D, "MX"), txt(D, "v=spf1 -all")],
            frozenset(),
            (None, False, None),
            id="mx-timeout",
        ),
        pytest.param(
            [answer(D, "MX", "10 mx.example."), txt(D)],
            frozenset(),
            (True, True, False),
            id="receiving-without-spf-still-sends",
        ),
        pytest.param(
            [answer(D, "MX", "10 mx.example."), txt(D, "v=spf1 -all")],
            frozenset(),
            (True, True, False),
            id="receiving-with-deny-all-spf-still-sends",
        ),
        pytest.param(
            [answer(D, "MX", "10 mx.example."), failed(D, "TXT")],
            frozenset(),
            (True, True, None),
            id="receiving-with-txt-timeout-still-sends",
        ),
        pytest.param(
            [answer(D, "MX", "10 mx.example."), txt(D)],
            frozenset({Role.RECEIVING}),
            (True, False, False),
            id="declared-receive-only",
        ),
        pytest.param(
            [answer(D, "MX"), answer(D, "A", "192.0.2.1"), answer(D, "AAAA"), txt(D)],
            frozenset(),
            (True, False, False),
            id="implicit-mx-alone-is-not-sending",
        ),
        pytest.param(
            [failed(D, "MX"), failed(D, "TXT")],
            frozenset({Role.PARKED, Role.RECEIVING}),
            (True, None, True),
            id="declared-wins",
        ),
    ],
)
def test_infer_roles(results: list, roles: frozenset[Role], facts: tuple) -> None:
    got = infer_roles(subject(D, *results, roles=roles))
    assert (got.receiving, got.sending, got.parked) == facts


def test_applicability_outcomes() -> None:
    parked = subject(D, answer(D, "MX", "0 ."), txt(D, "v=spf1 -all"))
    assert applicability(parked, {"all"}) is None
    assert applicability(parked, {"parked"}) is None
    na = applicability(parked, {"receiving"})
    assert na is not None and na.status is Status.NOT_APPLICABLE
    unknown = subject(D, failed(D, "MX"), txt(D, "v=spf1 -all"))
    verdict = applicability(unknown, {"receiving"})
    assert verdict is not None and verdict.status is Status.INCONCLUSIVE
    assert "timeout" in verdict.summary


@pytest.mark.parametrize(
    ("results", "gone"),
    [
        pytest.param([nxdomain(D, "MX"), nxdomain(D, "TXT")], True, id="nxdomain-everywhere"),
        pytest.param(
            [nxdomain(D, "MX"), nxdomain(D, "TXT"), answer(D, "A", "192.0.2.1")],
            False,
            id="one-noerror-answer",
        ),
        pytest.param([nxdomain(D, "MX"), failed(D, "TXT")], False, id="one-question-failed"),
        pytest.param([answer(D, "MX"), txt(D)], False, id="nodata-is-not-nxdomain"),
        pytest.param([nxdomain(f"_dmarc.{D}", "TXT")], False, id="only-names-below-asked"),
        pytest.param([], False, id="nothing-asked"),
    ],
)
def test_a_domain_does_not_exist_only_when_its_own_name_is_nxdomain(
    results: list, gone: bool
) -> None:
    found = nonexistence(subject(D, *results).dns, D)
    assert (found is not None) is gone


def test_a_domain_that_does_not_exist_is_inconclusive_with_its_cause() -> None:
    verdict = nonexistent_verdict(D, nxdomain(D, "MX"), "192.0.2.53:53")
    assert verdict.status is Status.INCONCLUSIVE
    assert verdict.summary == (
        f"domain does not exist: NXDOMAIN for {D} from resolver 192.0.2.53:53 (a typo, a lapsed "
        "name or a filtering resolver)"
    )
