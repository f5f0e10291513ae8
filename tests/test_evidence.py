"""The evidence file: exact round trips, and clear refusals of files it cannot trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.model import evidence
from pytest_govmail.model import tls as model_tls
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.model.target import Role, Target
from pytest_govmail.model.tls import (
    KeyExchange,
    SmtpDialogue,
    TlsScan,
    TlsVersion,
    TrustCheck,
    VersionProbe,
)

names = st.from_regex(r"[a-z0-9_-]{1,12}(\.[a-z0-9-]{1,12}){1,3}", fullmatch=True)
errors = st.none() | st.builds(ProbeError, st.sampled_from(ErrorKind), st.text(max_size=40))
results = st.builds(
    DnsResult,
    name=names,
    rdtype=st.sampled_from(["A", "AAAA", "MX", "TXT", "PTR"]),
    rcode=st.sampled_from(["NOERROR", "NXDOMAIN", None]),
    records=st.lists(st.text(max_size=60), max_size=3).map(tuple),
    ttl=st.none() | st.integers(0, 2**31 - 1),
    authenticated=st.booleans(),
    cname_chain=st.lists(names, max_size=2).map(tuple),
    error=errors,
    resolver=st.text(max_size=20),
    elapsed_ms=st.floats(0, 1e6, allow_nan=False),
    at=st.text(max_size=30),
)
targets = st.builds(
    Target,
    domain=names,
    roles=st.frozensets(st.sampled_from(Role)),
    dkim_selectors=st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=3).map(tuple),
    source=st.text(max_size=20),
)


@given(st.lists(targets, max_size=4), st.lists(results, max_size=8))
def test_round_trip_is_exact(ts: list[Target], rs: list[DnsResult]) -> None:
    original = evidence.Evidence(tuple(ts), DnsSnapshot(rs), {"resolver": "x"}, {"python": "3"})
    back = evidence.decode(json.loads(json.dumps(evidence.encode(original))))
    assert back.targets == original.targets
    assert sorted(back.dns, key=lambda r: r.query) == sorted(original.dns, key=lambda r: r.query)
    assert back.settings == original.settings


def test_write_then_read(tmp_path: Path) -> None:
    ev = evidence.Evidence(
        (Target("a.gov.uk"),), DnsSnapshot([DnsResult("a.gov.uk", "MX", "NXDOMAIN")])
    )
    path = tmp_path / "sub" / "evidence.json"
    evidence.write(ev, path)
    assert evidence.read(path).dns.get("a.gov.uk", "MX") == DnsResult("a.gov.uk", "MX", "NXDOMAIN")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "corrupt or truncated JSON"),
        ('{"schema_version": 1, "targets": [', "corrupt or truncated JSON"),
        ("[]", "not an evidence file"),
        ('{"targets": []}', "no schema_version"),
        ('{"schema_version": 99, "targets": []}', "newer than this pytest-govmail"),
        ('{"schema_version": 1, "targets": [{"nodomain": 1}]}', "malformed evidence"),
        (
            '{"schema_version": 1, "targets": [], "dns": [{"name": "a", "rdtype": "A",'
            ' "rcode": null, "error": {"kind": "bogus", "detail": ""}}]}',
            "malformed evidence",
        ),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(content)
    with pytest.raises(evidence.EvidenceError, match=message):
        evidence.read(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(evidence.EvidenceError, match="cannot read"):
        evidence.read(tmp_path / "absent.json")


def test_merge_unites_shards() -> None:
    a = evidence.Evidence(
        (Target("a.gov.uk"),), DnsSnapshot([DnsResult("a.gov.uk", "MX", "NXDOMAIN")])
    )
    b = evidence.Evidence(
        (Target("b.gov.uk"),), DnsSnapshot([DnsResult("b.gov.uk", "MX", "NXDOMAIN")])
    )
    merged = evidence.merge([b, a])
    assert [t.domain for t in merged.targets] == ["a.gov.uk", "b.gov.uk"]
    assert len(merged.dns) == 2


tls_scans = st.builds(
    TlsScan,
    host=names,
    address=st.sampled_from(["192.0.2.1", "2001:db8::25"]),
    port=st.integers(1, 65535),
    at=st.text(max_size=20),
    elapsed_ms=st.floats(0, 1e6, allow_nan=False),
    connections=st.integers(0, 1000),
    handshakes=st.integers(0, 1000),
    error=errors,
    smtp=st.none()
    | st.builds(
        SmtpDialogue,
        banner=st.none() | st.text(max_size=40),
        banner_code=st.none() | st.integers(100, 599),
        ehlo=st.lists(st.text(max_size=20), max_size=4).map(tuple),
        starttls_offered=st.none() | st.booleans(),
        starttls_reply=st.none() | st.text(max_size=20),
    ),
    versions=st.lists(
        st.builds(
            VersionProbe,
            version=st.sampled_from(TlsVersion),
            accepted=st.none() | st.booleans(),
            detail=st.text(max_size=20),
            cipher_suites=st.lists(st.text(max_size=30), max_size=3).map(tuple),
            preferred=st.none() | st.text(max_size=30),
        ),
        max_size=6,
    ).map(tuple),
    key_exchange=st.none()
    | st.builds(
        KeyExchange,
        kind=st.sampled_from(["ECDHE", "DHE", "RSA"]),
        group=st.none() | st.text(max_size=10),
        bits=st.none() | st.integers(0, 8192),
    ),
    compression=st.none() | st.booleans(),
    secure_renegotiation=st.none() | st.booleans(),
    client_renegotiation=st.none() | st.booleans(),
    chain_pem=st.lists(st.text(max_size=50), max_size=3).map(tuple),
    trust=st.lists(
        st.builds(TrustCheck, store=st.text(max_size=10), verified=st.booleans(), detail=st.text())
    ).map(tuple),
    profile=st.text(max_size=20),
)


@given(tls_scans)
def test_tls_scan_round_trip_is_exact(scan: TlsScan) -> None:
    assert model_tls.from_json(json.loads(json.dumps(model_tls.to_json(scan)))) == scan
