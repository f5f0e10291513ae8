"""Judge tables for MX-04, TLS-01..TLS-10 and DANE-01: plain TlsScan data, no network.

The factories here (scans, subjects, and a small PKI made with ``cryptography``) are shared with
``test_judge_cert.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID
from factories import answer, failed, nxdomain
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_govmail.inputs.tls_profile import TlsProfile, load_profile, parse_profile
from pytest_govmail.judge import tls
from pytest_govmail.judge.suites import describe_tls12_suites
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError, Query
from pytest_govmail.model.dnssec import DnssecChain, DnssecStep, Security
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import (
    KeyExchange,
    SmtpDialogue,
    TlsScan,
    TlsVersion,
    TrustCheck,
    VersionProbe,
)
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan.dane import dane_queries
from pytest_govmail.records.tlsa import Tlsa, parse_tlsa

D = "example-dept.gov.uk"
H = "mx1.example-dept.gov.uk"
V4 = "192.0.2.25"
V6 = "2001:db8::25"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

AES256 = "TLS_AES_256_GCM_SHA384"
AES128 = "TLS_AES_128_GCM_SHA256"
CHACHA13 = "TLS_CHACHA20_POLY1305_SHA256"
ECDHE_GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_GCM256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
ECDHE_CBC_SHA256 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
STATIC_RSA = "TLS_RSA_WITH_AES_128_GCM_SHA256"
TRIPLE_DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
RC4 = "TLS_RSA_WITH_RC4_128_SHA"

# ------------------------------------------------------------------------------------------
# A small PKI: root -> intermediate -> leaf for H, EC P-256 keys unless a test asks otherwise
# ------------------------------------------------------------------------------------------

Key = CertificateIssuerPrivateKeyTypes


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    cn: str,
    key: Any,
    *,
    issuer: tuple[x509.Certificate, Key] | None = None,
    sans: Sequence[str] | None = (H,),
    ca: bool = False,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=90),
) -> x509.Certificate:
    """A certificate for ``key``'s public half, signed by ``issuer`` (self-signed if None)."""
    issuer_name = issuer[0].subject if issuer else name(cn)
    signer: Any = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    ed = isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    algorithm = None if ed else hashes.SHA256()
    return builder.sign(signer, algorithm)


def pem(*certs: x509.Certificate) -> tuple[str, ...]:
    return tuple(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


ROOT_KEY = ec_key()
ROOT = make_cert("Test Root CA", ROOT_KEY, sans=None, ca=True, not_after=NOW + timedelta(3650))
INTER_KEY = ec_key()
INTER = make_cert("Test Issuing CA", INTER_KEY, issuer=(ROOT, ROOT_KEY), sans=None, ca=True)
LEAF_KEY = ec_key()
LEAF = make_cert(H, LEAF_KEY, issuer=(INTER, INTER_KEY))
OTHER_KEY = ec_key()
OTHER_LEAF = make_cert(H, OTHER_KEY, issuer=(INTER, INTER_KEY))
GOOD_CHAIN = pem(LEAF, INTER)

# ------------------------------------------------------------------------------------------
# Scans and subjects
# ------------------------------------------------------------------------------------------


def vp(
    version: TlsVersion,
    accepted: bool | None = False,
    suites: Sequence[str] = (),
    preferred: str | None = None,
    detail: str = "",
) -> VersionProbe:
    return VersionProbe(version, accepted, detail, tuple(suites), preferred)


GOOD_VERSIONS = (
    vp(TlsVersion.TLS_1_3, True, (AES256, AES128, CHACHA13), AES256),
    vp(TlsVersion.TLS_1_2, True, (ECDHE_GCM256, ECDHE_GCM, ECDHE_CBC_SHA256), ECDHE_GCM256),
    vp(TlsVersion.TLS_1_1),
    vp(TlsVersion.TLS_1_0),
    vp(TlsVersion.SSL_3_0),
    vp(TlsVersion.SSL_2_0),
)
GOOD_SMTP = SmtpDialogue(
    banner="220 mx1.example-dept.gov.uk ESMTP",
    banner_code=220,
    ehlo=("mx1.example-dept.gov.uk", "PIPELINING", "SIZE 52428800", "STARTTLS", "8BITMIME"),
    starttls_offered=True,
    starttls_reply="220 2.0.0 Ready to start TLS",
)


def scan(address: str = V4, **changes: Any) -> TlsScan:
    """A compliant scan of ``address`` with ``changes`` applied."""
    base = TlsScan(
        host=H,
        address=address,
        port=25,
        connections=3,
        handshakes=9,
        smtp=GOOD_SMTP,
        versions=GOOD_VERSIONS,
        key_exchange=KeyExchange("ECDHE", "X25519"),
        compression=False,
        secure_renegotiation=True,
        client_renegotiation=False,
        chain_pem=GOOD_CHAIN,
        trust=(TrustCheck("mozilla", True),),
        profile="ncsc@2026.1",
    )
    return replace(base, **changes)


def versions(*probes: VersionProbe, drop: Sequence[TlsVersion] = ()) -> tuple[VersionProbe, ...]:
    """GOOD_VERSIONS with the given probes replacing those of the same version."""
    given_ = {p.version: p for p in probes}
    return tuple(given_.get(p.version, p) for p in GOOD_VERSIONS if p.version not in drop)


def smtp(**changes: Any) -> SmtpDialogue:
    return replace(GOOD_SMTP, **changes)


def error(kind: ErrorKind, detail: str = "lab") -> ProbeError:
    return ProbeError(kind, detail)


def subject(
    *scans: TlsScan,
    dns: Sequence[DnsResult] = (),
    profile: TlsProfile | None = None,
    expiry_days: int | None = None,
    now: datetime | None = NOW,
    host: str = H,
    probed: bool = True,
) -> Subject:
    return Subject(
        Target(D),
        DnsSnapshot(dns),
        host=host,
        now=now,
        tls_profile=profile or load_profile(),
        cert_expiry_days=expiry_days,
        tls={host: scans} if probed else {},
    )


Judge = Callable[[Subject], Verdict]


def check(verdict: Verdict, status: Status, code: str | None = None, text: str = "") -> None:
    assert verdict.status is status, verdict
    if code is not None:
        assert code in [f.code for f in verdict.findings], verdict
    if text:
        assert text in verdict.summary, verdict
    assert "could not be judged" not in verdict.summary, verdict


# ------------------------------------------------------------------------------------------
# MX-04
# ------------------------------------------------------------------------------------------

P, F, U, N = Status.PASS, Status.FAIL, Status.INCONCLUSIVE, Status.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("changes", "status", "code", "text"),
    [
        pytest.param({}, P, None, "greets with", id="220"),
        pytest.param(
            {"smtp": smtp(banner="421 4.7.0 try later", banner_code=421)},
            U,
            None,
            "throttled",
            id="421",
        ),
        pytest.param(
            {"smtp": smtp(banner="450 busy", banner_code=450)}, U, None, "temporarily", id="450"
        ),
        pytest.param(
            {"smtp": smtp(banner="554 5.7.1 no service", banner_code=554)},
            F,
            "mx.banner.refused",
            "554 5.7.1",
            id="554",
        ),
        pytest.param(
            {"smtp": smtp(banner="521 no mail here", banner_code=521)},
            F,
            "mx.banner.refused",
            None,
            id="521",
        ),
        pytest.param(
            {"smtp": smtp(banner="250 hello", banner_code=250)},
            F,
            "mx.banner.unexpected",
            None,
            id="250-greeting",
        ),
        pytest.param(
            {"smtp": None, "error": error(ErrorKind.CONNECTION_REFUSED, "RST")},
            F,
            "mx.port25.refused",
            "refused the connection",
            id="connection-refused",
        ),
        pytest.param(
            {"smtp": None, "error": error(ErrorKind.TIMEOUT, "connect timed out after 10s")},
            U,
            None,
            "often blocked",
            id="connect-timeout",
        ),
        # No greeting proves nothing about the host (postscreen's pregreet wait, a tarpit aimed
        # at the tester): could not tell, never a failure (issue 19).
        pytest.param(
            {"smtp": SmtpDialogue(), "error": error(ErrorKind.TIMEOUT, "no greeting in 30s")},
            U,
            None,
            "could not tell",
            id="connected-no-banner",
        ),
        pytest.param(
            {
                "smtp": SmtpDialogue(),
                "error": error(
                    ErrorKind.TIMEOUT,
                    "greeting begun but not complete within 30 s of its first line "
                    "(24 bytes received: b'220-mx.example.gov.uk\\r\\n')",
                ),
            },
            U,
            None,
            "greeting begun but not complete",
            id="greeting-begun-never-completed",
        ),
        pytest.param(
            {"smtp": SmtpDialogue(), "error": error(ErrorKind.PROTOCOL, "closed")},
            U,
            None,
            "no complete SMTP greeting",
            id="connected-then-closed",
        ),
        pytest.param(
            {
                "smtp": SmtpDialogue(banner="HTTP/1.1 400 Bad Request"),
                "error": error(ErrorKind.PROTOCOL, "not SMTP"),
            },
            F,
            "mx.banner.unexpected",
            "HTTP/1.1 400",
            id="not-smtp",
        ),
        pytest.param(
            {"smtp": None, "error": error(ErrorKind.THROTTLED, "421 three times")},
            U,
            None,
            "throttled",
            id="throttled-error",
        ),
        pytest.param(
            {"smtp": None, "error": error(ErrorKind.PRIVATE_ADDRESS, "")},
            U,
            None,
            "--govmail-allow-private",
            id="private-address",
        ),
        pytest.param({"smtp": None}, U, None, "no SMTP greeting recorded", id="no-evidence"),
        pytest.param(
            {"smtp": None, "error": error(ErrorKind.OTHER, "boom")},
            U,
            None,
            "probe failed",
            id="other-error",
        ),
    ],
)
def test_mx04(changes: dict[str, Any], status: Status, code: str | None, text: str | None) -> None:
    verdict = tls.answers_smtp(subject(scan(**changes)))
    check(verdict, status, code, text or "")
    if status is F:
        assert all(f.observed.startswith(f"{V4}: ") for f in verdict.findings)


def test_mx04_hostile_banner_is_escaped_and_bounded() -> None:
    banner = "220 \x1b[31mevil\u202e" + "x" * 5000
    verdict = tls.answers_smtp(subject(scan(smtp=smtp(banner=banner))))
    check(verdict, P)
    assert "\x1b" not in verdict.summary and "\\x1b" in verdict.summary
    assert "\\u202e" in verdict.summary
    assert len(verdict.summary) < 600


# ------------------------------------------------------------------------------------------
# TLS-01
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status", "code", "text"),
    [
        pytest.param({}, P, None, "TLS 1.3, TLS 1.2", id="completes"),
        pytest.param(
            {"smtp": smtp(starttls_offered=False, ehlo=("mx1", "PIPELINING"), starttls_reply=None)},
            F,
            "tls.starttls.not_offered",
            "PIPELINING",
            id="not-offered",
        ),
        pytest.param(
            {"smtp": smtp(starttls_offered=None), "error": error(ErrorKind.TIMEOUT, "EHLO")},
            U,
            None,
            "EHLO exchange did not complete",
            id="ehlo-unknown",
        ),
        pytest.param(
            {"smtp": smtp(starttls_reply="454 4.7.0 TLS not available")},
            F,
            "tls.starttls.refused",
            "454 4.7.0",
            id="starttls-454",
        ),
        pytest.param(
            {"smtp": smtp(starttls_reply="421 too busy")},
            U,
            None,
            "throttled",
            id="starttls-421",
        ),
        pytest.param(
            {"versions": tuple(replace(p, accepted=False) for p in GOOD_VERSIONS)},
            F,
            "tls.handshake.failed",
            "no TLS handshake completes",
            id="every-version-refused",
        ),
        pytest.param(
            {
                "versions": tuple(
                    replace(p, accepted=None if p.version is TlsVersion.TLS_1_3 else False)
                    for p in GOOD_VERSIONS
                )
            },
            U,
            None,
            "handshake outcome unknown",
            id="some-unknown",
        ),
        pytest.param(
            {"versions": (), "error": error(ErrorKind.TLS_HANDSHAKE, "alert 40")},
            F,
            "tls.handshake.failed",
            "alert 40",
            id="handshake-error",
        ),
        pytest.param({"versions": ()}, U, None, "no TLS handshake recorded", id="no-handshake"),
        pytest.param(
            {"versions": (), "error": error(ErrorKind.TIMEOUT, "read")},
            U,
            None,
            "could not be tried",
            id="timeout-before-handshake",
        ),
        pytest.param(
            {"smtp": smtp(banner="554 go away", banner_code=554)},
            U,
            None,
            "see MX-04",
            id="banner-554",
        ),
        pytest.param(
            {
                "versions": versions(
                    vp(TlsVersion.TLS_1_3), vp(TlsVersion.TLS_1_2), vp(TlsVersion.SSL_3_0, True)
                )
            },
            P,
            None,
            "SSL 3.0",
            id="only-sslv3-completes",
        ),
    ],
)
def test_tls01(changes: dict[str, Any], status: Status, code: str | None, text: str) -> None:
    check(tls.starttls_completes(subject(scan(**changes))), status, code, text)


# ------------------------------------------------------------------------------------------
# TLS-02, TLS-03, TLS-04, TLS-08: versions
# ------------------------------------------------------------------------------------------

T13, T12, T11, T10, S3, S2 = (
    TlsVersion.TLS_1_3,
    TlsVersion.TLS_1_2,
    TlsVersion.TLS_1_1,
    TlsVersion.TLS_1_0,
    TlsVersion.SSL_3_0,
    TlsVersion.SSL_2_0,
)
NO_STARTTLS = {"smtp": smtp(starttls_offered=False, starttls_reply=None)}


@pytest.mark.parametrize(
    ("judge", "changes", "status", "code", "text"),
    [
        pytest.param(tls.modern_tls_negotiated, {}, P, None, "TLS 1.3 and TLS 1.2", id="02-both"),
        pytest.param(
            tls.modern_tls_negotiated,
            {"versions": versions(vp(T13))},
            P,
            None,
            "TLS 1.2 accepted",
            id="02-tls12-only",
        ),
        pytest.param(
            tls.modern_tls_negotiated,
            {"versions": versions(vp(T12))},
            P,
            None,
            "TLS 1.3 accepted",
            id="02-tls13-only",
        ),
        pytest.param(
            tls.modern_tls_negotiated,
            {"versions": versions(vp(T13), vp(T12), vp(T10, True, [STATIC_RSA], STATIC_RSA))},
            F,
            "tls.version.no_modern",
            "accepted: TLS 1.0",
            id="02-only-tls10",
        ),
        pytest.param(
            tls.modern_tls_negotiated,
            {"versions": versions(vp(T13, None, detail="reset"), vp(T12), vp(T10, True))},
            U,
            None,
            "reset",
            id="02-tls13-unknown",
        ),
        pytest.param(
            tls.modern_tls_negotiated,
            {"versions": versions(vp(T13), vp(T10, True), drop=[T12])},
            U,
            None,
            "TLS 1.2: not probed",
            id="02-tls12-not-probed",
        ),
        pytest.param(
            tls.modern_tls_negotiated, NO_STARTTLS, N, None, "TLS-01 fails", id="02-no-starttls"
        ),
        pytest.param(tls.ssl_refused, {}, P, None, "SSL 2.0 and SSL 3.0 refused", id="03-pass"),
        pytest.param(
            tls.ssl_refused,
            {"versions": versions(vp(S3, True, [RC4], RC4))},
            F,
            "tls.version.ssl",
            "SSL 3.0 accepted",
            id="03-sslv3",
        ),
        pytest.param(
            tls.ssl_refused,
            {"versions": versions(vp(S2, None, detail="odd reply"))},
            U,
            None,
            "odd reply",
            id="03-sslv2-unknown",
        ),
        pytest.param(
            tls.ssl_refused,
            {"versions": versions(drop=[S2])},
            U,
            None,
            "SSL 2.0: not probed",
            id="03-sslv2-not-probed",
        ),
        pytest.param(tls.ssl_refused, NO_STARTTLS, N, None, "TLS-01 fails", id="03-no-starttls"),
        pytest.param(tls.old_tls_refused, {}, P, None, "TLS 1.0 and TLS 1.1 refused", id="04"),
        pytest.param(
            tls.old_tls_refused,
            {"versions": versions(vp(T10, True, [ECDHE_GCM]))},
            F,
            "tls.version.old",
            "TLS 1.0 accepted",
            id="04-tls10",
        ),
        pytest.param(
            tls.old_tls_refused,
            {"versions": versions(vp(T10, True), vp(T11, True))},
            F,
            "tls.version.old",
            "TLS 1.0 and TLS 1.1 accepted",
            id="04-both",
        ),
        pytest.param(
            tls.old_tls_refused,
            {"versions": versions(vp(T11, None))},
            U,
            None,
            "TLS 1.1: outcome unknown",
            id="04-unknown",
        ),
        pytest.param(tls.tls13_supported, {}, P, None, "TLS 1.3 accepted", id="08"),
        pytest.param(
            tls.tls13_supported,
            {"versions": versions(vp(T13))},
            F,
            "tls.version.no_tls13",
            "TLS 1.3 refused",
            id="08-refused",
        ),
        pytest.param(
            tls.tls13_supported,
            {"versions": versions(drop=[T13])},
            U,
            None,
            "not probed",
            id="08-not-probed",
        ),
        pytest.param(tls.tls13_supported, NO_STARTTLS, N, None, "TLS-01 fails", id="08-no-tls"),
    ],
)
def test_versions(
    judge: Judge, changes: dict[str, Any], status: Status, code: str | None, text: str
) -> None:
    check(judge(subject(scan(**changes))), status, code, text)


# ------------------------------------------------------------------------------------------
# TLS-05, TLS-06, TLS-07: suites
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("judge", "changes", "status", "code", "text"),
    [
        pytest.param(
            tls.preferred_suite_recommended,
            {},
            P,
            None,
            f"at TLS 1.3 the server picks {AES256} (recommended)",
            id="05-tls13-aes",
        ),
        pytest.param(
            tls.preferred_suite_recommended,
            {"versions": versions(vp(T13, True, [CHACHA13, AES128], CHACHA13))},
            F,
            "tls.suite.preferred",
            f"picks {CHACHA13} (acceptable)",
            id="05-tls13-chacha",
        ),
        pytest.param(
            tls.preferred_suite_recommended,
            {"versions": versions(vp(T13))},
            P,
            None,
            f"at TLS 1.2 the server picks {ECDHE_GCM256}",
            id="05-tls12-server",
        ),
        pytest.param(
            tls.preferred_suite_recommended,
            {"versions": versions(vp(T13), vp(T12, True, [STATIC_RSA, ECDHE_GCM], STATIC_RSA))},
            F,
            "tls.suite.preferred",
            f"picks {STATIC_RSA} (weak)",
            id="05-tls12-static-rsa",
        ),
        pytest.param(
            tls.preferred_suite_recommended,
            {"versions": versions(vp(T13, True, [AES256], None))},
            U,
            None,
            "choice at TLS 1.3 was not recorded",
            id="05-not-recorded",
        ),
        pytest.param(
            tls.preferred_suite_recommended,
            {"versions": versions(vp(T13, None))},
            U,
            None,
            "highest version",
            id="05-tls13-unknown",
        ),
        pytest.param(
            tls.no_insecure_suites, {}, P, None, "no insecure suite accepted", id="06-pass"
        ),
        pytest.param(
            tls.no_insecure_suites,
            {"versions": versions(vp(T10, True, [ECDHE_GCM, RC4], ECDHE_GCM))},
            F,
            "tls.suite.insecure",
            f"TLS 1.0: {RC4}",
            id="06-rc4-at-tls10",
        ),
        pytest.param(
            tls.no_insecure_suites,
            {"versions": versions(vp(S2, True, ["SSL_CK_RC4_128_WITH_MD5"]), vp(S3, None))},
            F,
            "tls.suite.insecure",
            "SSL 2.0: SSL_CK_RC4_128_WITH_MD5",
            id="06-sslv2-md5-despite-unknown",
        ),
        pytest.param(
            tls.no_insecure_suites,
            {"versions": versions(vp(T12, True, ["TLS_DH_anon_WITH_AES_128_CBC_SHA"]))},
            F,
            "tls.suite.insecure",
            "anon",
            id="06-anon",
        ),
        pytest.param(
            tls.no_insecure_suites,
            {"versions": versions(vp(T10, True))},
            U,
            None,
            "TLS 1.0: accepted suites not recorded",
            id="06-not-enumerated",
        ),
        pytest.param(
            tls.no_insecure_suites,
            {"versions": versions(vp(S3, None, detail="reset"))},
            U,
            None,
            "SSL 3.0",
            id="06-unknown-version",
        ),
        # Issue 19: a refusal of what the probe could offer is no refusal of what it could not.
        pytest.param(
            tls.no_insecure_suites,
            {
                "versions": versions(
                    dataclasses.replace(
                        vp(T12, False, detail="the probe could not offer 2 suite(s): X, Y"),
                        suites_complete=False,
                    )
                )
            },
            U,
            None,
            "TLS 1.2: suite list incomplete (the probe could not offer 2 suite(s)",
            id="06-refused-but-not-all-offered",
        ),
        pytest.param(
            tls.tls12_suites_acceptable, {}, P, None, "all 3 TLS 1.2 suite(s)", id="07-pass"
        ),
        pytest.param(
            tls.tls12_suites_acceptable,
            {"versions": versions(vp(T12, True, [ECDHE_GCM, TRIPLE_DES, STATIC_RSA], ECDHE_GCM))},
            F,
            "tls.suite.weak",
            f"{TRIPLE_DES} (weak), {STATIC_RSA} (weak)",
            id="07-3des-static-rsa",
        ),
        pytest.param(
            tls.tls12_suites_acceptable,
            {"versions": versions(vp(T12, True, [ECDHE_GCM, RC4]))},
            F,
            "tls.suite.weak",
            f"{RC4} (insecure)",
            id="07-insecure-too",
        ),
        pytest.param(
            tls.tls12_suites_acceptable,
            {"versions": versions(vp(T12))},
            P,
            None,
            "TLS 1.2 refused",
            id="07-tls13-only",
        ),
        pytest.param(
            tls.tls12_suites_acceptable,
            {"versions": versions(vp(T12, None))},
            U,
            None,
            "TLS 1.2",
            id="07-unknown",
        ),
        pytest.param(
            tls.tls12_suites_acceptable,
            {"versions": versions(vp(T12, True))},
            U,
            None,
            "not recorded",
            id="07-not-enumerated",
        ),
    ],
)
def test_suites(
    judge: Judge, changes: dict[str, Any], status: Status, code: str | None, text: str
) -> None:
    verdict = judge(subject(scan(**changes)))
    check(verdict, status, code, text)
    assert ("TLS profile", "ncsc@2026.1") in verdict.details


def test_long_suite_lists_are_bounded() -> None:
    many = [f"TLS_RSA_WITH_MADE_UP_{n}_SHA" for n in range(200)]
    verdict = tls.tls12_suites_acceptable(subject(scan(versions=versions(vp(T12, True, many)))))
    check(verdict, F, "tls.suite.weak", "and 188 more")
    assert len(verdict.summary) < 1500


def test_user_profile_changes_the_classes() -> None:
    source = Path(tls.__file__).parent.parent / "inputs" / "tls_profile.toml"
    custom = source.read_text(encoding="utf-8")
    custom = custom.replace('name = "ncsc"', 'name = "mobile-first"')
    custom = custom.replace('    "TLS_CHACHA20_POLY1305_SHA256",\n', "")
    custom = custom.replace(
        '    "TLS_AES_128_GCM_SHA256",\n',
        '    "TLS_AES_128_GCM_SHA256",\n    "' + CHACHA13 + '",\n',
    )
    chacha = scan(versions=versions(vp(T13, True, [CHACHA13], CHACHA13)))
    verdict = tls.preferred_suite_recommended(
        subject(chacha, profile=parse_profile(custom, "profile.toml"))
    )
    check(verdict, P, None, "(recommended)")
    details = dict(verdict.details)
    assert details["TLS profile"].startswith("mobile-first@2026.1 (the evidence was collected")
    assert '"ncsc@2026.1"' in details["TLS profile"]


def test_tls07_expected_text_comes_from_the_packaged_profile() -> None:
    weak = scan(versions=versions(vp(T12, True, ["TLS_RSA_WITH_AES_128_CBC_SHA"])))
    verdict = tls.tls12_suites_acceptable(subject(weak))
    check(verdict, F, "tls.suite.weak")
    expected = verdict.findings[0].expected
    # The packaged profile accepts ChaCha20-Poly1305 with ECDHE only: DHE with it is weak.
    assert expected == (
        "every TLS 1.2 suite recommended or acceptable (ECDHE with AES-GCM, AES-CBC with SHA-2 "
        "or ChaCha20-Poly1305; DHE with AES-GCM)"
    )
    dhe_chacha = "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    assert load_profile().classify(dhe_chacha) == "weak"


def test_tls07_expected_text_follows_a_user_profile() -> None:
    source = Path(tls.__file__).parent.parent / "inputs" / "tls_profile.toml"
    custom = source.read_text(encoding="utf-8").replace(
        '    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",\n',
        '    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",\n'
        '    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",\n'
        '    "TLS_RSA_WITH_AES_256_CBC_SHA",\n',
    )
    profile = parse_profile(custom, "custom.toml")
    assert describe_tls12_suites(profile) == (
        "ECDHE with AES-GCM, AES-CBC with SHA-2 or ChaCha20-Poly1305; "
        "DHE with AES-GCM or ChaCha20-Poly1305; RSA with AES-CBC with SHA-1"
    )
    weak = scan(versions=versions(vp(T12, True, ["TLS_RSA_WITH_AES_128_CBC_SHA"])))
    verdict = tls.tls12_suites_acceptable(subject(weak, profile=profile))
    assert "DHE with AES-GCM or ChaCha20-Poly1305" in verdict.findings[0].expected


@pytest.mark.parametrize(
    ("suites", "words"),
    [
        pytest.param(["TLS_AES_128_GCM_SHA256"], "the profile lists no TLS 1.2 suite", id="tls13"),
        pytest.param(["TLS_ECDHE_RSA_WITH_AES_128_CCM"], "ECDHE with AES-CCM", id="ccm"),
        pytest.param(
            ["TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"], "ECDHE with Camellia-GCM", id="camellia"
        ),
        pytest.param(["TLS_DH_RSA_WITH_AES_128_GCM_SHA256"], "static DH with AES-GCM", id="dh"),
        pytest.param(
            ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"],
            "ECDHE with AES-CBC with SHA-2",
            id="deduplicated",
        ),
    ],
)
def test_tls12_suite_words(suites: list[str], words: str) -> None:
    base = load_profile()
    profile = replace(base, recommended=tuple(suites), acceptable=())
    assert describe_tls12_suites(profile) == words


# ------------------------------------------------------------------------------------------
# TLS-09, TLS-10
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kex", "status", "code", "text"),
    [
        pytest.param(KeyExchange("ECDHE", "X25519"), P, None, "ECDHE on", id="x25519"),
        pytest.param(KeyExchange("ECDHE", "secp384r1", 384), P, None, "secp384r1", id="p384"),
        pytest.param(KeyExchange("ECDHE", "prime256v1"), P, None, None, id="prime256v1"),
        pytest.param(KeyExchange("ECDHE", "X25519MLKEM768"), P, None, None, id="hybrid"),
        pytest.param(KeyExchange("ECDHE", "secp224r1"), F, "tls.kex.group", "secp224r1", id="p224"),
        pytest.param(
            KeyExchange("ECDHE", "brainpoolP256r1"), F, "tls.kex.group", None, id="brainpool"
        ),
        pytest.param(KeyExchange("ECDHE"), U, None, "unrecorded group", id="ecdhe-no-group"),
        pytest.param(KeyExchange("DHE", None, 2048), P, None, "2048-bit", id="dhe-2048"),
        pytest.param(KeyExchange("DHE", "ffdhe3072"), P, None, "3072-bit", id="ffdhe3072"),
        pytest.param(
            KeyExchange("DHE", None, 1024), F, "tls.kex.dhe_small", "1024-bit", id="dhe-1024"
        ),
        pytest.param(KeyExchange("DHE"), U, None, "unrecorded size", id="dhe-no-size"),
        pytest.param(KeyExchange("RSA"), F, "tls.kex.static", "forward secrecy", id="static"),
        pytest.param(KeyExchange("ECDH"), F, "tls.kex.static", None, id="static-ecdh"),
        pytest.param(KeyExchange("DH"), F, "tls.kex.static", None, id="static-dh"),
        pytest.param(KeyExchange("ECDH_anon"), F, "tls.kex.anonymous", None, id="anon"),
        pytest.param(KeyExchange("KEM"), U, None, "unrecorded group", id="unknown-kind"),
        pytest.param(None, U, None, "not recorded", id="missing"),
    ],
)
def test_tls09(kex: KeyExchange | None, status: Status, code: str | None, text: str) -> None:
    check(tls.key_exchange_strong(subject(scan(key_exchange=kex))), status, code, text or "")


DHE_GCM128 = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
X25519 = KeyExchange("ECDHE", "X25519")


def per_suite(*entries: tuple[str, KeyExchange]) -> tuple[VersionProbe, ...]:
    """TLS 1.3 as GOOD_VERSIONS has it, and TLS 1.2 accepting ``entries`` with their key
    exchanges recorded per suite, the first preferred."""
    suites = [suite for suite, _ in entries]
    kexes = tuple(dataclasses.replace(k, suite=suite) for suite, k in entries)
    tls13 = dataclasses.replace(
        GOOD_VERSIONS[0],
        key_exchanges=tuple(
            dataclasses.replace(X25519, suite=x) for x in GOOD_VERSIONS[0].cipher_suites
        ),
    )
    tls12 = dataclasses.replace(vp(T12, True, suites, suites[0]), key_exchanges=kexes)
    return versions(tls13, tls12)


@pytest.mark.parametrize(
    ("probes", "status", "code", "text"),
    [
        pytest.param(
            per_suite((ECDHE_GCM256, X25519), (ECDHE_GCM, KeyExchange("ECDHE", "P-256"))),
            P,
            None,
            "every accepted suite's key exchange is strong",
            id="all-strong",
        ),
        # Issue 19: 1024-bit DHE-RSA only as the server's second choice.
        pytest.param(
            per_suite((ECDHE_GCM256, X25519), (DHE_GCM128, KeyExchange("DHE", None, 1024))),
            F,
            "tls.kex.dhe_small",
            f"DHE with a 1024-bit group (TLS 1.2 {DHE_GCM128})",
            id="dhe-1024-second-choice",
        ),
        pytest.param(
            per_suite((ECDHE_GCM256, X25519), (STATIC_RSA, KeyExchange("RSA"))),
            F,
            "tls.kex.static",
            f"TLS 1.2 {STATIC_RSA}",
            id="static-rsa-second-choice",
        ),
        pytest.param(
            per_suite(
                (ECDHE_GCM256, X25519),
                ("TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", KeyExchange("DH_anon", None, 2048)),
            ),
            F,
            "tls.kex.anonymous",
            "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
            id="anonymous-dh-of-a-good-size",
        ),
        pytest.param(
            per_suite((ECDHE_GCM256, X25519), (DHE_GCM128, KeyExchange("DHE"))),
            U,
            None,
            f"DHE key exchange of unrecorded size (TLS 1.2 {DHE_GCM128})",
            id="dhe-size-unknown",
        ),
        pytest.param(
            versions(
                dataclasses.replace(
                    GOOD_VERSIONS[0],
                    key_exchanges=(dataclasses.replace(X25519, suite=AES256),),
                ),
                GOOD_VERSIONS[1],
            ),
            U,
            None,
            "key exchange not recorded for TLS 1.3",
            id="some-suites-unrecorded",
        ),
        pytest.param(GOOD_VERSIONS, P, None, "ECDHE on", id="older-evidence"),
        # Evidence from before per-suite records: judged on the negotiated exchange, as then.
        pytest.param(
            versions(GOOD_VERSIONS[0], vp(T12, True, [ECDHE_GCM256, STATIC_RSA], ECDHE_GCM256)),
            P,
            None,
            "ECDHE on",
            id="older-evidence-judged-on-the-negotiated-exchange",
        ),
    ],
)
def test_tls09_judges_every_accepted_suite(
    probes: tuple[VersionProbe, ...], status: Status, code: str | None, text: str
) -> None:
    verdict = tls.key_exchange_strong(subject(scan(key_exchange=X25519, versions=probes)))
    check(verdict, status, code, text)


TLS13_ONLY = versions(vp(T12))


@pytest.mark.parametrize(
    ("changes", "status", "codes", "text"),
    [
        pytest.param({}, P, (), "no compression", id="pass"),
        pytest.param({"compression": True}, F, ("tls.compression",), "CRIME", id="compression"),
        pytest.param(
            {"secure_renegotiation": False},
            F,
            ("tls.renegotiation.insecure",),
            "RFC 5746",
            id="insecure-renegotiation",
        ),
        pytest.param(
            {"client_renegotiation": True},
            F,
            ("tls.renegotiation.client",),
            "client-initiated",
            id="client-renegotiation",
        ),
        pytest.param(
            {"compression": True, "client_renegotiation": True, "secure_renegotiation": None},
            F,
            ("tls.compression", "tls.renegotiation.client"),
            None,
            id="two-failures-one-unknown",
        ),
        pytest.param(
            {"client_renegotiation": None},
            U,
            (),
            "client-initiated renegotiation not recorded",
            id="unknown",
        ),
        pytest.param(
            {
                "versions": TLS13_ONLY,
                "compression": None,
                "secure_renegotiation": None,
                "client_renegotiation": None,
            },
            P,
            (),
            "TLS 1.3 only",
            id="tls13-only",
        ),
    ],
)
def test_tls10(changes: dict[str, Any], status: Status, codes: tuple[str, ...], text: str) -> None:
    verdict = tls.no_compression_secure_renegotiation(subject(scan(**changes)))
    check(verdict, status, None, text or "")
    assert [f.code for f in verdict.findings] == list(codes)


# ------------------------------------------------------------------------------------------
# Hosts with several addresses; hosts not probed
# ------------------------------------------------------------------------------------------

TLS10_ON = {"versions": versions(vp(T10, True, [ECDHE_GCM], ECDHE_GCM))}

ALL_TLS_JUDGES = [
    tls.starttls_completes,
    tls.modern_tls_negotiated,
    tls.ssl_refused,
    tls.old_tls_refused,
    tls.preferred_suite_recommended,
    tls.no_insecure_suites,
    tls.tls12_suites_acceptable,
    tls.tls13_supported,
    tls.key_exchange_strong,
    tls.no_compression_secure_renegotiation,
]


def test_one_failing_address_fails_the_host_and_is_named() -> None:
    verdict = tls.old_tls_refused(subject(scan(V4), scan(V6, **TLS10_ON)))
    check(verdict, F, "tls.version.old")
    assert [f.observed for f in verdict.findings] == [f"{V6}: TLS 1.0 accepted"]
    table = dict(verdict.details)["addresses"]
    assert f"{V4}: pass" in table and f"{V6}: fail" in table


def test_both_addresses_failing_give_one_finding_each() -> None:
    verdict = tls.old_tls_refused(subject(scan(V4, **TLS10_ON), scan(V6, **TLS10_ON)))
    assert [f.observed.split(":")[0] for f in verdict.findings] == [V4, "2001"]
    assert verdict.findings[1].observed.startswith(f"{V6}: ")


def test_an_unjudged_address_makes_the_host_inconclusive() -> None:
    timeout = scan(V6, smtp=None, error=error(ErrorKind.TIMEOUT, "connect"))
    verdict = tls.old_tls_refused(subject(scan(V4), timeout))
    check(verdict, U, None, f"{V6}: no TLS session to judge: see MX-04")
    assert f"(passed: {V4}: TLS 1.0 and TLS 1.1 refused)" in verdict.summary


def test_a_failure_wins_over_an_unjudged_address() -> None:
    timeout = scan(V6, smtp=None, error=error(ErrorKind.TIMEOUT, "connect"))
    verdict = tls.old_tls_refused(subject(scan(V4, **TLS10_ON), timeout))
    check(verdict, F, "tls.version.old")
    assert f"{V6}: inconclusive: no TLS session" in dict(verdict.details)["addresses"]


def test_an_address_in_dns_without_a_scan_is_not_probed() -> None:
    dns = [answer(H, "A", V4), answer(H, "AAAA", "2001:db8:0:0::25", "2001:db8::26")]
    verdict = tls.tls13_supported(subject(scan(V4), scan(V6), dns=dns))
    check(verdict, U, None, "2001:db8::26: not probed in this run")
    assert verdict.evidence == (f"{H}/A", f"{H}/AAAA")


def test_addresses_that_agree_share_the_summary() -> None:
    verdict = tls.tls13_supported(subject(scan(V4), scan(V6)))
    check(verdict, P)
    assert verdict.summary == f"{V4}, {V6}: TLS 1.3 accepted"


def test_a_lab_port_is_shown_with_the_address() -> None:
    verdict = tls.old_tls_refused(subject(scan(V6, port=2525, **TLS10_ON)))
    assert verdict.findings[0].observed.startswith(f"[{V6}]:2525: ")


@pytest.mark.parametrize("judge", [tls.answers_smtp, *ALL_TLS_JUDGES, tls.dane_tlsa_matches])
def test_host_not_probed(judge: Judge) -> None:
    tlsa = [answer(f"_25._tcp.{H}", "TLSA", "3 1 1 " + "00" * 32)]
    verdict = judge(subject(dns=tlsa, probed=False))
    check(verdict, U, None, "not probed in this run")


@pytest.mark.parametrize("judge", [tls.answers_smtp, *ALL_TLS_JUDGES])
def test_host_with_no_address(judge: Judge) -> None:
    check(judge(subject()), U, None, "no address of")


@pytest.mark.parametrize("judge", ALL_TLS_JUDGES[1:])
def test_no_starttls_defers_to_tls01(judge: Judge) -> None:
    """Nothing failed to decide: TLS-01 fails, and the rest do not apply (not an error)."""
    verdict = judge(subject(scan(**NO_STARTTLS)))
    check(verdict, N, None, "no TLS session to judge: TLS-01 fails (EHLO does not advertise")


@pytest.mark.parametrize("judge", ALL_TLS_JUDGES)
def test_refused_connection_defers_to_mx04(judge: Judge) -> None:
    refused = scan(smtp=None, error=error(ErrorKind.CONNECTION_REFUSED, "RST"))
    verdict = judge(subject(refused))
    if judge is tls.starttls_completes:  # TLS-01 is not gated: it cannot tell
        check(verdict, U, None, "see MX-04 (TCP port 25 refused")
    else:
        check(verdict, N, None, "MX-04 fails (TCP port 25 refused")


def test_a_timed_out_greeting_leaves_the_gated_requirements_inconclusive() -> None:
    """MX-04 could not tell (no answer in time): neither can the requirements it gates."""
    silent = scan(smtp=None, error=error(ErrorKind.TIMEOUT, "no answer"))
    check(tls.modern_tls_negotiated(subject(silent)), U, None, "see MX-04")


def test_judges_never_raise_on_nonsense_evidence() -> None:
    nonsense = scan(
        address="not an address",
        versions=(vp(T12, True, ["\x00" * 3], "\x00"),),
        key_exchange=KeyExchange("\u202e", "\x1b"),
    )
    for judge in [*ALL_TLS_JUDGES, tls.answers_smtp]:
        verdict = judge(subject(nonsense))
        assert verdict.status in (P, F, U)
        assert "\x00" not in verdict.summary and "\x1b" not in verdict.summary


# ------------------------------------------------------------------------------------------
# DANE-01
# ------------------------------------------------------------------------------------------

TLSA_NAME = f"_25._tcp.{H}"


def tlsa(*records: str, authenticated: bool = True) -> DnsResult:
    return replace(answer(TLSA_NAME, "TLSA", *records), authenticated=authenticated)


def rec(usage: int, selector: int, mtype: int, cert: x509.Certificate) -> str:
    data = der(cert) if selector == 0 else spki(cert)
    digest = {0: data, 1: hashlib.sha256(data).digest(), 2: hashlib.sha512(data).digest()}[mtype]
    text = digest.hex()
    # dnspython splits long hex into chunks of 128 characters
    chunks = " ".join(text[i : i + 128] for i in range(0, len(text), 128))
    return f"{usage} {selector} {mtype} {chunks}"


FULL_CHAIN = pem(LEAF, INTER, ROOT)


@pytest.mark.parametrize(
    ("records", "chain", "status", "code"),
    [
        pytest.param([rec(3, 1, 1, LEAF)], GOOD_CHAIN, P, None, id="3-1-1"),
        pytest.param([rec(3, 1, 2, LEAF)], GOOD_CHAIN, P, None, id="3-1-2"),
        pytest.param([rec(3, 1, 0, LEAF)], GOOD_CHAIN, P, None, id="3-1-0"),
        pytest.param([rec(3, 0, 0, LEAF)], GOOD_CHAIN, P, None, id="3-0-0"),
        pytest.param([rec(3, 0, 1, LEAF)], GOOD_CHAIN, P, None, id="3-0-1"),
        pytest.param([rec(3, 0, 2, LEAF)], GOOD_CHAIN, P, None, id="3-0-2"),
        pytest.param([rec(2, 0, 1, INTER)], GOOD_CHAIN, P, None, id="2-0-1-intermediate"),
        pytest.param([rec(2, 1, 1, INTER)], GOOD_CHAIN, P, None, id="2-1-1-intermediate"),
        pytest.param([rec(2, 0, 2, ROOT)], FULL_CHAIN, P, None, id="2-0-2-served-root"),
        pytest.param([rec(2, 1, 0, ROOT)], GOOD_CHAIN, P, None, id="2-1-0-root-key-not-served"),
        pytest.param(
            [rec(2, 1, 1, ROOT)], GOOD_CHAIN, F, "dane.tlsa.mismatch", id="2-1-1-root-not-served"
        ),
        pytest.param(
            [rec(3, 1, 1, OTHER_LEAF), rec(3, 1, 1, LEAF)], GOOD_CHAIN, P, None, id="rollover"
        ),
        pytest.param(
            [rec(3, 1, 1, OTHER_LEAF)], GOOD_CHAIN, F, "dane.tlsa.mismatch", id="stale-key"
        ),
        pytest.param(
            [rec(2, 1, 1, LEAF)], GOOD_CHAIN, F, "dane.tlsa.mismatch", id="ta-record-for-leaf"
        ),
        pytest.param(
            [rec(2, 1, 1, INTER)],
            pem(LEAF, ROOT, INTER),
            F,
            "dane.tlsa.mismatch",
            id="ta-out-of-order",
        ),
        pytest.param(
            [rec(1, 1, 1, LEAF), rec(0, 0, 1, ROOT)],
            GOOD_CHAIN,
            F,
            "dane.tlsa.unusable",
            id="pkix-usages-unusable",
        ),
        pytest.param(
            [rec(3, 1, 1, LEAF).replace("3 1 1", "3 1 9")],
            GOOD_CHAIN,
            F,
            "dane.tlsa.unusable",
            id="unknown-matching-type",
        ),
        pytest.param(["3 1 1 zz", "garbage"], GOOD_CHAIN, F, "dane.tlsa.unusable", id="garbage"),
    ],
)
def test_dane(records: list[str], chain: tuple[str, ...], status: Status, code: str | None) -> None:
    verdict = tls.dane_tlsa_matches(subject(scan(chain_pem=chain), dns=[tlsa(*records)]))
    check(verdict, status, code)
    assert f"{TLSA_NAME}/TLSA" in verdict.evidence


def test_dane_mismatch_gives_the_record_to_publish() -> None:
    verdict = tls.dane_tlsa_matches(subject(scan(), dns=[tlsa(rec(3, 1, 1, OTHER_LEAF))]))
    check(verdict, F, "dane.tlsa.mismatch")
    assert hashlib.sha256(spki(LEAF)).hexdigest() in verdict.findings[0].remediation


@pytest.mark.parametrize(
    ("result", "status", "text"),
    [
        pytest.param(nxdomain(TLSA_NAME, "TLSA"), Status.NOT_APPLICABLE, "NXDOMAIN", id="nx"),
        pytest.param(answer(TLSA_NAME, "TLSA"), Status.NOT_APPLICABLE, "no records", id="nodata"),
        pytest.param(failed(TLSA_NAME, "TLSA"), U, "failed", id="timeout"),
        pytest.param(None, U, "not collected", id="not-collected"),
    ],
)
def test_dane_without_records(result: DnsResult | None, status: Status, text: str) -> None:
    verdict = tls.dane_tlsa_matches(subject(scan(), dns=[result] if result else []))
    check(verdict, status, None, text)


def test_dane_names_the_address_that_serves_another_key() -> None:
    other = scan(V6, chain_pem=pem(OTHER_LEAF, INTER))
    verdict = tls.dane_tlsa_matches(subject(scan(V4), other, dns=[tlsa(rec(3, 1, 1, LEAF))]))
    check(verdict, F, "dane.tlsa.mismatch")
    assert verdict.findings[0].observed.startswith(f"{V6}: ")


def test_dane_reports_dnssec_state() -> None:
    verdict = tls.dane_tlsa_matches(
        subject(scan(), dns=[tlsa(rec(3, 1, 1, LEAF), authenticated=False)])
    )
    check(verdict, P)
    assert "not DNSSEC-validated" in dict(verdict.details)["DNSSEC"]


def test_dane_with_unreadable_chain_is_inconclusive() -> None:
    verdict = tls.dane_tlsa_matches(
        subject(scan(chain_pem=("garbage",)), dns=[tlsa(rec(3, 1, 1, LEAF))])
    )
    check(verdict, U, None, "certificate 1 of the served chain cannot be read")


def test_dane_no_starttls_defers() -> None:
    verdict = tls.dane_tlsa_matches(subject(scan(**NO_STARTTLS), dns=[tlsa(rec(3, 1, 1, LEAF))]))
    check(verdict, N, None, "TLS-01 fails")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("3 1 1 AB cd", tls.Tlsa(3, 1, 1, b"\xab\xcd"), id="chunked"),
        pytest.param("3 1 1", "not a TLSA record", id="short"),
        pytest.param("\\# 4 0301 01ab", "not a TLSA record", id="generic"),
        pytest.param("300 1 1 ab", "out of range", id="range"),
        pytest.param("3 1 1 xyz", "not hexadecimal", id="hex"),
    ],
)
def test_parse_tlsa(text: str, parsed: tls.Tlsa | str) -> None:
    got = parse_tlsa(text)
    if isinstance(parsed, str):
        assert isinstance(got, str) and parsed in got
    else:
        assert got == parsed
    assert tls.parse_tlsa is parse_tlsa and tls.Tlsa is Tlsa  # still importable from the judge


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(min_size=1, max_size=80),
    st.integers(1, 16),
)
def test_parse_tlsa_reads_what_presentation_form_writes(
    usage: int, selector: int, matching: int, data: bytes, chunk: int
) -> None:
    hexed = data.hex()
    chunks = " ".join(hexed[i : i + 2 * chunk] for i in range(0, len(hexed), 2 * chunk))
    assert parse_tlsa(f"{usage} {selector} {matching} {chunks}") == Tlsa(
        usage, selector, matching, data
    )


@given(st.text(max_size=120))
def test_parse_tlsa_never_raises(text: str) -> None:
    got = parse_tlsa(text)
    assert isinstance(got, Tlsa | str)
    if isinstance(got, str):
        assert len(got) < 300 and "\x1b" not in got  # bounded, control codes escaped


def test_dane_planner_asks_tlsa_for_every_mail_host() -> None:
    dns = DnsSnapshot(
        [
            answer(D, "MX", f"10 {H}.", "20 192.0.2.9.", "30 mx2.provider.example."),
            answer(H, "A", V4),
        ]
    )
    names = {(q.name, q.rdtype) for q in dane_queries(Target(D), dns)}
    assert (TLSA_NAME, "TLSA") in names
    assert ("_25._tcp.mx2.provider.example", "TLSA") in names
    assert not any("192.0.2.9" in n and t == "TLSA" for n, t in names)
    assert (D, "MX") in names and (H, "AAAA") in names


def test_dane_planner_waits_for_the_mx_answer() -> None:
    names = [(q.name, q.rdtype) for q in dane_queries(Target(D), DnsSnapshot())]
    assert (D, "MX") in names and not any(t == "TLSA" for _, t in names)


# ------------------------------------------------------------------------------------------
# Garbage in the chain never raises
# ------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=3))
def test_garbage_pem_never_raises(chain: list[str]) -> None:
    verdict = tls.dane_tlsa_matches(
        subject(scan(chain_pem=tuple(chain)), dns=[tlsa(rec(3, 1, 1, LEAF))])
    )
    assert verdict.status is U
    assert "cannot be read" in verdict.summary


def test_load_chain_limits() -> None:
    huge = "-----BEGIN CERTIFICATE-----\n" + "A" * 70000 + "\n-----END CERTIFICATE-----\n"
    assert "over the 65536 read" in tls.load_chain(scan(chain_pem=(huge,))).problem
    two = "".join(GOOD_CHAIN)
    assert "holds 2 certificates" in tls.load_chain(scan(chain_pem=(two,))).problem
    assert tls.load_chain(scan(chain_pem=())).problem == "no certificate recorded"
    assert tls.load_chain(scan()).complete


def _chain(result: Security, reason: str = "r") -> DnssecChain:
    step = DnssecStep(H, "answer", f"{TLSA_NAME}/TLSA", result, reason)
    return DnssecChain(TLSA_NAME, "TLSA", result, reason, "test anchor: .", (step,))


@pytest.mark.parametrize(
    ("result", "status", "text"),
    [
        pytest.param(Security.SECURE, P, "", id="validated-judged"),
        pytest.param(Security.INSECURE, N, "senders ignore TLSA records", id="unsigned"),
        pytest.param(Security.BOGUS, F, "fail DNSSEC validation", id="bogus"),
        pytest.param(Security.INDETERMINATE, U, "could not tell", id="indeterminate"),
    ],
)
def test_dane_judges_only_validated_tlsa(result: Security, status: Status, text: str) -> None:
    """RFC 7672 section 2.2: only secure TLSA records count; bogus ones make senders defer."""
    plain = subject(scan(), dns=[tlsa(rec(3, 1, 1, LEAF), authenticated=False)])
    verdict = tls.dane_tlsa_matches(
        replace(plain, dnssec={Query.of(TLSA_NAME, "TLSA"): _chain(result)})
    )
    check(verdict, status, "dane.tlsa.bogus" if status is F else None, text)
    if status is P:
        assert ("DNSSEC", "the TLSA answer validates with DNSSEC from test anchor: .") in (
            verdict.details
        )


def test_dane_without_a_validation_is_judged_as_before_and_says_so() -> None:
    """Evidence from before DNSSEC was validated replays as it was judged then."""
    verdict = tls.dane_tlsa_matches(
        subject(scan(), dns=[tlsa(rec(3, 1, 1, LEAF), authenticated=False)])
    )
    check(verdict, P)
    assert any("not DNSSEC-validated in this run" in text for _, text in verdict.details)
