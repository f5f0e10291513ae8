"""Judge tables for MTASTS-02..MTASTS-07: plain PolicyFetch and TlsScan data, no network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from factories import answer, failed, nxdomain, txt

from pytest_govmail.judge.mtasts import (
    mtasts_max_age,
    mtasts_mx_listed,
    mtasts_policy_enforced,
    mtasts_policy_served,
    mtasts_policy_valid,
    mtasts_safe_to_enforce,
)
from pytest_govmail.lab.https_server import policy_text
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.model.https import CertificateCheck, PolicyFetch
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import SmtpDialogue, TlsScan, TlsVersion, TrustCheck, VersionProbe
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan.mtasts import mtasts_policy_queries, policy_requests

D = "example-dept.gov.uk"
HOST = f"mta-sts.{D}"
URL = f"https://{HOST}/.well-known/mta-sts.txt"
STS = f"_mta-sts.{D}"
MX1 = f"mx1.{D}"
MX2 = f"mx2.{D}"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = policy_text("enforce", [MX1, MX2], 1209600)

Judge = Callable[[Subject], Verdict]
POLICY_JUDGES = [
    mtasts_policy_served,
    mtasts_policy_valid,
    mtasts_policy_enforced,
    mtasts_max_age,
    mtasts_mx_listed,
    mtasts_safe_to_enforce,
]


def fetch(body: str = POLICY, **changes: Any) -> PolicyFetch:
    """A compliant fetch of the policy, with ``changes`` applied."""
    base = PolicyFetch(
        domain=D,
        url=URL,
        host=HOST,
        port=443,
        addresses=("203.0.113.80",),
        address="203.0.113.80",
        attempts=("203.0.113.80: connected",),
        at="2026-06-01T12:00:00.000+00:00",
        elapsed_ms=42.0,
        tls_version="TLSv1.3",
        chain_pem=("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",),
        certificate=CertificateCheck(True, "", (HOST,), True, (TrustCheck("mozilla", True, ""),)),
        http_version="HTTP/1.1",
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/plain"), ("Content-Length", str(len(body)))),
        content_type="text/plain",
        body=body,
        body_bytes_read=len(body.encode()),
    )
    return replace(base, **changes)


BAD_NAME = CertificateCheck(
    False,
    "the certificate names www.example-dept.gov.uk, not mta-sts.example-dept.gov.uk",
    ("www.example-dept.gov.uk",),
    False,
    (TrustCheck("mozilla", False, "leaf certificate has no matching subjectAltName"),),
)

BASE_DNS = (
    txt(STS, "v=STSv1; id=20260601"),
    answer(HOST, "A", "203.0.113.80"),
    answer(HOST, "AAAA"),
    answer(D, "MX", f"10 {MX1}.", f"20 {MX2}."),
    answer(MX1, "A", "203.0.113.25"),
    answer(MX1, "AAAA"),
    answer(MX2, "A", "203.0.113.26"),
    answer(MX2, "AAAA"),
)


def dns(*changes: DnsResult, drop: Sequence[str] = ()) -> tuple[DnsResult, ...]:
    """BASE_DNS with answers replaced (same name and type) or dropped (``name/TYPE`` keys)."""
    given = {(r.name, r.rdtype): r for r in changes}
    kept = [
        given.pop((r.name, r.rdtype), r) for r in BASE_DNS if f"{r.name}/{r.rdtype}" not in drop
    ]
    return (*kept, *given.values())


# ------------------------------------------------------------------------------------------
# TLS evidence for MTASTS-07: a certificate per host, and a scan that passes TLS-02, CERT-01..03
# ------------------------------------------------------------------------------------------

_CA_KEY = ec.generate_private_key(ec.SECP256R1())
_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])


def leaf_pem(
    *names: str,
    not_before: datetime = NOW - timedelta(days=10),
    not_after: datetime = NOW + timedelta(days=80),
) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(_CA_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


_VERSIONS = (
    VersionProbe(TlsVersion.TLS_1_3, True),
    VersionProbe(TlsVersion.TLS_1_2, True),
    VersionProbe(TlsVersion.TLS_1_1, False),
    VersionProbe(TlsVersion.TLS_1_0, False),
)
_OLD_ONLY = (
    VersionProbe(TlsVersion.TLS_1_3, False),
    VersionProbe(TlsVersion.TLS_1_2, False),
    VersionProbe(TlsVersion.TLS_1_1, False),
    VersionProbe(TlsVersion.TLS_1_0, True),
)


def tls_scan(host: str, address: str, **changes: Any) -> TlsScan:
    base = TlsScan(
        host=host,
        address=address,
        port=25,
        smtp=SmtpDialogue(
            banner=f"220 {host} ESMTP",
            banner_code=220,
            ehlo=(host, "STARTTLS"),
            starttls_offered=True,
            starttls_reply="220 2.0.0 Ready to start TLS",
        ),
        versions=_VERSIONS,
        chain_pem=(leaf_pem(host),),
        trust=(TrustCheck("mozilla", True),),
    )
    return replace(base, **changes)


GOOD_TLS = {
    MX1: (tls_scan(MX1, "203.0.113.25"),),
    MX2: (tls_scan(MX2, "203.0.113.26"),),
}


def subject(
    policy: PolicyFetch | None = None,
    *,
    answers: Sequence[DnsResult] = BASE_DNS,
    tls: Mapping[str, tuple[TlsScan, ...]] | None = None,
    fetched: bool = True,
) -> Subject:
    policies = {D: policy if policy is not None else fetch()} if fetched else {}
    return Subject(
        Target(D),
        DnsSnapshot(answers),
        now=NOW,
        tls=GOOD_TLS if tls is None else tls,
        policies=policies,
    )


def judged(judge: Judge, subj: Subject) -> Verdict:
    verdict = judge(subj)
    for finding in verdict.findings:
        assert finding.code and finding.observed and finding.expected and finding.remediation
    for key in verdict.evidence:
        assert "/" in key and not key.startswith("http"), verdict.evidence
    return verdict


def check(verdict: Verdict, status: Status, codes: list[str] | None = None, text: str = "") -> None:
    assert verdict.status is status, verdict
    if codes is not None:
        assert [f.code for f in verdict.findings] == codes, verdict
    if text:
        shown = verdict.summary + " ".join(f.remediation for f in verdict.findings)
        assert text in shown, verdict


# ------------------------------------------------------------------------------------------
# No fetch in the evidence: the same answer for every policy requirement
# ------------------------------------------------------------------------------------------

_NO_FETCH = [
    pytest.param(
        dns(nxdomain(STS, "TXT")),
        Status.FAIL,
        ["mtasts.policy.no_record"],
        "MTASTS-01",
        id="no-record",
    ),
    pytest.param(
        dns(txt(STS, "v=spf1 -all")),
        Status.FAIL,
        ["mtasts.policy.no_record"],
        "",
        id="other-txt-only",
    ),
    pytest.param(dns(failed(STS, "TXT")), Status.INCONCLUSIVE, [], "timeout", id="txt-timeout"),
    pytest.param(
        dns(drop=[f"{STS}/TXT"]), Status.INCONCLUSIVE, [], "not collected", id="txt-not-collected"
    ),
    pytest.param(
        dns(nxdomain(HOST, "A"), nxdomain(HOST, "AAAA")),
        Status.FAIL,
        ["mtasts.policy.no_host"],
        "NXDOMAIN",
        id="policy-host-nxdomain",
    ),
    pytest.param(
        dns(answer(HOST, "A")),
        Status.FAIL,
        ["mtasts.policy.no_host"],
        "no A or AAAA",
        id="policy-host-no-address",
    ),
    pytest.param(
        dns(failed(HOST, "A", ErrorKind.SERVFAIL)),
        Status.INCONCLUSIVE,
        [],
        "servfail",
        id="policy-host-servfail",
    ),
    pytest.param(dns(), Status.INCONCLUSIVE, [], "not fetched in this run", id="not-fetched"),
]


@pytest.mark.parametrize("judge", POLICY_JUDGES)
@pytest.mark.parametrize(("answers", "status", "codes", "text"), _NO_FETCH)
def test_without_a_fetch(
    judge: Judge, answers: Sequence[DnsResult], status: Status, codes: list[str], text: str
) -> None:
    verdict = judged(judge, subject(answers=answers, fetched=False))
    check(verdict, status, codes)
    assert text in verdict.summary
    assert f"{STS}/TXT" in verdict.evidence


# ------------------------------------------------------------------------------------------
# MTASTS-02
# ------------------------------------------------------------------------------------------


def _error(kind: ErrorKind, detail: str = "lab") -> ProbeError:
    return ProbeError(kind, detail)


@pytest.mark.parametrize(
    ("policy", "status", "codes", "text"),
    [
        pytest.param(fetch(), Status.PASS, [], "HTTP 200 text/plain", id="good"),
        pytest.param(
            fetch(content_type="text/plain; charset=utf-8"), Status.PASS, [], "", id="charset"
        ),
        pytest.param(fetch(content_type="Text/Plain"), Status.PASS, [], "", id="type-case"),
        pytest.param(
            fetch("", status=301, reason="Moved", redirect_location="https://www.example/p"),
            Status.FAIL,
            ["mtasts.policy.redirect"],
            'to "https://www.example/p"',
            id="301",
        ),
        pytest.param(
            fetch("", status=302, redirect_location=URL),
            Status.FAIL,
            ["mtasts.policy.redirect"],
            "redirect loop",
            id="loop",
        ),
        pytest.param(
            fetch("", status=307),
            Status.FAIL,
            ["mtasts.policy.redirect"],
            "no Location",
            id="307-no-location",
        ),
        pytest.param(
            fetch("", status=404, reason="Not Found"),
            Status.FAIL,
            ["mtasts.policy.status"],
            'HTTP 404 "Not Found"',
            id="404",
        ),
        pytest.param(
            fetch(certificate=BAD_NAME),
            Status.FAIL,
            ["mtasts.policy.certificate"],
            "not mta-sts.example-dept.gov.uk",
            id="wrong-name",
        ),
        pytest.param(
            fetch(body_truncated=True, body_bytes_read=70000),
            Status.FAIL,
            ["mtasts.policy.too_large"],
            "over 65536 bytes",
            id="too-large",
        ),
        pytest.param(
            fetch(content_type="text/html"),
            Status.FAIL,
            ["mtasts.policy.content_type"],
            '"text/html"',
            id="html",
        ),
        pytest.param(
            fetch(content_type=None),
            Status.FAIL,
            ["mtasts.policy.content_type"],
            "no Content-Type",
            id="no-content-type",
        ),
        pytest.param(
            fetch(certificate=BAD_NAME, content_type="text/html"),
            Status.FAIL,
            ["mtasts.policy.certificate", "mtasts.policy.content_type"],
            "",
            id="several",
        ),
        pytest.param(
            fetch("", status=None, address=None, certificate=None, error=_error(ErrorKind.TIMEOUT)),
            Status.INCONCLUSIVE,
            [],
            "timeout",
            id="timeout",
        ),
        pytest.param(
            fetch("version: STS", error=_error(ErrorKind.TIMEOUT, "no end of body")),
            Status.INCONCLUSIVE,
            [],
            "no end of body",
            id="body-never-ends",
        ),
        pytest.param(
            fetch("", status=301, redirect_location="https://x/", error=_error(ErrorKind.TIMEOUT)),
            Status.FAIL,
            ["mtasts.policy.redirect"],
            "",
            id="status-decides-despite-a-later-timeout",
        ),
        pytest.param(
            fetch(
                "",
                status=None,
                address=None,
                certificate=None,
                error=_error(ErrorKind.PRIVATE_ADDRESS, "only non-public addresses"),
            ),
            Status.INCONCLUSIVE,
            [],
            "--govmail-allow-private",
            id="private-address",
        ),
        pytest.param(
            fetch("", status=None, certificate=None, error=_error(ErrorKind.CONNECTION_REFUSED)),
            Status.FAIL,
            ["mtasts.policy.connection_refused"],
            "",
            id="refused",
        ),
        pytest.param(
            fetch("", status=None, certificate=None, error=_error(ErrorKind.TLS_HANDSHAKE)),
            Status.FAIL,
            ["mtasts.policy.tls_handshake"],
            "",
            id="handshake",
        ),
        pytest.param(
            fetch("", certificate=BAD_NAME, error=_error(ErrorKind.TOO_LARGE, "headers")),
            Status.FAIL,
            ["mtasts.policy.too_large", "mtasts.policy.certificate"],
            "",
            id="endless-headers-and-bad-certificate",
        ),
        pytest.param(
            fetch("", status=None, error=_error(ErrorKind.PROTOCOL, "not HTTP")),
            Status.FAIL,
            ["mtasts.policy.protocol"],
            "not HTTP",
            id="protocol",
        ),
        pytest.param(
            fetch(certificate=None),
            Status.INCONCLUSIVE,
            [],
            "no certificate check",
            id="no-certificate-evidence",
        ),
        pytest.param(
            fetch("", status=None, error=_error(ErrorKind.OTHER, "odd")),
            Status.INCONCLUSIVE,
            [],
            "odd",
            id="other",
        ),
    ],
)
def test_mtasts_02(policy: PolicyFetch, status: Status, codes: list[str], text: str) -> None:
    verdict = judged(mtasts_policy_served, subject(policy))
    check(verdict, status, codes)
    shown = verdict.summary + " ".join(f.remediation for f in verdict.findings)
    assert text in shown, verdict
    assert verdict.evidence == (f"{STS}/TXT", f"{HOST}/A", f"{HOST}/AAAA")


def test_mtasts_02_details_hold_the_fetch_escaped_and_bounded() -> None:
    body = "version: STSv1\n\x1b[31mmode: enforce\u202e\n" + "x" * 10000
    verdict = mtasts_policy_served(subject(fetch(body)))
    details = dict(verdict.details)
    assert details["policy fetch"] == f"GET {URL} at 203.0.113.80: HTTP 200 OK"
    assert "\x1b" not in details["policy"] and "\\x1b[31m" in details["policy"]
    assert "\\u202e" in details["policy"] and "characters in all" in details["policy"]
    assert "Content-Type: text/plain" in details["response headers"]
    assert details["certificate"].startswith("verified")


# ------------------------------------------------------------------------------------------
# MTASTS-03..06
# ------------------------------------------------------------------------------------------

_UNUSABLE = [
    pytest.param(
        fetch("", status=404),
        Status.FAIL,
        ["mtasts.policy.unavailable"],
        "see MTASTS-02",
        id="404",
    ),
    pytest.param(
        fetch("", status=301, redirect_location="https://x/"),
        Status.FAIL,
        ["mtasts.policy.unavailable"],
        "see MTASTS-02",
        id="redirect",
    ),
    pytest.param(
        fetch(body_truncated=True),
        Status.FAIL,
        ["mtasts.policy.unavailable"],
        "see MTASTS-02",
        id="too-large",
    ),
    pytest.param(
        fetch("", status=None, error=_error(ErrorKind.TIMEOUT, "slow")),
        Status.INCONCLUSIVE,
        [],
        "no policy to judge",
        id="timeout",
    ),
    pytest.param(
        fetch("", status=None, error=_error(ErrorKind.TLS_HANDSHAKE, "alert")),
        Status.FAIL,
        ["mtasts.policy.tls_handshake"],
        "see MTASTS-02",
        id="handshake",
    ),
]


@pytest.mark.parametrize("judge", POLICY_JUDGES[1:])
@pytest.mark.parametrize(("policy", "status", "codes", "text"), _UNUSABLE)
def test_no_usable_policy(
    judge: Judge, policy: PolicyFetch, status: Status, codes: list[str], text: str
) -> None:
    verdict = judged(judge, subject(policy))
    check(verdict, status, codes)
    assert text in verdict.summary


_DISCARDED = [
    pytest.param(
        fetch(certificate=BAD_NAME), "certificate of mta-sts.example-dept.gov.uk", id="cert"
    ),
    pytest.param(
        fetch(content_type="text/html"), 'served as Content-Type "text/html"', id="media-type"
    ),
    pytest.param(fetch(content_type=None), "served with no Content-Type", id="no-media-type"),
    pytest.param(
        fetch(POLICY + "mode: testing\n", certificate=BAD_NAME, content_type="text/html"),
        "does not verify",
        id="both-and-invalid",
    ),
]


@pytest.mark.parametrize("judge", POLICY_JUDGES[1:5])
@pytest.mark.parametrize(("policy", "why"), _DISCARDED)
def test_a_discarded_policy_is_not_judged(judge: Judge, policy: PolicyFetch, why: str) -> None:
    """RFC 8461 section 3.3: senders discard a policy fetched over a certificate that does not
    verify, or (section 3.2) not served as text/plain, so MTASTS-03..06 do not apply."""
    verdict = judged(judge, subject(policy))
    check(verdict, Status.NOT_APPLICABLE, [])
    assert why in verdict.summary and "MTASTS-02" in verdict.summary


@pytest.mark.parametrize(("policy", "why"), _DISCARDED[:3])
def test_mtasts_02_fails_a_discarded_policy_and_07_still_judges_it(
    policy: PolicyFetch, why: str
) -> None:
    assert judged(mtasts_policy_served, subject(policy)).status is Status.FAIL
    assert judged(mtasts_safe_to_enforce, subject(policy)).status is Status.PASS


@pytest.mark.parametrize(
    ("policy", "status", "codes", "text"),
    [
        pytest.param(fetch(), Status.PASS, [], "mode enforce, max_age 1209600", id="good"),
        pytest.param(fetch(POLICY.replace("\n", "\r\n")), Status.PASS, [], "", id="crlf"),
        pytest.param(
            fetch(POLICY + "mode: testing\n"),
            Status.FAIL,
            ["mtasts.policy.syntax"],
            "second 'mode'",
            id="duplicate-mode",
        ),
        pytest.param(
            fetch(POLICY.replace("1209600", "99999999")),
            Status.FAIL,
            ["mtasts.policy.syntax"],
            "over the maximum",
            id="max-age-over-a-year",
        ),
        pytest.param(
            fetch("<html>oops</html>"),
            Status.FAIL,
            ["mtasts.policy.syntax"],
            "",
            id="html-page",
        ),
        pytest.param(
            fetch(POLICY + "x-note: caf\ufffd\n", body_utf8=False),
            Status.FAIL,
            ["mtasts.policy.encoding"],
            "not valid UTF-8",
            id="not-utf8",
        ),
    ],
)
def test_mtasts_03(policy: PolicyFetch, status: Status, codes: list[str], text: str) -> None:
    verdict = judged(mtasts_policy_valid, subject(policy))
    check(verdict, status, codes)
    assert text in verdict.summary


def test_mtasts_03_remediation_shows_a_valid_policy_for_the_mx_hosts() -> None:
    verdict = mtasts_policy_valid(subject(fetch("version: STSv1\n")))
    assert f"mx: {MX1}\\nmx: {MX2}\\nmax_age: 86400" in verdict.findings[0].remediation


@pytest.mark.parametrize(
    ("body", "status", "codes", "text"),
    [
        pytest.param(POLICY, Status.PASS, [], "mode: enforce", id="enforce"),
        pytest.param(
            policy_text("testing", [MX1, MX2], 86400),
            Status.FAIL,
            ["mtasts.mode.testing"],
            "stage",
            id="testing",
        ),
        pytest.param(
            policy_text("none", [], 86400), Status.FAIL, ["mtasts.mode.none"], "", id="none"
        ),
        pytest.param(
            "version: STSv1\nmode: enforce\n",
            Status.FAIL,
            ["mtasts.policy.invalid"],
            "see MTASTS-03",
            id="invalid",
        ),
    ],
)
def test_mtasts_04(body: str, status: Status, codes: list[str], text: str) -> None:
    check(judged(mtasts_policy_enforced, subject(fetch(body))), status, codes, text)


def test_mtasts_04_testing_names_the_next_stage() -> None:
    body = policy_text("testing", [MX1, MX2], 86400)
    finding = mtasts_policy_enforced(subject(fetch(body))).findings[0]
    assert "stage" in finding.observed and finding.remediation.startswith("Next stage")


@pytest.mark.parametrize(
    ("mode", "max_age", "status"),
    [
        ("enforce", 1209600, Status.PASS),
        ("enforce", 31557600, Status.PASS),
        ("enforce", 1209599, Status.FAIL),
        ("enforce", 86400, Status.FAIL),
        ("enforce", 0, Status.FAIL),
        ("testing", 86400, Status.PASS),
        ("testing", 86399, Status.FAIL),
        ("testing", 604800, Status.PASS),
        ("none", 0, Status.NOT_APPLICABLE),
    ],
)
def test_mtasts_05(mode: str, max_age: int, status: Status) -> None:
    body = policy_text(mode, [MX1, MX2] if mode != "none" else [], max_age)
    verdict = judged(mtasts_max_age, subject(fetch(body)))
    check(verdict, status, ["mtasts.max_age.short"] if status is Status.FAIL else [])


def test_mtasts_05_names_the_minimum() -> None:
    finding = mtasts_max_age(subject(fetch(policy_text("enforce", [MX1], 86400)))).findings[0]
    assert finding.observed == "max_age 86400 (1 day) in mode enforce"
    assert finding.expected == "max_age of at least 1209600 (14 days) in mode enforce"


@pytest.mark.parametrize(
    ("mx", "answers", "status", "codes", "text"),
    [
        pytest.param([MX1, MX2], BASE_DNS, Status.PASS, [], f"{MX1} by {MX1}", id="exact"),
        pytest.param([MX2.upper(), MX1], BASE_DNS, Status.PASS, [], "", id="case"),
        pytest.param([f"*.{D}"], BASE_DNS, Status.PASS, [], f"{MX2} by *.{D}", id="wildcard"),
        pytest.param([MX1], BASE_DNS, Status.FAIL, ["mtasts.mx.unlisted"], MX2, id="missing-host"),
        pytest.param(
            ["*.gov.uk"], BASE_DNS, Status.FAIL, ["mtasts.mx.unlisted"], "", id="wildcard-too-far"
        ),
        pytest.param(
            [MX1],
            dns(answer(D, "MX", f"10 {MX1}.")),
            Status.PASS,
            [],
            "",
            id="single-mx",
        ),
        pytest.param(
            [D],
            dns(answer(D, "MX"), answer(D, "A", "203.0.113.1"), answer(D, "AAAA")),
            Status.PASS,
            [],
            "",
            id="implicit-mx",
        ),
        pytest.param(
            [MX1], dns(answer(D, "MX", "0 .")), Status.NOT_APPLICABLE, [], "", id="null-mx"
        ),
        pytest.param(
            [MX1], dns(failed(D, "MX")), Status.INCONCLUSIVE, [], "timeout", id="mx-timeout"
        ),
        pytest.param(
            [MX1],
            dns(drop=[f"{D}/MX"]),
            Status.INCONCLUSIVE,
            [],
            "not collected",
            id="mx-not-collected",
        ),
    ],
)
def test_mtasts_06(
    mx: list[str], answers: Sequence[DnsResult], status: Status, codes: list[str], text: str
) -> None:
    body = policy_text("enforce", mx, 1209600)
    verdict = judged(mtasts_mx_listed, subject(fetch(body), answers=answers))
    check(verdict, status, codes)
    shown = verdict.summary + " ".join(f.remediation for f in verdict.findings)
    assert text in shown


def test_mtasts_06_suggests_the_missing_lines_and_is_not_applicable_to_none() -> None:
    finding = mtasts_mx_listed(subject(fetch(policy_text("testing", [MX1])))).findings[0]
    assert f"Add to the policy: mx: {MX2}" in finding.remediation
    none = mtasts_mx_listed(subject(fetch(policy_text("none", [], 86400))))
    assert none.status is Status.NOT_APPLICABLE


# ------------------------------------------------------------------------------------------
# MTASTS-07
# ------------------------------------------------------------------------------------------

EXPIRED = leaf_pem(MX1, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("tls", "mx", "status", "codes", "text"),
    [
        pytest.param(GOOD_TLS, [MX1, MX2], Status.PASS, [], "passes TLS-02", id="good"),
        pytest.param(
            {**GOOD_TLS, MX1: (tls_scan(MX1, "203.0.113.25", versions=_OLD_ONLY),)},
            [MX1, MX2],
            Status.FAIL,
            ["mtasts.mx.unsafe.tls-02"],
            f"{MX1} fails TLS-02",
            id="no-modern-tls",
        ),
        pytest.param(
            {
                **GOOD_TLS,
                MX2: (
                    tls_scan(
                        MX2, "203.0.113.26", trust=(TrustCheck("mozilla", False, "self-signed"),)
                    ),
                ),
            },
            [MX1, MX2],
            Status.FAIL,
            ["mtasts.mx.unsafe.cert-01"],
            f"{MX2} fails CERT-01",
            id="untrusted",
        ),
        pytest.param(
            {**GOOD_TLS, MX2: (tls_scan(MX2, "203.0.113.26", chain_pem=(leaf_pem(MX1),)),)},
            [MX1, MX2],
            Status.FAIL,
            ["mtasts.mx.unsafe.cert-02"],
            f"{MX2} fails CERT-02",
            id="wrong-name",
        ),
        pytest.param(
            {**GOOD_TLS, MX1: (tls_scan(MX1, "203.0.113.25", chain_pem=(EXPIRED,)),)},
            [MX1, MX2],
            Status.FAIL,
            ["mtasts.mx.unsafe.cert-03"],
            f"{MX1} fails CERT-03",
            id="expired",
        ),
        pytest.param(
            {MX1: GOOD_TLS[MX1]},
            [MX1, MX2],
            Status.INCONCLUSIVE,
            [],
            f"{MX2}: not probed in this run",
            id="host-not-probed",
        ),
        pytest.param(
            {
                **GOOD_TLS,
                MX2: (tls_scan(MX2, "203.0.113.26", error=_error(ErrorKind.TIMEOUT), smtp=None),),
            },
            [MX1, MX2],
            Status.INCONCLUSIVE,
            [],
            "see MX-04",
            id="host-timed-out",
        ),
        pytest.param(
            {MX1: GOOD_TLS[MX1], MX2: (tls_scan(MX2, "203.0.113.26", versions=_OLD_ONLY),)},
            [MX1],
            Status.PASS,
            [],
            f"({MX1})",
            id="unmatched-host-is-not-judged",
        ),
        pytest.param(
            GOOD_TLS,
            ["other.example.net"],
            Status.FAIL,
            ["mtasts.mx.none_matched"],
            "stop all mail",
            id="no-host-matched",
        ),
    ],
)
def test_mtasts_07(
    tls: Mapping[str, tuple[TlsScan, ...]],
    mx: list[str],
    status: Status,
    codes: list[str],
    text: str,
) -> None:
    body = policy_text("testing", mx, 86400)
    verdict = judged(mtasts_safe_to_enforce, subject(fetch(body), tls=tls))
    check(verdict, status, codes)
    shown = verdict.summary + " ".join(f.observed for f in verdict.findings)
    assert text in shown, verdict
    if status is not Status.FAIL or codes != ["mtasts.mx.none_matched"]:
        assert f"{MX1}/A" in verdict.evidence


def test_mtasts_07_is_not_applicable_to_none_and_advises_testing() -> None:
    none = mtasts_safe_to_enforce(subject(fetch(policy_text("none", [], 86400))))
    assert none.status is Status.NOT_APPLICABLE
    tls = {**GOOD_TLS, MX1: (tls_scan(MX1, "203.0.113.25", chain_pem=(EXPIRED,)),)}
    finding = mtasts_safe_to_enforce(subject(fetch(), tls=tls)).findings[0]
    assert "keep the policy in mode: testing" in finding.remediation
    assert dict(mtasts_safe_to_enforce(subject(fetch(), tls=tls)).details)["MX hosts"]


# ------------------------------------------------------------------------------------------
# The planner
# ------------------------------------------------------------------------------------------


def test_planner_asks_for_the_policy_host_only_once_a_record_is_announced() -> None:
    target = Target(D)
    first = {q.key for q in mtasts_policy_queries(target, DnsSnapshot())}
    assert {f"{STS}/TXT", f"{D}/MX"} <= first and f"{HOST}/A" not in first
    later = {q.key for q in mtasts_policy_queries(target, DnsSnapshot(BASE_DNS))}
    assert {f"{HOST}/A", f"{HOST}/AAAA", f"{MX1}/A", f"{MX2}/AAAA"} <= later
    without = DnsSnapshot(dns(nxdomain(STS, "TXT")))
    assert f"{HOST}/A" not in {q.key for q in mtasts_policy_queries(target, without)}


def test_policy_requests_use_the_runs_addresses() -> None:
    answers = dns(answer(HOST, "AAAA", "2001:db8::80"))
    other = Target("other-dept.gov.uk")
    assert policy_requests([Target(D), other, Target(D)], DnsSnapshot(answers)) == [
        (D, ("203.0.113.80", "2001:db8::80"))
    ]
    assert policy_requests([Target(D)], DnsSnapshot(dns(answer(HOST, "A")))) == []
