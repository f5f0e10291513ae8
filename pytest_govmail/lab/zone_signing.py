"""DNSSEC for the demo lab: a signed ``gov.uk`` parent, one signed child, one with a bad signature.

The lab plays the public DNS under its own trust anchor (RFC 4035 section 4.4 lets a validator
be configured with any zone's key): it serves a ``gov.uk`` zone signed with a fresh key,
delegating every lab zone below it; the demo's settings take that key's DS as the trust anchor
(``--govmail-trust-anchor``). One child zone is signed, its DS in the parent
(:data:`SIGNED`); one is signed but its MX RRSIG has expired (:data:`BOGUS`, the commonest
real failure: a zone that stopped being re-signed); every other child is unsigned, which the
parent proves with NSEC (an insecure delegation, RFC 4035 section 5.2).

Zones are signed when the lab starts, with dnspython's ``dns.dnssec.sign_zone`` (NSEC chain,
RRSIGs), Ed25519 keys (RFC 8080) generated per start, and signatures over dnspython's signed
data made by :func:`sign_rrset`, which mirrors ``dns.dnssec.sign`` (disabled by dnspython where
cryptography is older than 50; see :mod:`pytest_govmail.collect.dnssec_crypto`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.transaction
import dns.zone
from dns.dnssecalgs.eddsa import PrivateED25519
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

#: The lab's signed parent zone: the trust anchor's zone.
PARENT = "gov.uk"
#: The department whose zone is signed and validates.
SIGNED = "exemplary-dept.gov.uk"
#: The department whose zone is signed, but whose MX RRSIG expired a day ago.
BOGUS = "monitoring-dept.gov.uk"

_DAY = 86400


@dataclass(frozen=True)
class LabKey:
    """A signing key: the private half and its DNSKEY (flags 257: KSK and ZSK in one)."""

    private: PrivateED25519
    dnskey: DNSKEY


def new_key() -> LabKey:
    """A fresh Ed25519 key (RFC 8080)."""
    private = PrivateED25519.generate()
    assert isinstance(private, PrivateED25519)
    return LabKey(private, private.public_key().to_dnskey(flags=257))  # KSK and ZSK in one


def sign_rrset(
    rrset: dns.rrset.RRset, key: LabKey, signer: dns.name.Name, inception: int, expiration: int
) -> RRSIG:
    """An RRSIG over ``rrset`` (RFC 4034 section 3), as ``dns.dnssec.sign`` makes one."""
    labels = len(rrset.name) - 1 - (1 if rrset.name.is_wild() else 0)
    template = RRSIG(  # type: ignore[no-untyped-call]
        rdclass=rrset.rdclass,
        rdtype=dns.rdatatype.RRSIG,
        type_covered=rrset.rdtype,
        algorithm=key.dnskey.algorithm,
        labels=labels,
        original_ttl=rrset.ttl,
        expiration=expiration,
        inception=inception,
        key_tag=dns.dnssec.key_id(key.dnskey),
        signer=signer,
        signature=b"",
    )
    data = dns.dnssec._make_rrsig_signature_data(rrset, template)
    signed = template.replace(signature=key.private.sign(data, verify=False))
    assert isinstance(signed, RRSIG)
    return signed


def sign_zone_text(
    text: str, origin: str, key: LabKey, now: int, expired: str | None = None
) -> str:
    """The zone ``text`` signed with ``key`` (its DNSKEY added, an NSEC chain made); ``expired``
    names a type whose RRSIG at the apex is made to have run out a day ago."""
    apex = dns.name.from_text(origin)
    zone = dns.zone.from_text(text, origin=apex, relativize=False, check_origin=False)

    def signer(txn: dns.transaction.Transaction, rrset: dns.rrset.RRset) -> None:
        inception, expiration = now - _DAY, now + 30 * _DAY
        if expired and rrset.name == apex and rrset.rdtype == dns.rdatatype.from_text(expired):
            inception, expiration = now - 31 * _DAY, now - _DAY
        txn.add(rrset.name, rrset.ttl, sign_rrset(rrset, key, apex, inception, expiration))

    dns.dnssec.sign_zone(zone, keys=[(key.private, key.dnskey)], rrset_signer=signer)
    return zone.to_text(relativize=False)


def sign_zone_nsec3_text(
    text: str, origin: str, key: LabKey, now: int, salt: str = "aabbccdd", iterations: int = 0
) -> str:
    """The zone ``text`` signed with ``key`` and denial by NSEC3 (RFC 5155 section 7.1), which
    ``dns.dnssec.sign_zone`` does not make yet: an NSEC3 per name (empty non-terminals too),
    hashed with dnspython's ``nsec3_hash``, chained in hash order, each with its type bitmap;
    no opt-out. Names below a delegation are not signed (glue), nor is the delegation's NS."""
    apex = dns.name.from_text(origin)
    zone = dns.zone.from_text(text, origin=apex, relativize=False, check_origin=False)
    inception, expiration = now - _DAY, now + 30 * _DAY
    soa = zone.get_rdataset(apex, dns.rdatatype.SOA)
    assert soa is not None
    ttl = min(soa.ttl, min(rd.minimum for rd in soa))
    with zone.writer() as txn:
        txn.add(apex, soa.ttl, key.dnskey)
        txn.add(apex, 0, dns.rdata.from_text("IN", "NSEC3PARAM", f"1 0 {iterations} {salt}"))
        names: set[dns.name.Name] = set()
        cuts = {
            n for n in txn.iterate_names() if n != apex and txn.get(n, dns.rdatatype.NS) is not None
        }
        for name in list(txn.iterate_names()):
            if any(name != cut and name.is_subdomain(cut) for cut in cuts):
                continue  # glue below a delegation
            for depth in range(len(apex), len(name) + 1):
                names.add(name.split(depth)[1])  # the name and its empty non-terminals
        for name in sorted(names):
            node = txn.get_node(name)
            for rdataset in list(node.rdatasets) if node is not None else []:
                if name in cuts and rdataset.rdtype != dns.rdatatype.DS:
                    continue
                rrset = dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
                txn.add(name, rdataset.ttl, sign_rrset(rrset, key, apex, inception, expiration))
        hashed = sorted((dns.dnssec.nsec3_hash(name, salt, iterations, 1), name) for name in names)
        for index, (digest, name) in enumerate(hashed):
            node = txn.get_node(name)
            types = {r.rdtype for r in node.rdatasets} if node is not None else set()
            if types and not (name in cuts and dns.rdatatype.DS not in types):
                types.add(dns.rdatatype.RRSIG)
            following = hashed[(index + 1) % len(hashed)][0]
            nsec3 = dns.rdata.from_text(
                "IN",
                "NSEC3",
                f"1 0 {iterations} {salt} {following} "
                + " ".join(dns.rdatatype.to_text(t) for t in sorted(types)),
            )
            owner = dns.name.Name((digest.lower().encode(), *apex.labels))
            rrset = dns.rrset.from_rdata(owner, ttl, nsec3)
            txn.add(owner, ttl, nsec3)
            txn.add(owner, ttl, sign_rrset(rrset, key, apex, inception, expiration))
    return zone.to_text(relativize=False)


@dataclass(frozen=True)
class SignedLab:
    """The lab's zones after signing, and the trust anchor a validator needs for them."""

    zones: dict[str, str]
    anchor: str


def sign_lab(zones: Mapping[str, str], now: float | None = None) -> SignedLab:
    """Add the signed ``gov.uk`` parent, delegating every lab zone directly below it, and sign
    :data:`SIGNED` and :data:`BOGUS`."""
    stamp = int(now if now is not None else time.time())
    out = dict(zones)
    parent = dns.name.from_text(PARENT)
    origins = {dns.name.from_text(o): o for o in zones}
    lines = [
        f"$ORIGIN {PARENT}.",
        "@ 3600 IN SOA ns1.lab-dns.example. hostmaster.lab-dns.example. 2026120301 3600 600 "
        "604800 300",
        "@ 3600 IN NS ns1.lab-dns.example.",
    ]
    # The lab's own gov.uk records (its psd=y DMARC record, which stops RFC 9989's tree walk
    # there) stay: only its SOA and apex NS are written above.
    for line in zones.get(PARENT, "").splitlines():
        words = line.split()
        if not words or words[0].startswith((";", "$")):
            continue
        if words[0] == "@" and any(w in ("SOA", "NS") for w in words[1:4]):
            continue
        lines.append(line)
    for name, origin in sorted(origins.items()):
        if not name.is_subdomain(parent) or name == parent:
            continue
        closest = max(
            (o for o in origins if name != o and name.is_subdomain(o)), key=len, default=parent
        )
        if closest != parent and closest.is_subdomain(parent):
            continue  # delegated by a lab zone below gov.uk, not by gov.uk
        lines.append(f"{origin}. 3600 IN NS ns1.lab-dns.example.")
        if origin in (SIGNED, BOGUS):
            key = new_key()
            ds = dns.dnssec.make_ds(name, key.dnskey, "SHA256")
            lines.append(f"{origin}. 3600 IN DS {ds.to_text()}")
            out[origin] = sign_zone_text(
                zones[origin], origin, key, stamp, expired="MX" if origin == BOGUS else None
            )
    key = new_key()
    out[PARENT] = sign_zone_text("\n".join(lines) + "\n", PARENT, key, stamp)
    anchor_ds = dns.dnssec.make_ds(parent, key.dnskey, "SHA256")
    anchor = (
        "; The demo lab's own DNSSEC trust anchor: the DS of its gov.uk zone's key, made when\n"
        "; the lab started (pytest_govmail.lab.zone_signing). Not the real gov.uk's.\n"
        f"{PARENT}. IN DS {anchor_ds.to_text()}\n"
    )
    return SignedLab(out, anchor)
