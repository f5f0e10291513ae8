"""DNSSEC primitives held to published vectors no one here wrote.

- RFC 8080 section 6.1 (Ed25519 for DNSSEC), as corrected by verified erratum 4935 (the RFC's
  printed RRSIGs give Labels=3 for example.com., which has 2): the private keys, the DNSKEYs, the
  DS digests and the RRSIGs over ``example.com. 3600 IN MX 10 mail.example.com.``, made at
  inception 20150729220000 and expiring 20150819220000. Ed25519 signatures are deterministic, so
  the lab's signer must reproduce the published signatures byte for byte, and the collector's
  verifier must accept them and nothing altered.
- The IANA root trust anchors (https://data.iana.org/root-anchors/root-anchors.xml): KSK-2017
  and KSK-2024 as DS records.
- RFC 5155 Appendix A: NSEC3 hashes of the example zone (salt aabbccdd, 12 iterations), as the
  collector's NSEC3 proofs compute them (with dnspython's ``nsec3_hash``).
"""

from __future__ import annotations

import base64

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from dns.dnssecalgs.eddsa import PrivateED25519
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

from pytest_govmail.collect.dnssec import ROOT_ANCHORS, _ds_matches, load_trust_anchors
from pytest_govmail.collect.dnssec_crypto import BadSignature, verify_rrsig
from pytest_govmail.lab.zone_signing import LabKey, sign_rrset

ORIGIN = dns.name.from_text("example.com.")
INCEPTION, EXPIRATION = 1438207200, 1440021600
DURING = 1439000000

#: RFC 8080 section 6.1 (erratum 4935): private key, DNSKEY, key tag, DS digest, RRSIG signature.
RFC8080 = [
    (
        "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
        "257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        3613,
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    ),
    (
        "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
        "257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
        35217,
        "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
        "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
    ),
]


def mx(text: str = "10 mail.example.com.") -> dns.rrset.RRset:
    return dns.rrset.from_text(ORIGIN, 3600, "IN", "MX", text)


def dnskey(text: str) -> DNSKEY:
    key = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, text)
    assert isinstance(key, DNSKEY)
    return key


def rrsig(tag: int, signature: str, labels: int = 2) -> RRSIG:
    text = f"MX 15 {labels} 3600 {EXPIRATION} {INCEPTION} {tag} example.com. {signature}"
    sig = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.RRSIG, text)
    assert isinstance(sig, RRSIG)
    return sig


@pytest.mark.parametrize(("private", "key", "tag", "digest", "signature"), RFC8080)
def test_rfc8080_key_tag_and_ds(
    private: str, key: str, tag: int, digest: str, signature: str
) -> None:
    public = dnskey(key)
    assert dns.dnssec.key_id(public) == tag
    ds = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, f"{tag} 15 2 {digest}")
    assert _ds_matches(ORIGIN, public, ds)  # type: ignore[arg-type]
    other = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, f"{tag} 15 2 {'0' * 64}")
    assert not _ds_matches(ORIGIN, public, other)  # type: ignore[arg-type]


@pytest.mark.parametrize(("private", "key", "tag", "digest", "signature"), RFC8080)
def test_rfc8080_signature_verifies_and_nothing_altered_does(
    private: str, key: str, tag: int, digest: str, signature: str
) -> None:
    keys = [dnskey(key)]
    verify_rrsig(mx(), rrsig(tag, signature), ORIGIN, keys, DURING)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_rrsig(mx("20 mail.example.com."), rrsig(tag, signature), ORIGIN, keys, DURING)
    with pytest.raises(BadSignature, match="expired"):
        verify_rrsig(mx(), rrsig(tag, signature), ORIGIN, keys, EXPIRATION + 1)
    with pytest.raises(BadSignature, match="not yet valid"):
        verify_rrsig(mx(), rrsig(tag, signature), ORIGIN, keys, INCEPTION - 1)
    other = [dnskey(k) for _, k, t, _, _ in RFC8080 if t != tag]
    with pytest.raises(BadSignature, match="wrong key"):
        verify_rrsig(mx(), rrsig(tag, signature), ORIGIN, other, DURING)
    with pytest.raises(BadSignature, match="not by the zone"):
        verify_rrsig(mx(), rrsig(tag, signature), dns.name.from_text("com."), keys, DURING)


def test_rfc8080_as_first_printed_is_refused() -> None:
    """The RFC's own printed RRSIG (Labels=3, before erratum 4935) does not validate."""
    printed = (
        "Edk+IB9KNNWg0HAjm7FazXyrd5m3Rk8zNZbvNpAcM+eysqcUOMIjWoevFkjH5GaMWeG96GUVZu6ECKOQmemHDg=="
    )
    with pytest.raises(BadSignature):
        verify_rrsig(mx(), rrsig(3613, printed, labels=3), ORIGIN, [dnskey(RFC8080[0][1])], DURING)


@pytest.mark.parametrize(("private", "key", "tag", "digest", "signature"), RFC8080)
def test_lab_signer_reproduces_rfc8080(
    private: str, key: str, tag: int, digest: str, signature: str
) -> None:
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(private))
    lab_key = LabKey(PrivateED25519(key=raw), dnskey(key))
    made = sign_rrset(mx(), lab_key, ORIGIN, INCEPTION, EXPIRATION)
    assert made == rrsig(tag, signature)


def test_packaged_root_anchors_are_ianas() -> None:
    anchors = load_trust_anchors()
    assert anchors.source == "IANA root trust anchors (packaged)"
    assert ROOT_ANCHORS.name == "root-anchors.zone"
    found = {
        (d.key_tag, d.algorithm, d.digest_type, d.digest.hex()) for d in anchors.ds[dns.name.root]
    }
    assert found == {
        (20326, 8, 2, "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8d"),
        (38696, 8, 2, "683d2d0acb8c9b712a1948b27f741219298d0a450d612c483af444a4c0fb2b16"),
    }
    assert anchors.for_name(dns.name.from_text("exemplary-dept.gov.uk")) == dns.name.root


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
        ("a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ("ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ("w.example", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        ("*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ("x.w.example", "b4um86eghhds6nea196smvmlo4ors995"),
    ],
)
def test_rfc5155_appendix_a_hashes(name: str, hashed: str) -> None:
    assert dns.dnssec.nsec3_hash(name, "aabbccdd", 12, 1) == hashed.upper()
