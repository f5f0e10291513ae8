"""The DNSSEC walk against the lab DNS server: signed, unsigned, bogus and hostile zones.

A signed parent ``test.`` (the trust anchor) delegates to children in each state a validator
meets (RFC 4035 section 4.3): signed and valid, unsigned (no DS, proven by NSEC), signed with an
expired RRSIG, a DS matching no key, an RRSIG missing or made with a key the zone does not
publish, a DNSKEY set too large to check (KeyTrap), CNAMEs into and out of signed zones, a
CNAME loop, and a zone whose denial is NSEC3 (with an unsigned delegation of its own). The NSEC3
proof checks are also held to RFC 5155 Appendix B's own records.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_govmail.collect.dnssec import (
    MAX_ANCHOR_FILE,
    MAX_DNSKEYS,
    DnssecValidator,
    TrustAnchorError,
    _denial,
    _Reply,
    _wildcard_proof,
    _Zone,
    load_trust_anchors,
    parse_trust_anchors,
)
from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.lab.zone_signing import (
    LabKey,
    new_key,
    sign_rrset,
    sign_zone_nsec3_text,
    sign_zone_text,
)
from pytest_govmail.model.dns import Query
from pytest_govmail.model.dnssec import Security

NOW = int(time.time())
SOA = "@ 3600 IN SOA ns.test. host.test. 1 3600 600 604800 300\n@ 3600 IN NS ns.test.\n"


def child(origin: str, extra: str = "") -> str:
    return (
        f"$ORIGIN {origin}.\n{SOA}@ 3600 IN MX 10 mail\nmail 3600 IN A 192.0.2.1\n"
        f'_dmarc 3600 IN TXT "v=DMARC1; p=reject"\n{extra}'
    )


def resign(text: str, origin: str, rdtype: str, key: LabKey | None) -> str:
    """The signed zone with the apex RRSIG over ``rdtype`` replaced by one from ``key``
    (or removed)."""
    apex = dns.name.from_text(origin)
    zone = dns.zone.from_text(text, origin=apex, relativize=False)
    node = zone.find_node(apex)
    covered = dns.rdatatype.from_text(rdtype)
    node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covered)
    if key is not None:
        rdataset = node.get_rdataset(dns.rdataclass.IN, covered)
        assert rdataset is not None
        rrset = dns.rrset.from_rdata_list(apex, rdataset.ttl, list(rdataset))
        sig = sign_rrset(rrset, key, apex, NOW - 3600, NOW + 86400)
        node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covered, create=True).add(
            sig, rdataset.ttl
        )
    return zone.to_text(relativize=False)


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[LabDnsServer, str]]:
    keys = {name: new_key() for name in ("test", "good", "other", "expired", "nosig", "forged")}
    keys["huge"] = new_key()
    stranger = new_key()
    zones: dict[str, str] = {}
    parent = [f"$ORIGIN test.\n{SOA}"]

    def delegate(origin: str, key: LabKey | None) -> None:
        parent.append(f"{origin}. 3600 IN NS ns.test.\n")
        if key is not None:
            ds = dns.dnssec.make_ds(dns.name.from_text(origin), key.dnskey, "SHA256")
            parent.append(f"{origin}. 3600 IN DS {ds.to_text()}\n")

    extra = (
        "www 3600 IN CNAME mail.other.test.\n"
        "out 3600 IN CNAME mail.plain.test.\n"
        "loop1 3600 IN CNAME loop2\nloop2 3600 IN CNAME loop1\n"
        '*.wild 3600 IN TXT "from a wildcard"\n'
    )
    zones["good.test"] = sign_zone_text(child("good.test", extra), "good.test", keys["good"], NOW)
    delegate("good.test", keys["good"])
    zones["other.test"] = sign_zone_text(child("other.test"), "other.test", keys["other"], NOW)
    delegate("other.test", keys["other"])
    zones["plain.test"] = child("plain.test", "alias 3600 IN CNAME mail.good.test.\n")
    delegate("plain.test", None)
    zones["expired.test"] = sign_zone_text(
        child("expired.test"), "expired.test", keys["expired"], NOW, expired="MX"
    )
    delegate("expired.test", keys["expired"])
    zones["wrongkey.test"] = sign_zone_text(child("wrongkey.test"), "wrongkey.test", new_key(), NOW)
    delegate("wrongkey.test", stranger)
    nosig = sign_zone_text(child("nosig.test"), "nosig.test", keys["nosig"], NOW)
    zones["nosig.test"] = resign(nosig, "nosig.test", "MX", None)
    delegate("nosig.test", keys["nosig"])
    forged = sign_zone_text(child("forged.test"), "forged.test", keys["forged"], NOW)
    zones["forged.test"] = resign(forged, "forged.test", "MX", stranger)
    delegate("forged.test", keys["forged"])
    many = "".join(f"@ 3600 IN DNSKEY {new_key().dnskey.to_text()}\n" for _ in range(MAX_DNSKEYS))
    zones["huge.test"] = sign_zone_text(child("huge.test", many), "huge.test", keys["huge"], NOW)
    delegate("huge.test", keys["huge"])
    # Owner names and TXT data a hostile zone owner writes: ESC sequences, a bidi override
    # (U+202E as UTF-8, \226\128\174), a C1 CSI (\194\155), markup (RFC 1035 \DDD escapes).
    hostile = (
        "\\027[2J\\226\\128\\174x<b>\\194\\155 3600 IN A 192.0.2.9\n"
        '@ 3600 IN TXT "\\027]0;owned\\007 \\226\\128\\174exe.txt <script>"\n'
    )
    keys["hostile"] = new_key()
    zones["hostile.test"] = sign_zone_text(
        child("hostile.test", hostile), "hostile.test", keys["hostile"], NOW
    )
    delegate("hostile.test", keys["hostile"])
    zones["dark.test"] = child("dark.test")
    delegate("dark.test", None)
    # An NSEC3 zone (RFC 5155) with an unsigned delegation of its own.
    hashed = child(
        "hashed.test",
        'sub 3600 IN NS ns.test.\nwww.deep 3600 IN A 192.0.2.2\n*.wild 3600 IN TXT "w"\n',
    )
    keys["hashed"] = new_key()
    zones["hashed.test"] = sign_zone_nsec3_text(hashed, "hashed.test", keys["hashed"], NOW)
    delegate("hashed.test", keys["hashed"])
    zones["sub.hashed.test"] = child("sub.hashed.test")
    zones["test"] = sign_zone_text("".join(parent), "test", keys["test"], NOW)
    ds = dns.dnssec.make_ds(dns.name.from_text("test."), keys["test"].dnskey, "SHA256")
    with LabDnsServer(zones, faults={"dark.test": Fault.DROP}) as server:
        yield server, f"test. IN DS {ds.to_text()}\n"


def validate(lab: tuple[LabDnsServer, str], name: str, rdtype: str = "MX", **kw: object):  # type: ignore[no-untyped-def]
    server, anchor = lab
    validator = DnssecValidator(
        [server.address],
        parse_trust_anchors(anchor, "test anchor"),
        timeout=1.0,
        **kw,  # type: ignore[arg-type]
    )
    return validator.validate_sync([Query.of(name, rdtype)])[Query.of(name, rdtype)]


@pytest.mark.parametrize(
    ("name", "rdtype", "result", "reason"),
    [
        ("good.test", "MX", Security.SECURE, "validates from the trust anchor"),
        ("_dmarc.good.test", "TXT", Security.SECURE, "validates"),
        ("nothere.good.test", "TXT", Security.SECURE, "NXDOMAIN, proven: NSEC"),
        ("good.test", "AAAA", Security.SECURE, "no data, proven: NSEC at good.test lists no AAAA"),
        ("www.good.test", "A", Security.SECURE, "validates"),  # CNAME into another signed zone
        ("out.good.test", "A", Security.INSECURE, "plain.test is an unsigned zone"),
        ("alias.plain.test", "A", Security.INSECURE, "plain.test is an unsigned zone"),
        ("plain.test", "MX", Security.INSECURE, "proves there is no DS"),
        ("expired.test", "MX", Security.BOGUS, "expired.test/MX: expired: the RRSIG ran out"),
        ("_dmarc.expired.test", "TXT", Security.SECURE, "validates"),
        ("wrongkey.test", "MX", Security.BOGUS, "wrong key: no DNSKEY matches the DS"),
        ("nosig.test", "MX", Security.BOGUS, "nosig.test/MX: missing RRSIG"),
        ("forged.test", "MX", Security.BOGUS, "wrong key: the zone has no DNSKEY with key tag"),
        ("huge.test", "MX", Security.BOGUS, "KeyTrap"),
        ("loop1.good.test", "A", Security.INDETERMINATE, "CNAME chain is too long"),
        ("dark.test", "MX", Security.INSECURE, "dark.test is an unsigned zone"),
        ("mail.example", "A", Security.INDETERMINATE, "no trust anchor covers mail.example"),
        ("hashed.test", "MX", Security.SECURE, "validates"),
        ("nothere.hashed.test", "TXT", Security.SECURE, "NXDOMAIN, proven: NSEC3 proves"),
        ("hashed.test", "AAAA", Security.SECURE, "no data, proven: NSEC3 for hashed.test"),
        ("deep.hashed.test", "A", Security.SECURE, "no data, proven: NSEC3 for deep"),  # ENT
        ("x.deep.hashed.test", "A", Security.SECURE, "NXDOMAIN, proven: NSEC3"),
        ("sub.hashed.test", "MX", Security.INSECURE, "sub.hashed.test is an unsigned zone"),
        ("any.wild.good.test", "TXT", Security.SECURE, "validates"),  # wildcard, NSEC proof
        ("any.wild.hashed.test", "TXT", Security.SECURE, "validates"),  # wildcard, NSEC3 proof
    ],
)
def test_validation(
    lab: tuple[LabDnsServer, str], name: str, rdtype: str, result: Security, reason: str
) -> None:
    chain = validate(lab, name, rdtype)
    assert (chain.result, reason in chain.reason) == (result, True), chain
    assert chain.steps and (chain.anchor.startswith("test anchor: test") or "no trust" in reason)


def test_secure_chain_records_every_link(lab: tuple[LabDnsServer, str]) -> None:
    chain = validate(lab, "good.test")
    assert [(s.what, s.question, s.result) for s in chain.steps] == [
        ("anchor", "test/DNSKEY", Security.SECURE),
        ("DS", "good.test/DS", Security.SECURE),
        ("DNSKEY", "good.test/DNSKEY", Security.SECURE),
        ("answer", "good.test/MX", Security.SECURE),
    ]
    assert any("RRSIG" in r for r in chain.steps[-1].records)
    assert not any(s.records for s in chain.steps[:-1])  # secure links: tags, not records


def test_lookup_failure_is_indeterminate(lab: tuple[LabDnsServer, str]) -> None:
    server, _ = lab
    server.set_fault("good.test", Fault.SERVFAIL)
    try:
        chain = validate(lab, "good.test")
    finally:
        server.set_fault("good.test", Fault.NONE)
    assert chain.result is Security.INDETERMINATE and "SERVFAIL" in chain.reason


def test_trusted_resolver_without_ad_is_insecure(lab: tuple[LabDnsServer, str]) -> None:
    chain = validate(lab, "good.test", trusted_resolver=True)  # the lab never sets AD
    assert chain.result is Security.INSECURE
    assert [s.what for s in chain.steps] == ["resolver AD"]


@pytest.mark.parametrize(
    "text",
    ["", "; only a comment\n", "example. IN A 192.0.2.1\n", "example. IN DS 1 8 2 zz\n"],
)
def test_bad_trust_anchor_files(text: str) -> None:
    with pytest.raises(TrustAnchorError):
        parse_trust_anchors(text, "f")


#: Raw C0/C1 controls and bidi overrides or isolates (tests/test_hostile_payloads.py's set).
RAW_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


@pytest.mark.parametrize(
    ("name", "rdtype", "shown"),
    [
        ("hostile.test", "TXT", r"\027]0;owned\007 \226\128\174exe.txt"),  # the records
        (r"\027[2J\226\128\174x<b>\194\155.hostile.test", "TXT", r"\027[2j\226\128\174x"),
    ],
    ids=["txt-data", "owner-name-nodata"],
)
def test_hostile_zone_data_is_kept_inert(
    lab: tuple[LabDnsServer, str], name: str, rdtype: str, shown: str
) -> None:
    """A signed zone's names and data reach the evidence and the verdicts' details (the
    question, each step's reason and records) in DNS presentation form, every byte outside
    printable ASCII as \\DDD (RFC 1035 section 5.1), names lower-cased: no control or bidi
    character survives. (Markup stays: the reports escape it on output.)"""
    chain = validate(lab, name, rdtype)
    assert chain.result is Security.SECURE, chain.reason
    texts = [chain.reason, chain.name]
    for step in chain.steps:
        texts += [step.question, step.reason, *step.records]
    assert [t for t in texts if RAW_CONTROLS.search(t)] == []
    assert any(shown in t for t in texts), texts


def test_trust_anchor_file_is_read_bounded(tmp_path: Path) -> None:
    """A FIFO would block a plain read forever and /dev/zero never ends; a huge file is not
    read into memory: each is refused with the file named, as the other input files are."""
    fifo = tmp_path / "anchors.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.zone"
    huge.write_bytes(b"; padding\n" * (MAX_ANCHOR_FILE // 10 + 1))
    binary = tmp_path / "binary.zone"
    binary.write_bytes(b"\xff\xfe. DS 1 8 2 00\n")
    for path, why in (
        (fifo, "not a regular file"),
        (Path("/dev/zero"), "not a regular file"),
        (huge, "more than a trust-anchor file can be"),
        (binary, "not UTF-8 text"),
        (tmp_path / "absent.zone", "cannot read trust-anchor file"),
    ):
        with pytest.raises(TrustAnchorError, match=why) as caught:
            load_trust_anchors(path)
        assert str(path) in str(caught.value)


# RFC 5155 Appendix B: the example zone's NSEC3 records (salt aabbccdd, 12 iterations, opt-out
# set), signed here with a lab key for the zone "example" (the RFC's RSA signatures expired).
B1 = [
    "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr "
    "MX DNSKEY NS SOA NSEC3PARAM RRSIG",
    "b4um86eghhds6nea196smvmlo4ors995 NSEC3 1 1 12 aabbccdd gjeqe526plbf1g8mklp59enfd789njgi "
    "MX RRSIG",
    "35mthgpgcu1qg68fab165klnsnk3dpvl NSEC3 1 1 12 aabbccdd b4um86eghhds6nea196smvmlo4ors995 "
    "NS DS RRSIG",
]


def nsec3_reply(lines: list[str], key: LabKey, flags: str = "1 1") -> _Reply:
    apex = dns.name.from_text("example.")
    authority: list[dns.rrset.RRset] = []
    for line in lines:
        owner, _type, rdata = line.split(" ", 2)
        rdata = rdata.replace("1 1 12", f"{flags} 12", 1)
        rrset = dns.rrset.from_text(dns.name.from_text(owner, apex), 3600, "IN", "NSEC3", rdata)
        sig = sign_rrset(rrset, key, apex, NOW - 3600, NOW + 3600)
        authority += [rrset, dns.rrset.from_rdata(rrset.name, 3600, sig)]
    return _Reply(3, (), tuple(authority))


def test_rfc5155_b1_name_error_with_opt_out_is_insecure() -> None:
    key = new_key()
    zone = _Zone(dns.name.from_text("example."), Security.SECURE, (key.dnskey,))
    name = dns.name.from_text("a.c.x.w.example.")
    denial, _ = _denial(name, dns.rdatatype.A, nsec3_reply(B1, key), zone, NOW)
    assert denial.proven and denial.optout  # opt-out: an unsigned delegation may exist there


def test_rfc5155_b1_name_error_without_opt_out_is_proven() -> None:
    key = new_key()
    zone = _Zone(dns.name.from_text("example."), Security.SECURE, (key.dnskey,))
    name = dns.name.from_text("a.c.x.w.example.")
    denial, _ = _denial(name, dns.rdatatype.A, nsec3_reply(B1, key, "1 0"), zone, NOW)
    assert denial.proven and not denial.optout, denial.reason
    missing_wildcard = nsec3_reply(B1[:2], key, "1 0")
    denial, _ = _denial(name, dns.rdatatype.A, missing_wildcard, zone, NOW)
    assert not denial.proven and "*.x.w.example" in denial.reason


def test_rfc5155_b3_opt_out_delegation_has_no_ds() -> None:
    key = new_key()
    zone = _Zone(dns.name.from_text("example."), Security.SECURE, (key.dnskey,))
    reply = nsec3_reply([B1[2], B1[0]], key)
    denial, _ = _denial(dns.name.from_text("c.example."), dns.rdatatype.DS, reply, zone, NOW)
    assert denial.proven and denial.optout


def test_nsec3_signed_by_another_key_proves_nothing() -> None:
    zone = _Zone(dns.name.from_text("example."), Security.SECURE, (new_key().dnskey,))
    denial, _ = _denial(
        dns.name.from_text("a.c.x.w.example."),
        dns.rdatatype.A,
        nsec3_reply(B1, new_key()),
        zone,
        NOW,
    )
    assert not denial.proven and "wrong key" in denial.reason


def test_nsec3_with_too_many_iterations_is_insecure() -> None:
    key = new_key()
    zone = _Zone(dns.name.from_text("example."), Security.SECURE, (key.dnskey,))
    costly = [line.replace(" 12 ", " 500 ") for line in B1]
    denial, _ = _denial(
        dns.name.from_text("a.c.x.w.example."), dns.rdatatype.A, nsec3_reply(costly, key), zone, NOW
    )
    assert denial.insecure and "RFC 9276" in denial.reason


def test_a_wildcard_answer_without_its_proof_is_bogus(lab: tuple[LabDnsServer, str]) -> None:
    """RFC 4035 section 5.3.4: a signed wildcard expansion replayed without the NSEC showing
    that the name itself does not exist is not enough."""
    server, anchor = lab
    validator = DnssecValidator([server.address], parse_trust_anchors(anchor, "a"), timeout=1.0)
    chain = validator.validate_sync([Query.of("any.wild.good.test", "TXT")])
    step = chain[Query.of("any.wild.good.test", "TXT")].steps[-1]
    assert step.result is Security.SECURE
    key = new_key()
    apex = dns.name.from_text("good.test.")
    expanded = dns.rrset.from_text("any.wild.good.test.", 3600, "IN", "TXT", '"from a wildcard"')
    wild = dns.rrset.from_text("*.wild.good.test.", 3600, "IN", "TXT", '"from a wildcard"')
    sig = sign_rrset(wild, key, apex, NOW - 60, NOW + 60)
    zone = _Zone(apex, Security.SECURE, (key.dnskey,))
    sigs = dns.rrset.from_rdata(expanded.name, 3600, sig)
    why = _wildcard_proof(expanded, sigs, _Reply(0), zone, NOW)
    assert why is not None and "no signed NSEC or NSEC3 proves that" in why


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_any_trust_anchor_text_parses_or_is_refused(text: str) -> None:
    """A trust-anchor file is outside input: it parses to anchors or raises TrustAnchorError,
    never anything else."""
    try:
        anchors = parse_trust_anchors(text, "f")
    except TrustAnchorError:
        return
    assert anchors.ds or anchors.dnskey


@given(
    st.lists(
        st.sampled_from(
            [
                "example.",
                "@",
                "IN",
                "DS",
                "DNSKEY",
                "3600",
                "1",
                "8",
                "2",
                "257",
                "3",
                "15",
                "AA==",
                "zz",
                ";",
                "\n",
                "\x00",
                "é",
            ]
        ),
        max_size=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_anchor_like_tokens_parse_or_are_refused(tokens: list[str]) -> None:
    try:
        anchors = parse_trust_anchors(" ".join(tokens), "f")
    except TrustAnchorError as exc:
        assert str(exc).startswith("f")  # names the file
        return
    assert anchors.zones()
