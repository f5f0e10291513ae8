"""Judge table for DNSSEC-01: plain DnssecChain data, no network.

The chains are what the collector records (tests/test_collect_dnssec.py holds the collector to
the lab's signed, unsigned and bogus zones); here each combination of outcomes for the domain's
MX and DMARC answers maps to one verdict (RFC 4035 section 4.3's four states).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from factories import subject

from pytest_govmail.judge.dnssec import dnssec_validates
from pytest_govmail.model.dns import Query
from pytest_govmail.model.dnssec import DnssecChain, DnssecStep, Security
from pytest_govmail.model.verdict import Status

D = "example-dept.gov.uk"
MX, DMARC = Query.of(D, "MX"), Query.of(f"_dmarc.{D}", "TXT")
S, N, B, U = Security.SECURE, Security.INSECURE, Security.BOGUS, Security.INDETERMINATE


def chain(query: Query, result: Security, reason: str = "") -> DnssecChain:
    step = DnssecStep(D, "answer", query.key, result, reason or result.value)
    return DnssecChain(
        query.name, query.rdtype, result, reason or result.value, "anchor: .", (step,)
    )


@pytest.mark.parametrize(
    ("mx", "dmarc", "status", "code", "text"),
    [
        pytest.param(S, S, Status.PASS, None, "validate with DNSSEC", id="signed"),
        pytest.param(N, N, Status.FAIL, "dnssec.unsigned", "is not DNSSEC-signed", id="unsigned"),
        pytest.param(S, N, Status.FAIL, "dnssec.unsigned", "_dmarc", id="dmarc-unsigned"),
        pytest.param(B, S, Status.FAIL, "dnssec.bogus", "fails DNSSEC validation", id="bogus"),
        pytest.param(B, U, Status.FAIL, "dnssec.bogus", "expired", id="bogus-beats-unknown"),
        pytest.param(N, B, Status.FAIL, "dnssec.bogus", "expired", id="bogus-beats-unsigned"),
        pytest.param(U, S, Status.INCONCLUSIVE, None, "could not tell", id="lookup-failed"),
        pytest.param(S, None, Status.INCONCLUSIVE, None, "not validated", id="one-missing"),
        pytest.param(None, None, Status.INCONCLUSIVE, None, "not collected", id="old-evidence"),
    ],
)
def test_dnssec_01(
    mx: Security | None, dmarc: Security | None, status: Status, code: str | None, text: str
) -> None:
    chains = {}
    for query, result in ((MX, mx), (DMARC, dmarc)):
        if result is not None:
            why = "expired: the RRSIG ran out" if result is B else ""
            chains[query] = chain(query, result, why)
    verdict = dnssec_validates(replace(subject(D), dnssec=chains))
    assert verdict.status is status, verdict
    assert text in verdict.summary, verdict
    if code is not None:
        assert [f.code for f in verdict.findings][:1] == [code]
    assert set(verdict.evidence) == {MX.key, DMARC.key}
    if chains:
        assert any(label.startswith("DNSSEC ") for label, _ in verdict.details)


def test_bogus_names_every_rrset_that_failed() -> None:
    chains = {
        MX: chain(MX, B, "example-dept.gov.uk/MX: missing RRSIG"),
        DMARC: chain(DMARC, B, "_dmarc.example-dept.gov.uk/TXT: wrong key"),
    }
    verdict = dnssec_validates(replace(subject(D), dnssec=chains))
    assert [f.code for f in verdict.findings] == ["dnssec.bogus", "dnssec.bogus"]
    assert "missing RRSIG" in verdict.summary and "wrong key" in verdict.summary


def test_details_show_the_chain_bounded() -> None:
    steps = tuple(DnssecStep(D, "DS", f"{i}.{D}/DS", S, "ok") for i in range(20))
    long = DnssecChain(MX.name, MX.rdtype, S, "ok", "anchor: .", steps)
    verdict = dnssec_validates(replace(subject(D), dnssec={MX: long, DMARC: chain(DMARC, S)}))
    text = dict(verdict.details)[f"DNSSEC {MX.key}"]
    assert "12 more steps in the evidence" in text and text.count("\n") == 9
