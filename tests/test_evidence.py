"""The evidence file: exact round trips, and clear refusals of files it cannot trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.model import evidence
from pytest_govmail.model import tls as model_tls
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError, Query
from pytest_govmail.model.dnssec import MAX_RECORDS_KEPT, DnssecChain, DnssecStep, Security
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
#: Target domains as a run writes them (normalised LDH names), the only ones a replay takes.
domains = st.from_regex(r"([a-z0-9]{1,6}(-[a-z0-9]{1,6})?\.){1,3}[a-z]{2,6}", fullmatch=True)
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
    domain=domains,
    roles=st.frozensets(st.sampled_from(Role)),
    dkim_selectors=st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=3).map(tuple),
    # What a run writes there (a domains file's name): text with no control or formatting
    # character, which a read would show as an escape (test_an_evidence_files_own_words_...).
    source=st.text(
        st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")), max_size=20
    ),
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


# --- hostile evidence files ----------------------------------------------------------------
# A replayed file may come from anyone (a shard's artefact, a colleague's laptop): whatever it
# holds, reading it gives EvidenceError naming the file and the reason, or a valid Evidence.

GOOD_HEAD = '{"schema_version": 1, "targets": [{"domain": "example.gov.uk"}], '


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="deep-nesting"),
        pytest.param(GOOD_HEAD + '"x": ' + "9" * 5000 + "}", "unreadable JSON", id="huge-int"),
        pytest.param(
            GOOD_HEAD + '"dns": [{"name": "a.b", "rdtype": "A", "ttl": 1e400}]}',
            "OverflowError",
            id="ttl-overflow",
        ),
        pytest.param('{"schema_version": true, "targets": []}', "no schema_version", id="bool"),
        pytest.param('{"schema_version": 0, "targets": []}', "no schema_version", id="zero"),
        pytest.param(
            '{"schema_version": 1, "targets": [{"domain": "<svg/onload=alert(1)>.evil.gov.uk"}]}',
            "is not a domain name",
            id="markup-domain",
        ),
        pytest.param(
            '{"schema_version": 1, "targets": [{"domain": "Example.GOV.uk"}]}',
            "is not a domain name",
            id="unnormalised-domain",
        ),
        pytest.param('{"schema_version": 1, "targets": [{"domain": 7}]}', "domain", id="int"),
        pytest.param("\xff\xfe", "not UTF-8", id="binary"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "evidence.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff\xfe" else b"\xff\xfe")
    with pytest.raises(evidence.EvidenceError, match=reason) as info:
        evidence.read(path)
    assert str(path) in str(info.value)


def test_only_regular_files_of_bounded_size_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    with pytest.raises(evidence.EvidenceError, match="not a regular file"):
        evidence.read(fifo)
    with pytest.raises(evidence.EvidenceError, match="not a regular file"):
        evidence.read(Path("/dev/zero"))  # a read of it never ends
    with pytest.raises(evidence.EvidenceError, match="not a regular file"):
        evidence.read(tmp_path)
    big = tmp_path / "big.json"
    big.write_text(GOOD_HEAD + '"pad": "' + "x" * 2000 + '"}')
    monkeypatch.setattr(evidence, "MAX_EVIDENCE_BYTES", 1000)
    with pytest.raises(evidence.EvidenceError, match=r"more than an? evidence file can be"):
        evidence.read(big)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
#: Documents shaped like evidence files, with any values where the fields are.
evidence_like = st.fixed_dictionaries(
    {"schema_version": st.just(1) | json_values, "targets": json_values},
    optional={
        key: json_values
        for key in ("dns", "tls", "policies", "messages", "inputs", "settings", "generator")
    },
)


@given(evidence_like)
def test_any_document_decodes_or_is_refused(document: dict[str, object]) -> None:
    try:
        evidence.decode(document, "fuzz.json")
    except evidence.EvidenceError as exc:
        assert str(exc).startswith("fuzz.json: ")


@given(st.binary(max_size=400))
def test_any_bytes_read_or_are_refused(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "evidence.json"
    path.write_bytes(data)
    try:
        evidence.read(path)
    except evidence.EvidenceError:
        pass


def test_replay_of_a_malformed_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "bad.json"
    bad.write_text('{"schema_version": 1, "targets": [{"domain": "<b>x</b>.gov.uk"}]}')
    result = pytester.runpytest(f"--govmail-replay={bad}", "--govmail-no-reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--govmail-replay: *bad.json: malformed evidence*not a domain*"])


def test_an_evidence_files_own_words_reach_every_output_inert(pytester: pytest.Pytester) -> None:
    """The resolver, the vantage point, the collection time and the tool versions a replayed
    file holds are shown in the header, the summary and the report's provenance: a hand-made
    file's control and formatting characters appear there as escapes, in every output."""
    release = Path(__file__).parent / "data" / "release-0.1.0-demo-evidence.json"
    data = json.loads(release.read_text("utf-8"))
    payload = "evil\x1b[2J\x1b]0;owned\x07\u202egnp.exe\x9b31m"
    data["settings"].update(
        {
            "resolver": payload,
            "vantage.ip_version": "auto",
            "vantage.canary": payload,
            "vantage.port25_detail": payload,
        }
    )
    data["started_at"] = "2026-12-01T00:00:00+00:00" + payload
    data["generator"]["pytest-govmail"] = payload
    hostile = pytester.path / "hostile.json"
    hostile.write_text(json.dumps(data), "utf-8")
    result = pytester.runpytest(
        f"--govmail-replay={hostile}",
        "-k",
        "MX-01",
        "--html=pytest-html.html",
        "--govmail-evidence-out=again.json",
    )
    outputs = {
        "terminal": result.stdout.str(),
        "junit": (pytester.path / "reports" / "junit.xml").read_text("utf-8"),
        "page": (pytester.path / "reports" / "govmail.html").read_text("utf-8"),
    }
    for where, text in outputs.items():
        assert not any(c in text for c in "\x1b\x07\x9b\u202e"), where
        assert "evil\\x1b[2J" in text, where
    # pytest-html's page and the evidence the replay writes again hold them inert too.
    html = (pytester.path / "pytest-html.html").read_text("utf-8")
    assert not any(c in html for c in "\x1b\x07\x9b\u202e")
    again = json.loads((pytester.path / "again.json").read_text("utf-8"))
    words = [*again["settings"].values(), *again["generator"].values(), again["started_at"]]
    assert again["settings"]["resolver"].startswith("evil\\x1b[2J")
    assert not any(c in w for w in words for c in "\x1b\x07\x9b\u202e")


def _dnssec_chain(name: str, reason: str = "ok") -> DnssecChain:
    step = DnssecStep(name, "answer", f"{name}/MX", Security.BOGUS, reason, ("a 1 IN MX 0 .",))
    return DnssecChain(name, "MX", Security.BOGUS, reason, "anchor: .", (step,), "2026-12-03")


def test_dnssec_chains_round_trip_and_merge() -> None:
    chain = _dnssec_chain("a.gov.uk", "a.gov.uk/MX: expired")
    saved = evidence.Evidence(
        targets=(Target("a.gov.uk"),), dns=DnsSnapshot(), dnssec={chain.query: chain}
    )
    back = evidence.decode(json.loads(json.dumps(evidence.encode(saved))))
    assert back.dnssec == {chain.query: chain}
    other = _dnssec_chain("b.gov.uk")
    merged = evidence.merge(
        [back, evidence.Evidence((Target("b.gov.uk"),), DnsSnapshot(), dnssec={other.query: other})]
    )
    assert set(merged.dnssec) == {chain.query, other.query}


def test_evidence_without_dnssec_reads_as_none_collected() -> None:
    """Files written before DNSSEC was validated have no ``dnssec`` key: they still read."""
    data = evidence.encode(evidence.Evidence((Target("a.gov.uk"),), DnsSnapshot()))
    del data["dnssec"]
    assert evidence.decode(data).dnssec == {}


def test_dnssec_words_from_a_file_are_inert_and_bounded() -> None:
    hostile = "\x1b[31mred\u202e" + "x" * 2000
    data = evidence.encode(evidence.Evidence((Target("a.gov.uk"),), DnsSnapshot()))
    step = {
        "zone": hostile,
        "what": "answer",
        "question": "a/MX",
        "result": "bogus",
        "reason": hostile,
        "records": [hostile] * 100,
    }
    data["dnssec"] = [
        {"name": "a.gov.uk", "rdtype": "mx", "result": "bogus", "reason": hostile, "steps": [step]}
    ]
    chain = evidence.decode(data).dnssec[Query("a.gov.uk", "MX")]
    assert "\x1b" not in chain.reason and "\u202e" not in chain.steps[0].zone
    assert len(chain.steps[0].records) == MAX_RECORDS_KEPT + 1


def test_a_dnssec_result_not_known_is_refused() -> None:
    data = evidence.encode(evidence.Evidence((Target("a.gov.uk"),), DnsSnapshot()))
    data["dnssec"] = [{"name": "a.gov.uk", "rdtype": "MX", "result": "trusted-me", "reason": ""}]
    with pytest.raises(evidence.EvidenceError, match="malformed"):
        evidence.decode(data)
