"""Judge tables for CERT-01..CERT-07: certificates made with cryptography in the test."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from test_judge_tls import (
    GOOD_CHAIN,
    INTER,
    INTER_KEY,
    LEAF,
    NO_STARTTLS,
    NOW,
    ROOT,
    ROOT_KEY,
    V4,
    V6,
    F,
    H,
    Judge,
    N,
    P,
    U,
    check,
    ec_key,
    make_cert,
    pem,
    scan,
    subject,
)

from pytest_govmail.judge import cert, tls
from pytest_govmail.model.tls import TrustCheck
from pytest_govmail.model.verdict import Status

MOZILLA_OK = (TrustCheck("mozilla", True),)
MOZILLA_FAILED = (TrustCheck("mozilla", False, "unable to get local issuer certificate"),)

ALL_CERT_JUDGES = [
    cert.chain_trusted,
    cert.names_mx_host,
    cert.within_validity,
    cert.not_expiring_soon,
    cert.keys_strong,
    cert.no_weak_signatures,
    cert.chain_complete_in_order,
]


def leaf(**kwargs: Any) -> x509.Certificate:
    """A leaf for H issued by the test intermediate, with ``kwargs`` passed to make_cert."""
    key = kwargs.pop("key", None) or ec_key()
    return make_cert(kwargs.pop("cn", H), key, issuer=(INTER, INTER_KEY), **kwargs)


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


# ------------------------------------------------------------------------------------------
# Forging MD5 and SHA-1 signatures (cryptography refuses to make them, rightly)
# ------------------------------------------------------------------------------------------

SHA256_WITH_RSA = bytes.fromhex("2a864886f70d01010b")  # 1.2.840.113549.1.1.11
SHA1_WITH_RSA = bytes.fromhex("2a864886f70d010105")  # 1.2.840.113549.1.1.5
MD5_WITH_RSA = bytes.fromhex("2a864886f70d010104")  # 1.2.840.113549.1.1.4


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def resigned(
    certificate: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    oid: bytes,
    algorithm: hashes.HashAlgorithm,
) -> x509.Certificate:
    """``certificate`` (signed sha256WithRSA) signed again with another RSA signature algorithm."""
    tbs = certificate.tbs_certificate_bytes
    assert tbs.count(SHA256_WITH_RSA) == 1
    tbs = tbs.replace(SHA256_WITH_RSA, oid)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), algorithm)
    algorithm_id = _tlv(0x30, _tlv(0x06, oid) + b"\x05\x00")
    body = tbs + algorithm_id + _tlv(0x03, b"\x00" + signature)
    return x509.load_der_x509_certificate(_tlv(0x30, body))


@functools.cache
def rsa_pki() -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    """An RSA root and intermediate (and the intermediate's key), for signature tests."""
    root_key, inter_key = rsa_key(2048), rsa.generate_private_key(65537, 2048)
    root = make_cert("RSA Root", root_key, sans=None, ca=True)
    inter = make_cert("RSA Issuing CA", inter_key, issuer=(root, root_key), sans=None, ca=True)
    return root, inter, inter_key


# ------------------------------------------------------------------------------------------
# CERT-01
# ------------------------------------------------------------------------------------------

SELF_SIGNED_KEY = ec_key()
SELF_SIGNED = make_cert(H, SELF_SIGNED_KEY)


@pytest.mark.parametrize(
    ("changes", "status", "code", "text"),
    [
        pytest.param({}, P, None, "Mozilla trust store", id="mozilla"),
        pytest.param(
            {"trust": (TrustCheck("Mozilla ", True),)}, P, None, "Mozilla", id="store-name-case"
        ),
        pytest.param(
            {"trust": (*MOZILLA_FAILED, TrustCheck("ca-file", True))},
            P,
            None,
            "--govmail-ca-file (not to the Mozilla store)",
            id="user-ca-file",
        ),
        pytest.param(
            {"chain_pem": pem(SELF_SIGNED), "trust": MOZILLA_FAILED},
            F,
            "cert.chain.self_signed",
            f'self-signed certificate "CN={H}"',
            id="self-signed",
        ),
        pytest.param(
            {"trust": MOZILLA_FAILED},
            F,
            "cert.chain.untrusted",
            'issued by "CN=Test Root CA", which is not a trusted root',
            id="unknown-root",
        ),
        pytest.param(
            {"chain_pem": pem(LEAF, INTER, ROOT), "trust": MOZILLA_FAILED},
            F,
            "cert.chain.untrusted",
            'ends at the root "CN=Test Root CA"',
            id="served-unknown-root",
        ),
        pytest.param(
            {"chain_pem": ("junk",), "trust": MOZILLA_FAILED},
            F,
            "cert.chain.untrusted",
            "cannot be read",
            id="untrusted-and-unreadable",
        ),
        pytest.param(
            {"chain_pem": ("junk",)}, P, None, "Mozilla", id="trusted-but-unreadable-here"
        ),
        pytest.param({"trust": ()}, U, None, "no path validation", id="no-validation"),
        pytest.param(
            {"trust": (TrustCheck("windows", True),)},
            U,
            None,
            '(only against "windows")',
            id="other-store-only",
        ),
        pytest.param(NO_STARTTLS, N, None, "TLS-01 fails", id="no-starttls"),
    ],
)
def test_cert01(changes: dict[str, Any], status: Status, code: str | None, text: str) -> None:
    verdict = cert.chain_trusted(subject(scan(**changes)))
    check(verdict, status, code, text)
    if status is F:
        assert "the Mozilla store: no chain from it leads to a trusted root" in verdict.summary


#: cryptography's own words for the issue-19 failures, as its verifier raises them.
NOT_VALID_AT_TIME = (
    "lab-ca.pem: validation failed: candidates exhausted: all candidates exhausted with no "
    "valid path (last error: cert is not valid at validation time); outside its validity at "
    "2026-11-23: Test Root CA (valid 2026-12-02 to 2027-12-03)"
)
MISSING_AKI = (
    "lab-ca.pem: validation failed: invalid extension: 2.5.29.35: Certificate is missing "
    "required extension (encountered processing <Certificate(subject=<Name(CN=x)>, ...)>)"
)
BAD_BASIC_CONSTRAINTS = (
    "validation failed: invalid extension: 2.5.29.19: basicConstraints.pathLenConstraint "
    "present without cA (encountered processing <Certificate(...)>)"
)


@pytest.mark.parametrize(
    ("trust", "code", "says", "never"),
    [
        pytest.param(
            (*MOZILLA_FAILED, TrustCheck("ca-file", False, NOT_VALID_AT_TIME, "Test Root CA")),
            "cert.chain.dates",
            [
                "a certificate in it is outside its validity period when checked",
                'outside its validity at "2026-11-23: Test Root CA (valid 2026-12-02 to',
                'links to the trust anchor "Test Root CA"',
                "CERT-03",
            ],
            ["not a trusted root"],
            id="dates-not-root",
        ),
        pytest.param(
            (*MOZILLA_FAILED, TrustCheck("ca-file", False, MISSING_AKI)),
            "cert.chain.untrusted",
            [
                "the chain does not validate: ",
                "a certificate lacks the Authority Key Identifier extension",
            ],
            ["2.5.29.35", "missing required extension", "not a trusted root"],
            id="extension-worded",
        ),
        pytest.param(
            (TrustCheck("mozilla", False, BAD_BASIC_CONSTRAINTS),),
            "cert.chain.untrusted",
            ["Basic Constraints extension is not acceptable"],
            ["2.5.29.19"],
            id="other-extension-worded",
        ),
    ],
)
def test_cert01_names_the_real_cause_in_words(
    trust: tuple[TrustCheck, ...], code: str, says: list[str], never: list[str]
) -> None:
    verdict = cert.chain_trusted(subject(scan(trust=trust)))
    assert verdict.status is F
    assert [f.code for f in verdict.findings] == [code]
    observed = verdict.findings[0].observed
    for text in says:
        assert text in observed, observed
    for text in never:
        assert text not in observed, observed


# ------------------------------------------------------------------------------------------
# CERT-02
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        pytest.param(H, H, True, id="exact"),
        pytest.param("MX1.Example-Dept.GOV.UK.", H, True, id="case-and-dot"),
        pytest.param("*.example-dept.gov.uk", H, True, id="wildcard"),
        pytest.param("*.example-dept.gov.uk", "a.mx1.example-dept.gov.uk", False, id="two-labels"),
        pytest.param("*.example-dept.gov.uk", "example-dept.gov.uk", False, id="apex"),
        pytest.param("*.gov.uk", H, False, id="wildcard-too-high"),
        pytest.param("*.uk", "gov.uk", False, id="wildcard-single-label-base"),
        pytest.param("mx*.example-dept.gov.uk", H, False, id="partial-wildcard"),
        pytest.param("*.*.gov.uk", H, False, id="double-wildcard"),
        pytest.param("mx1.*.gov.uk", H, False, id="inner-wildcard"),
        pytest.param("", H, False, id="empty"),
        pytest.param("mx2.example-dept.gov.uk", H, False, id="other-host"),
    ],
)
def test_name_matches(pattern: str, host: str, matches: bool) -> None:
    assert cert.name_matches(pattern, host) is matches


@pytest.mark.parametrize(
    ("certificate", "status", "code", "text"),
    [
        pytest.param(leaf(), P, None, f'subjectAltName "{H}" matches {H}', id="exact"),
        pytest.param(leaf(sans=["*.example-dept.gov.uk"]), P, None, None, id="wildcard"),
        pytest.param(
            leaf(sans=["mail.example-dept.gov.uk", "*.gov.uk"]),
            F,
            "cert.name.mismatch",
            '"mail.example-dept.gov.uk", "*.gov.uk"',
            id="mismatch",
        ),
        pytest.param(
            leaf(sans=None), F, "cert.name.no_san", f'subject "CN={H}"; the CN is not used', id="cn"
        ),
        pytest.param(leaf(sans=["MX1.EXAMPLE-DEPT.GOV.UK"]), P, None, None, id="upper-case"),
    ],
)
def test_cert02(
    certificate: x509.Certificate, status: Status, code: str | None, text: str | None
) -> None:
    verdict = cert.names_mx_host(subject(scan(chain_pem=pem(certificate, INTER))))
    check(verdict, status, code, text or "")


def test_cert02_host_given_with_a_trailing_dot() -> None:
    s = subject(scan(), host=H + ".")
    check(cert.names_mx_host(s), P)


def test_cert02_many_names_are_bounded() -> None:
    names = [f"host{n}.example.org" for n in range(300)]
    verdict = cert.names_mx_host(subject(scan(chain_pem=pem(leaf(sans=names), INTER))))
    check(verdict, F, "cert.name.mismatch", "and 290 more")
    assert len(verdict.summary) < 1500


# ------------------------------------------------------------------------------------------
# CERT-03 and CERT-04
# ------------------------------------------------------------------------------------------

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("certificate", "status", "code", "text"),
    [
        pytest.param(leaf(), P, None, "valid from 2026-05-02", id="valid"),
        pytest.param(
            leaf(not_before=NOW - 400 * DAY, not_after=NOW - 3 * DAY),
            F,
            "cert.validity.expired",
            "expired 2026-05-29 12:00 UTC, 3 day(s) before 2026-06-01 12:00 UTC",
            id="expired",
        ),
        pytest.param(
            leaf(not_before=NOW + DAY, not_after=NOW + 90 * DAY),
            F,
            "cert.validity.not_yet",
            "not valid until 2026-06-02",
            id="not-yet-valid",
        ),
    ],
)
def test_cert03(certificate: x509.Certificate, status: Status, code: str | None, text: str) -> None:
    verdict = cert.within_validity(subject(scan(chain_pem=pem(certificate, INTER))))
    check(verdict, status, code, text)
    assert dict(verdict.details)["judged at"] == "2026-06-01 12:00 UTC"


def test_cert03_without_a_collection_time_uses_the_clock() -> None:
    today = datetime.now(UTC)
    current = leaf(not_before=today - DAY, not_after=today + DAY)
    check(cert.within_validity(subject(scan(chain_pem=pem(current)), now=None)), P)
    # NOW (2026-06-01) is long before this certificate starts
    check(cert.within_validity(subject(scan(chain_pem=pem(current)))), F)


def test_cert03_naive_collection_time_is_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    check(cert.within_validity(subject(scan(), now=naive)), P)


@pytest.mark.parametrize(
    ("not_after", "days", "status", "code", "text"),
    [
        pytest.param(NOW + 90 * DAY, None, P, None, "in 90 days", id="90-days"),
        pytest.param(NOW + 10 * DAY, None, F, "cert.expiry.soon", "(10 day(s) left)", id="10-days"),
        # The packaged profile's window is 30 days (where ACME clients renew).
        pytest.param(NOW + 14 * DAY, None, F, "cert.expiry.soon", None, id="14-days"),
        pytest.param(NOW + 30 * DAY, None, F, "cert.expiry.soon", None, id="exactly-30-days"),
        pytest.param(NOW + 30 * DAY + timedelta(minutes=1), None, P, None, None, id="just-over"),
        pytest.param(NOW + 20 * DAY, 14, P, None, None, id="configured-14"),
        pytest.param(NOW - DAY, None, F, "cert.expiry.soon", "already expired", id="expired"),
        pytest.param(NOW + 20 * DAY, 30, F, "cert.expiry.soon", None, id="configured-30"),
        pytest.param(NOW + 5 * DAY, 0, P, None, None, id="configured-0"),
        pytest.param(NOW + 90 * DAY, 100, F, "cert.expiry.soon", "(90 day(s) left)", id="100"),
    ],
)
def test_cert04(
    not_after: datetime,
    days: int | None,
    status: Status,
    code: str | None,
    text: str | None,
) -> None:
    certificate = leaf(not_before=NOW - 300 * DAY, not_after=not_after)
    s = subject(scan(chain_pem=pem(certificate, INTER)), expiry_days=days)
    check(cert.not_expiring_soon(s), status, code, text or "")


def test_cert03_one_expired_address_is_named() -> None:
    expired = leaf(not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    verdict = cert.within_validity(subject(scan(V4), scan(V6, chain_pem=pem(expired, INTER))))
    check(verdict, F, "cert.validity.expired")
    assert len(verdict.findings) == 1
    assert verdict.findings[0].observed.startswith(f"{V6}: the certificate expired")


# ------------------------------------------------------------------------------------------
# CERT-05
# ------------------------------------------------------------------------------------------


def _chain_with_weak_root() -> tuple[str, ...]:
    weak_root_key = rsa_key(1024)
    weak_root = make_cert("Old Root", weak_root_key, sans=None, ca=True)
    inter_key = ec_key()
    inter = make_cert("Issuing CA", inter_key, issuer=(weak_root, weak_root_key), sans=None)
    return pem(make_cert(H, ec_key(), issuer=(inter, inter_key)), inter, weak_root)


def _weak_intermediate() -> tuple[str, ...]:
    small = ec.generate_private_key(ec.SECP192R1())
    inter = make_cert("Small CA", small, issuer=(ROOT, ROOT_KEY), sans=None, ca=True)
    return pem(make_cert(H, ec_key(), issuer=(inter, small)), inter)


@pytest.mark.parametrize(
    ("chain", "status", "code", "text"),
    [
        pytest.param(GOOD_CHAIN, P, None, "2 key(s) strong enough", id="ec-p256"),
        pytest.param(pem(leaf(key=rsa_key(2048)), INTER), P, None, None, id="rsa-2048"),
        pytest.param(pem(leaf(key=ed25519.Ed25519PrivateKey.generate())), P, None, None, id="ed"),
        pytest.param(
            pem(leaf(key=rsa_key(1024)), INTER),
            F,
            "cert.key.weak",
            f'the leaf ("CN={H}"): RSA 1024 bits',
            id="rsa-1024-leaf",
        ),
        pytest.param(
            _weak_intermediate(),
            F,
            "cert.key.weak",
            'certificate 2 ("CN=Small CA"): EC secp192r1 (192 bits)',
            id="p192-intermediate",
        ),
        pytest.param(
            pem(leaf(key=dsa.generate_private_key(2048)), INTER),
            F,
            "cert.key.weak",
            "DSA 2048 bits",
            id="dsa",
        ),
        pytest.param(_chain_with_weak_root(), P, None, "2 key(s)", id="weak-served-root-ignored"),
        pytest.param((*pem(LEAF), "junk"), U, None, "certificate 2", id="unreadable-second"),
        pytest.param(
            (*pem(leaf(key=rsa_key(1024))), "junk"),
            F,
            "cert.key.weak",
            None,
            id="weak-despite-unreadable",
        ),
    ],
)
def test_cert05(chain: tuple[str, ...], status: Status, code: str | None, text: str | None) -> None:
    verdict = cert.keys_strong(subject(scan(chain_pem=chain)))
    check(verdict, status, code, text or "")


# ------------------------------------------------------------------------------------------
# CERT-06
# ------------------------------------------------------------------------------------------


def _sha1_leaf() -> tuple[str, ...]:
    root, inter, inter_key = rsa_pki()
    good = make_cert(H, ec_key(), issuer=(inter, inter_key))
    return pem(resigned(good, inter_key, SHA1_WITH_RSA, hashes.SHA1()), inter, root)


def _md5_intermediate() -> tuple[str, ...]:
    _, inter, inter_key = rsa_pki()
    weak = resigned(inter, rsa_key(2048), MD5_WITH_RSA, hashes.MD5())
    return pem(make_cert(H, ec_key(), issuer=(inter, inter_key)), weak)


def _sha1_root() -> tuple[str, ...]:
    root, inter, inter_key = rsa_pki()
    old_root = resigned(root, rsa_key(2048), SHA1_WITH_RSA, hashes.SHA1())
    return pem(make_cert(H, ec_key(), issuer=(inter, inter_key)), inter, old_root)


@pytest.mark.parametrize(
    ("chain", "status", "code", "text"),
    [
        pytest.param(GOOD_CHAIN, P, None, "2 signature(s) use SHA-2", id="sha256"),
        pytest.param(_sha1_leaf(), F, "cert.signature.weak", "the leaf", id="sha1-leaf"),
        pytest.param(
            _md5_intermediate(),
            F,
            "cert.signature.weak",
            'certificate 2 ("CN=RSA Issuing CA"): signed with MD5 with RSA',
            id="md5-intermediate",
        ),
        pytest.param(_sha1_root(), P, None, None, id="sha1-root-ignored"),
        pytest.param((*pem(LEAF), "junk"), U, None, "cannot be read", id="unreadable"),
        pytest.param(NO_STARTTLS, N, None, "TLS-01 fails", id="no-starttls"),
    ],
)
def test_cert06(chain: Any, status: Status, code: str | None, text: str | None) -> None:
    changes = chain if isinstance(chain, dict) else {"chain_pem": chain}
    verdict = cert.no_weak_signatures(subject(scan(**changes)))
    check(verdict, status, code, text or "")
    if code:
        assert "SHA-1 with RSA" in verdict.summary or "MD5" in verdict.summary


def test_forged_signatures_verify() -> None:
    """The forged SHA-1 leaf really is signed by its issuer: only the hash is weak."""
    chain = [x509.load_pem_x509_certificate(p.encode()) for p in _sha1_leaf()]
    assert isinstance(chain[0].signature_hash_algorithm, hashes.SHA1)
    assert tls.issued_by(chain[0], chain[1])


# ------------------------------------------------------------------------------------------
# CERT-07
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chain", "trust", "status", "code", "text"),
    [
        pytest.param(GOOD_CHAIN, MOZILLA_OK, P, None, "path validation succeeded", id="pass"),
        pytest.param(
            pem(LEAF, INTER, ROOT), MOZILLA_FAILED, P, None, "self-signed root", id="with-root"
        ),
        pytest.param(
            pem(LEAF),
            MOZILLA_FAILED,
            F,
            "cert.chain.incomplete",
            'whose issuer "CN=Test Issuing CA" was not served',
            id="missing-intermediate",
        ),
        pytest.param(pem(LEAF), MOZILLA_OK, P, None, None, id="leaf-only-but-validated"),
        pytest.param(
            pem(LEAF, ROOT, INTER),
            MOZILLA_OK,
            F,
            "cert.chain.order",
            'certificate 2 ("CN=Test Root CA") did not issue the leaf',
            id="out-of-order",
        ),
        pytest.param(
            pem(LEAF, LEAF, INTER), MOZILLA_OK, F, "cert.chain.order", None, id="duplicate-leaf"
        ),
        pytest.param(pem(SELF_SIGNED), MOZILLA_FAILED, P, None, None, id="self-signed-alone"),
        pytest.param(_sha1_leaf(), MOZILLA_OK, P, None, "3 certificate(s)", id="sha1-in-order"),
        pytest.param(GOOD_CHAIN, (), U, None, "no path validation", id="no-validation"),
        pytest.param((*pem(LEAF), "junk"), MOZILLA_OK, U, None, "cannot be read", id="junk"),
        # Issue 19: an expired chain whose issuer is an anchor of the CA file is in order and
        # complete; its dates are CERT-03's, its validation CERT-01's.
        pytest.param(
            pem(LEAF, INTER),
            (*MOZILLA_FAILED, TrustCheck("ca-file", False, NOT_VALID_AT_TIME, "Test Root CA")),
            P,
            None,
            '"Test Root CA", a trust anchor of the CA file',
            id="expired-but-anchored",
        ),
        pytest.param(
            pem(LEAF),
            (*MOZILLA_FAILED, TrustCheck("ca-file", False, NOT_VALID_AT_TIME)),
            F,
            "cert.chain.incomplete",
            "was not served and is not a trust anchor",
            id="dates-and-not-anchored",
        ),
    ],
)
def test_cert07(
    chain: tuple[str, ...],
    trust: tuple[TrustCheck, ...],
    status: Status,
    code: str | None,
    text: str | None,
) -> None:
    verdict = cert.chain_complete_in_order(subject(scan(chain_pem=chain, trust=trust)))
    check(verdict, status, code, text or "")


# ------------------------------------------------------------------------------------------
# Every CERT judge: no session, no host, garbage
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("judge", ALL_CERT_JUDGES)
def test_no_starttls_defers_to_tls01(judge: Judge) -> None:
    check(judge(subject(scan(**NO_STARTTLS))), N, None, "no TLS session to judge: TLS-01 fails")


@pytest.mark.parametrize("judge", ALL_CERT_JUDGES)
def test_host_not_probed(judge: Judge) -> None:
    check(judge(subject(probed=False)), U, None, "not probed in this run")


@pytest.mark.parametrize("judge", ALL_CERT_JUDGES[1:])
def test_no_chain_recorded(judge: Judge) -> None:
    check(judge(subject(scan(chain_pem=()))), U, None, "no certificate recorded")


@pytest.mark.parametrize("judge", ALL_CERT_JUDGES)
def test_compliant_chain_passes_everything(judge: Judge) -> None:
    check(judge(subject(scan(V4), scan(V6))), P)


@settings(max_examples=40, deadline=None)
@given(
    chain=st.lists(
        st.one_of(
            st.text(max_size=200),
            st.binary(max_size=120).map(
                lambda b: (
                    "-----BEGIN CERTIFICATE-----\n"
                    + __import__("base64").b64encode(b).decode()
                    + "\n-----END CERTIFICATE-----\n"
                )
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_garbage_pem_is_inconclusive_never_an_exception(chain: Sequence[str]) -> None:
    s = subject(scan(chain_pem=tuple(chain)))
    for judge in ALL_CERT_JUDGES[1:]:
        verdict = judge(s)
        assert verdict.status is U, verdict
        assert "certificate 1 of the served chain cannot be read" in verdict.summary
    assert cert.chain_trusted(s).status is P  # the collector's validation is a fact of its own
    failed = cert.chain_trusted(subject(scan(chain_pem=tuple(chain), trust=MOZILLA_FAILED)))
    assert failed.status is F
