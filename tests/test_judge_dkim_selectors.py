"""DKIM-08 (a key per selector) and PARK-05 (a parked domain's old selectors revoked).

The shapes are the real set-ups: Microsoft 365's ``selector1``/``selector2`` CNAMEs to the
tenant's own keys at ``<selector>-<domain>._domainkey.<tenant>.onmicrosoft.com`` (Microsoft's
"Set up DKIM" page), Google Workspace's ``google`` TXT key, Mailchimp's ``k1``, Twilio
SendGrid's ``s1``/``s2``, G3's empty wildcard ``*._domainkey`` key, and the shortcuts that break
the one-key-per-service rule: a selector made a CNAME to another, one key pasted twice, and a
wildcard that holds a live key.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from factories import failed, nxdomain, subject
from test_judge_dkim import COMMON, commons, ed_record, key_txt, rsa_record

from pytest_govmail.judge.dkim import dkim_selector_per_service
from pytest_govmail.judge.park import parked_selectors_revoked
from pytest_govmail.model.dns import DnsResult, DnsSnapshot
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Role, Target
from pytest_govmail.model.verdict import Status, Verdict

D = "example-dept.gov.uk"
TENANT = "exampledept.onmicrosoft.com"
REVOKED = "v=DKIM1; p="


def via(result: DnsResult, *chain: str) -> DnsResult:
    """The answer reached through CNAMEs (the names the chain points to, in order)."""
    return replace(result, cname_chain=chain)


def m365(selector: str, n: int) -> DnsResult:
    target = f"{selector}-example-dept-gov-uk._domainkey.{TENANT}"
    return via(key_txt(selector, rsa_record(2048, n=n)), target)


def answers(*found: DnsResult) -> list[DnsResult]:
    """The common selectors: NXDOMAIN except those answered in ``found``."""
    names = {r.name for r in found}
    return [*found, *(r for r in commons() if r.name not in names)]


@pytest.mark.parametrize(
    ("results", "status", "text"),
    [
        pytest.param(
            answers(m365("selector1", 1), m365("selector2", 2)),
            Status.PASS,
            "2 selectors",
            id="microsoft-365-two-keys-by-cname",
        ),
        pytest.param(
            answers(key_txt("google", rsa_record(2048, n=3)), key_txt("k1", rsa_record(2048, n=4))),
            Status.PASS,
            "google, k1",
            id="google-and-mailchimp",
        ),
        pytest.param(
            answers(key_txt("s1", rsa_record(2048, n=5)), key_txt("s2", ed_record(1))),
            Status.PASS,
            "2 selectors",
            id="rsa-and-ed25519",
        ),
        pytest.param(
            answers(key_txt("google", rsa_record(2048, n=3))),
            Status.PASS,
            "one selector",
            id="one-key-passes-with-its-limits",
        ),
        pytest.param(
            answers(
                key_txt("selector1", rsa_record(2048, n=6)),
                via(key_txt("selector2", rsa_record(2048, n=6)), f"selector1._domainkey.{D}"),
            ),
            Status.FAIL,
            "via CNAME",
            id="selector2-cname-to-selector1",
        ),
        pytest.param(
            answers(key_txt("s1", rsa_record(2048, n=7)), key_txt("s2", rsa_record(2048, n=7))),
            Status.FAIL,
            "selectors s1, s2 publish the same rsa 2048-bit key",
            id="one-key-pasted-twice",
        ),
        pytest.param(
            [key_txt(s, rsa_record(2048, n=8)) for s in COMMON],
            Status.FAIL,
            "wildcard",
            id="wildcard-with-a-live-key",
        ),
        pytest.param(
            answers(
                key_txt("s1", REVOKED), key_txt("s2", REVOKED), key_txt("google", rsa_record())
            ),
            Status.PASS,
            "one selector",
            id="revoked-selectors-are-not-shared-keys",
        ),
        pytest.param(
            [
                *answers(key_txt("s1", rsa_record(2048, n=5)), key_txt("s2", ed_record(1))),
                failed(f"k1._domainkey.{D}", "TXT"),
            ],
            Status.INCONCLUSIVE,
            "all different",
            id="a-failed-lookup-could-hide-a-copy",
        ),
        pytest.param(
            [
                *answers(
                    key_txt("s1", rsa_record(2048, n=7)), key_txt("s2", rsa_record(2048, n=7))
                ),
                failed(f"k1._domainkey.{D}", "TXT"),
            ],
            Status.FAIL,
            "same",
            id="a-failed-lookup-does-not-hide-a-copy-found",
        ),
        pytest.param(commons(), Status.INCONCLUSIVE, "--govmail-dkim-selector", id="no-key"),
    ],
)
def test_dkim_08(results: list[DnsResult], status: Status, text: str) -> None:
    verdict = dkim_selector_per_service(subject(D, *results))
    assert verdict.status is status, verdict
    assert text in verdict.summary + " ".join(f.observed for f in verdict.findings)
    if status is Status.PASS:
        assert any(k == "limits" and "cannot be seen" in v for k, v in verdict.details)


def parked(*results: DnsResult, selectors: tuple[str, ...] = ()) -> Verdict:
    target = Target(D, roles=frozenset({Role.PARKED}), dkim_selectors=selectors)
    return parked_selectors_revoked(Subject(target, DnsSnapshot(results)))


WILDCARD_REVOKED = [key_txt(s, REVOKED) for s in COMMON]


@pytest.mark.parametrize(
    ("results", "selectors", "status", "text"),
    [
        pytest.param(WILDCARD_REVOKED, (), Status.PASS, "none of the 12", id="g3-wildcard"),
        pytest.param(commons(), (), Status.PASS, "none of the 12", id="no-records-at-all"),
        pytest.param(
            [*WILDCARD_REVOKED, key_txt("s2019", REVOKED)],
            ("s2019",),
            Status.PASS,
            "none of the 13",
            id="old-selector-given-and-revoked",
        ),
        pytest.param(
            [m365("selector1", 1), *WILDCARD_REVOKED[1:]],
            (),
            Status.FAIL,
            f'is a CNAME ("selector1-example-dept-gov-uk._domainkey.{TENANT}"), which holds a live',
            id="microsoft-365-cname-left-behind",
        ),
        pytest.param(
            [
                via(
                    nxdomain(f"selector2._domainkey.{D}", "TXT"), f"selector2-x._domainkey.{TENANT}"
                ),
                *WILDCARD_REVOKED[:1],
                *WILDCARD_REVOKED[2:],
            ],
            (),
            Status.FAIL,
            "is a CNAME",
            id="dangling-cname-to-a-removed-tenant",
        ),
        pytest.param(
            [
                key_txt("google", rsa_record(2048, n=3)),
                *WILDCARD_REVOKED[:2],
                *WILDCARD_REVOKED[3:],
            ],
            (),
            Status.FAIL,
            "holds a live key",
            id="google-key-left-behind",
        ),
        pytest.param(
            [key_txt("s2019", rsa_record(1024, n=2)), *WILDCARD_REVOKED],
            ("s2019",),
            Status.FAIL,
            "s2019._domainkey",
            id="old-selector-given-still-live",
        ),
        pytest.param(
            [failed(f"k1._domainkey.{D}", "TXT"), *WILDCARD_REVOKED[:6], *WILDCARD_REVOKED[7:]],
            (),
            Status.INCONCLUSIVE,
            "1 selector lookup",
            id="lookup-failed",
        ),
        pytest.param(
            [
                failed(f"k1._domainkey.{D}", "TXT"),
                key_txt("google", rsa_record(2048, n=3)),
                *WILDCARD_REVOKED[:2],
                *WILDCARD_REVOKED[3:6],
                *WILDCARD_REVOKED[7:],
            ],
            (),
            Status.FAIL,
            "live key",
            id="lookup-failed-but-a-live-key-found",
        ),
    ],
)
def test_park_05(
    results: list[DnsResult], selectors: tuple[str, ...], status: Status, text: str
) -> None:
    verdict = parked(*results, selectors=selectors)
    assert verdict.status is status, verdict
    assert text in verdict.summary, verdict.summary
    tried = dict(verdict.details)["selectors tried (source: answer)"]
    assert tried.count("\n") + 1 == len(COMMON) + len(selectors)
