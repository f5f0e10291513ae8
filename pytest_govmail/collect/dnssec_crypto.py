"""Verifying one RRSIG with dnspython's DNSSEC algorithms, and the proofs of non-existence.

dnspython's ``dns.dnssec.validate`` is the natural call, but dnspython 2.9 enables it only with
``cryptography>=50`` (for ML-DSA); where an older cryptography is installed (sslyze and nassl
pin their own), ``validate`` and ``sign`` raise ImportError though everything they need is
there. This module therefore does what ``dns.dnssec._validate_rrsig`` does, step for step (RFC
4035 section 5.3): the RRSIG must cover the RRset's type and class; candidate keys are the zone
DNSKEYs of the RRSIG's algorithm and key tag (RFC 4034 section 2.1.1, protocol 3, a revoked key
only for the DNSKEY RRset, RFC 5011 section 2.1); the validity window is checked; and the
signature is verified over dnspython's own signed-data construction
(``dns.dnssec._make_rrsig_signature_data``, RFC 4034 section 3.1.8.1) with dnspython's
per-algorithm public-key classes (``dns.dnssecalgs``), under dnspython's default algorithm
policy (RFC 8624). tests/test_dnssec_vectors.py holds it to RFC 8080's published example.

No network here: the collector (:mod:`pytest_govmail.collect.dnssec`) and the lab's zone signer
both use it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

import dns.dnssec
import dns.exception
import dns.name
import dns.rdatatype
import dns.rrset
from cryptography.exceptions import InvalidSignature
from dns.dnssecalgs.base import GenericPublicKey
from dns.dnssecalgs.ecdsa import PublicECDSAP256SHA256, PublicECDSAP384SHA384
from dns.dnssecalgs.eddsa import PublicED448, PublicED25519
from dns.dnssecalgs.rsa import (
    PublicRSASHA1,
    PublicRSASHA1NSEC3SHA1,
    PublicRSASHA256,
    PublicRSASHA512,
)
from dns.dnssectypes import Algorithm
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.dnskeybase import Flag

#: The algorithms a validator verifies (RFC 8624 section 3.1's MUST and RECOMMENDED ones).
PUBLIC_KEYS: dict[int, type[GenericPublicKey]] = {
    Algorithm.RSASHA1: PublicRSASHA1,
    Algorithm.RSASHA1NSEC3SHA1: PublicRSASHA1NSEC3SHA1,
    Algorithm.RSASHA256: PublicRSASHA256,
    Algorithm.RSASHA512: PublicRSASHA512,
    Algorithm.ECDSAP256SHA256: PublicECDSAP256SHA256,
    Algorithm.ECDSAP384SHA384: PublicECDSAP384SHA384,
    Algorithm.ED25519: PublicED25519,
    Algorithm.ED448: PublicED448,
}

#: Candidate keys tried for one RRSIG. Key tags may collide; a zone that publishes many keys
#: with one tag makes a validator try each (KeyTrap, CVE-2023-50387): at most this many are.
MAX_CANDIDATE_KEYS = 4


class BadSignature(Exception):
    """Why one RRSIG does not validate, in words for the evidence."""


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def candidate_keys(keys: Sequence[DNSKEY], rrsig: RRSIG) -> list[DNSKEY]:
    """The zone keys that may have made ``rrsig`` (``dns.dnssec._find_candidate_keys``)."""
    return [
        key
        for key in keys
        if key.algorithm == rrsig.algorithm
        and dns.dnssec.key_id(key) == rrsig.key_tag
        and key.flags & Flag.ZONE
        and key.protocol == 3
        and (not key.flags & Flag.REVOKE or rrsig.type_covered == dns.rdatatype.DNSKEY)
    ]


def verify_rrsig(
    rrset: dns.rrset.RRset,
    rrsig: RRSIG,
    signer: dns.name.Name,
    keys: Sequence[DNSKEY],
    now: float,
) -> None:
    """Return if ``rrsig`` validates ``rrset`` with one of ``keys`` of zone ``signer``; else
    raise :class:`BadSignature` saying why (expired, not yet valid, wrong key...)."""
    if rrsig.type_covered != rrset.rdtype or rrsig.rdclass != rrset.rdclass:
        raise BadSignature("the RRSIG covers another type")
    if rrsig.signer != signer:
        raise BadSignature(f"signed by {rrsig.signer}, not by the zone {signer}")
    if not rrset.name.is_subdomain(signer):
        raise BadSignature(f"the signer {signer} is not a parent of {rrset.name}")
    if rrsig.expiration < now:
        raise BadSignature(f"expired: the RRSIG ran out at {_when(rrsig.expiration)}")
    if rrsig.inception > now:
        raise BadSignature(f"not yet valid: the RRSIG starts at {_when(rrsig.inception)}")
    if rrsig.algorithm not in PUBLIC_KEYS:
        raise BadSignature(
            f"algorithm {Algorithm.to_text(rrsig.algorithm)} is not one a validator may use "
            "(RFC 8624)"
        )
    candidates = candidate_keys(keys, rrsig)
    if not candidates:
        raise BadSignature(
            f"wrong key: the zone has no DNSKEY with key tag {rrsig.key_tag} and algorithm "
            f"{Algorithm.to_text(rrsig.algorithm)}"
        )
    try:
        data = dns.dnssec._make_rrsig_signature_data(rrset, rrsig)
    except dns.exception.DNSException as exc:
        raise BadSignature(f"cannot build the signed data: {exc}") from None
    for key in candidates[:MAX_CANDIDATE_KEYS]:
        try:
            PUBLIC_KEYS[key.algorithm].from_dnskey(key).verify(rrsig.signature, data)
            return
        except (InvalidSignature, ValueError, dns.exception.DNSException):
            continue
    raise BadSignature(
        f"the signature does not verify with DNSKEY {rrsig.key_tag} (wrong key or altered data)"
    )


def nsec3_owner_hash(owner: dns.name.Name) -> str:
    """The hash an NSEC3 owner name carries in its first label (base32hex, upper case)."""
    return owner.labels[0].decode("ascii", "replace").upper()


def nsec3_next_hash(next_hashed: bytes) -> str:
    return base64.b32hexencode(next_hashed).decode("ascii").upper()
