"""A suite list cut short (a connection failed half way) may fail a host, never pass it."""

from __future__ import annotations

import pytest
from factories import answer

from pytest_govmail.judge.tls import no_insecure_suites, tls12_suites_acceptable
from pytest_govmail.model.dns import DnsSnapshot
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import SmtpDialogue, TlsScan, TlsVersion, VersionProbe
from pytest_govmail.model.verdict import Status

HOST = "mx.example-dept.gov.uk"
GOOD = ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)
INSECURE = (*GOOD, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA")


def subject(tls12: VersionProbe) -> Subject:
    refused = [VersionProbe(v, False, "refused") for v in TlsVersion if v is not tls12.version]
    versions = (*refused, tls12)
    scan = TlsScan(
        HOST,
        "192.0.2.25",
        25,
        smtp=SmtpDialogue("220 hi", 220, ("STARTTLS",), True, "220 go"),
        versions=versions,
    )
    dns = DnsSnapshot(
        [
            answer("example-dept.gov.uk", "MX", f"10 {HOST}."),
            answer(HOST, "A", "192.0.2.25"),
            answer(HOST, "AAAA"),
        ]
    )
    return Subject(Target("example-dept.gov.uk"), dns, host=HOST, tls={HOST: (scan,)})


@pytest.mark.parametrize(
    ("suites", "complete", "expected"),
    [
        pytest.param(GOOD, True, Status.PASS, id="complete-clean"),
        pytest.param(GOOD, False, Status.INCONCLUSIVE, id="incomplete-clean-is-not-a-pass"),
        pytest.param(INSECURE, False, Status.FAIL, id="incomplete-but-already-insecure"),
    ],
)
def test_partial_suite_lists(suites: tuple[str, ...], complete: bool, expected: Status) -> None:
    probe = VersionProbe(
        TlsVersion.TLS_1_2,
        True,
        "" if complete else "enumeration incomplete: connection reset",
        suites,
        suites[0],
        suites_complete=complete,
    )
    assert no_insecure_suites(subject(probe)).status is expected
    assert tls12_suites_acceptable(subject(probe)).status is expected
