"""Judge tables for DKIM-01..07 and the DKIM planner: plain data, keys and signatures made here.

Keys are generated with ``cryptography``; sample messages are signed in the test with dkimpy's
``dkim.sign`` (rsa-sha256 and ed25519-sha256), then tampered with, re-addressed or re-signed.
Nothing here touches the network: DKIM-07's key lookups are answered from the DnsSnapshot.
"""

from __future__ import annotations

import base64
import functools
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dkim
import dkim.dnsplug
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from factories import answer, failed, nxdomain, txt

from pytest_govmail.collect.messages import parse_message
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.judge import dkim as judge
from pytest_govmail.model.dkim import SampleMessage, SignatureTags
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Role, Target
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan import Planner
from pytest_govmail.plan.dkim import (
    COMMON_SELECTORS,
    MAX_SIGNATURES_PER_MESSAGE,
    SOURCE_COMMON,
    SOURCE_GIVEN,
    assign_messages,
    dkim_queries,
    key_name,
    make_dkim_planner,
    selectors_for,
)
from pytest_govmail.plugin.assessment import judge_case

D = "example-dept.gov.uk"
SUB = f"news.{D}"
ESP = "esp-mailer.example"
COMMON = tuple(s for s, _ in COMMON_SELECTORS)
HOW_TO = ("--govmail-dkim-selector", "dkim_selectors", "--govmail-eml")

Judge = Callable[[Subject], Verdict]
KEY_JUDGES: list[Judge] = [
    judge.dkim_key_published,
    judge.dkim_keys_valid,
    judge.dkim_rsa_minimum,
    judge.dkim_rsa_recommended,
    judge.dkim_no_sha1_only,
    judge.dkim_not_testing,
]


# --- keys, records and messages -------------------------------------------------------------------


def rsa_key(bits: int, n: int = 0) -> rsa.RSAPrivateKey:
    """A generated RSA key, the same for the same arguments (``n`` tells apart keys of a size)."""
    return _generated_rsa(bits, n)


@functools.cache
def _generated_rsa(bits: int, n: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ed_key(n: int = 0) -> ed25519.Ed25519PrivateKey:
    return _generated_ed(n)


@functools.cache
def _generated_ed(n: int) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rsa_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def rsa_p(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return b64(
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def ed_p(key: ed25519.Ed25519PrivateKey) -> str:
    return b64(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def small_rsa_p(bits: int) -> str:
    """An RSA public key under 1024 bits, which cryptography will not generate."""
    modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    return rsa_p(rsa.RSAPublicNumbers(65537, modulus).public_key())


def rsa_record(bits: int = 2048, extra: str = "", n: int = 0) -> str:
    return f"v=DKIM1; k=rsa;{extra} p={rsa_p(rsa_key(bits, n))}"


def ed_record(n: int = 0) -> str:
    return f"v=DKIM1; k=ed25519; p={ed_p(ed_key(n))}"


def key_txt(selector: str, value: str, domain: str = D) -> DnsResult:
    """A key record as dnspython presents it: strings of at most 255 characters."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return answer(f"{selector}._domainkey.{domain}", "TXT", " ".join(f'"{c}"' for c in chunks))


def commons(domain: str = D, *, but: Iterable[str] = ()) -> list[DnsResult]:
    """NXDOMAIN for every common selector except ``but``."""
    skip = set(but)
    return [nxdomain(f"{s}._domainkey.{domain}", "TXT") for s in COMMON if s not in skip]


def dmarc(domain: str, record: str | None) -> list[DnsResult]:
    """The DMARC answers for ``domain`` (and its organisational domain when it is a subdomain)."""
    own = f"_dmarc.{domain}"
    if record is None:
        results = [nxdomain(own, "TXT")]
        if domain != D and domain.endswith(f".{D}"):
            results.append(nxdomain(f"_dmarc.{D}", "TXT"))
        return results
    return [txt(own, record)]


def message(
    from_address: str = f"noreply@{D}", subject: str = "Notice", body: str = "Hello.\r\n"
) -> bytes:
    return (
        f"From: Example Department <{from_address}>\r\n"
        "To: citizen@elsewhere.example\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 01 Jan 2024 09:00:00 +0000\r\n"
        "Message-ID: <1@example-dept.gov.uk>\r\n"
        "\r\n"
        f"{body}"
    ).encode()


def sign_rsa(raw: bytes, selector: str, domain: str = D, bits: int = 2048, n: int = 0) -> bytes:
    header = dkim.sign(raw, selector.encode(), domain.encode(), rsa_pem(rsa_key(bits, n)))
    return bytes(header) + raw


def sign_ed(raw: bytes, selector: str, domain: str = D, n: int = 0) -> bytes:
    seed = ed_key(n).private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        base64.b64encode(seed),
        signature_algorithm=b"ed25519-sha256",
    )
    return bytes(header) + raw


def sample(raw: bytes, source: str = "sample.eml") -> SampleMessage:
    parsed = parse_message(raw, source)
    assert parsed.error is None, parsed.error
    return parsed


def subject(
    *results: DnsResult,
    domain: str = D,
    selectors: tuple[str, ...] = (),
    messages: tuple[SampleMessage, ...] = (),
    now: datetime | None = None,
    roles: frozenset[Role] = frozenset(),
) -> Subject:
    target = Target(domain, roles=roles, dkim_selectors=selectors)
    return Subject(target, DnsSnapshot(results), messages=messages, now=now)


def check(verdict: Verdict, status: Status, codes: list[str] | None = None) -> Verdict:
    assert verdict.status is status, verdict
    if codes is not None:
        assert [f.code for f in verdict.findings] == codes, verdict
    for finding in verdict.findings:
        assert finding.code and finding.observed and finding.expected and finding.remediation
    return verdict


def tried(verdict: Verdict) -> str:
    return dict(verdict.details).get("selectors tried (source: answer)", "")


# --- DKIM-01 ------------------------------------------------------------------------------------


def test_dkim01_given_selector_with_a_key_passes_and_lists_what_was_tried() -> None:
    verdict = check(
        judge.dkim_key_published(
            subject(key_txt("sel2024", rsa_record()), *commons(), selectors=("sel2024",))
        ),
        Status.PASS,
    )
    assert "sel2024 (option/file): rsa 2048-bit key" in verdict.summary
    lines = tried(verdict).splitlines()
    assert lines[0].startswith("sel2024 (option/file): rsa 2048-bit key")
    assert lines[1] == f"selector1 (common list): selector1._domainkey.{D}: NXDOMAIN"
    assert len(lines) == 1 + len(COMMON)
    assert f"sel2024._domainkey.{D}/TXT" in verdict.evidence


def test_dkim01_a_guessed_selector_that_answers_passes() -> None:
    aliased = replace(
        key_txt("selector1", rsa_record()),
        cname_chain=(f"selector1-example._domainkey.tenant.{ESP}",),
    )
    verdict = check(
        judge.dkim_key_published(subject(aliased, *commons(but=["selector1"]))), Status.PASS
    )
    assert "selector1 (common list)" in verdict.summary
    assert "via CNAME" in tried(verdict)


def test_dkim01_selector_from_a_sample_message_passes() -> None:
    mail = sample(sign_rsa(message(), "mta1"), "out/notice.eml")
    verdict = check(
        judge.dkim_key_published(
            subject(key_txt("mta1", rsa_record()), *commons(), messages=(mail,))
        ),
        Status.PASS,
    )
    assert "mta1 (message out/notice.eml)" in verdict.summary


def test_dkim01_passes_despite_failed_guesses() -> None:
    results = [key_txt("sel", ed_record()), *commons(but=["google"])]
    results.append(failed(f"google._domainkey.{D}", "TXT"))
    check(judge.dkim_key_published(subject(*results, selectors=("sel",))), Status.PASS)


@pytest.mark.parametrize(
    ("record", "code"),
    [
        pytest.param(None, "dkim.key.missing", id="nxdomain"),
        pytest.param("v=spf1 -all", "dkim.key.missing", id="not-a-key-record"),
        pytest.param("v=DKIM1; p=", "dkim.key.revoked", id="revoked"),
        pytest.param("v=DKIM1; k=rsa; p=MIIB!!", "dkim.key.invalid", id="invalid"),
    ],
)
def test_dkim01_known_selector_without_a_usable_key_fails(record: str | None, code: str) -> None:
    at = key_txt("sel", record) if record is not None else nxdomain(f"sel._domainkey.{D}", "TXT")
    verdict = check(
        judge.dkim_key_published(subject(at, *commons(), selectors=("sel",))),
        Status.FAIL,
        [code],
    )
    assert f"sel._domainkey.{D}" in verdict.findings[0].observed + verdict.findings[0].expected


def test_dkim01_findings_follow_the_selector_order() -> None:
    results = [key_txt("sel", "v=DKIM1; p="), nxdomain(f"k2._domainkey.{D}", "TXT"), *commons()]
    case = subject(*results, selectors=("k2", "sel"))
    check(judge.dkim_key_published(case), Status.FAIL, ["dkim.key.missing", "dkim.key.revoked"])
    case = subject(*results, selectors=("sel", "k2"))
    check(judge.dkim_key_published(case), Status.FAIL, ["dkim.key.revoked", "dkim.key.missing"])


def test_dkim01_guessing_that_finds_nothing_is_inconclusive_and_says_how_to_give_it() -> None:
    verdict = check(judge.dkim_key_published(subject(*commons())), Status.INCONCLUSIVE)
    for option in HOW_TO:
        assert option in verdict.summary
    assert "selector1, selector2, google" in verdict.summary
    assert len(tried(verdict).splitlines()) == len(COMMON)


def test_dkim01_a_revoking_wildcard_is_not_a_key() -> None:
    """A wildcard ``*._domainkey`` "v=DKIM1; p=" answers every guess with a revoked key."""
    results = [key_txt(s, "v=DKIM1; p=") for s in COMMON]
    verdict = check(judge.dkim_key_published(subject(*results)), Status.INCONCLUSIVE)
    assert "hold only revoked or invalid key records" in verdict.summary


def test_dkim01_a_wildcard_txt_record_is_not_a_broken_key() -> None:
    results = [key_txt(s, "google-site-verification=abc") for s in COMMON]
    verdict = check(judge.dkim_key_published(subject(*results)), Status.INCONCLUSIVE)
    assert "no DKIM key record among 1 TXT record(s)" in tried(verdict)
    check(judge.dkim_keys_valid(subject(*results)), Status.INCONCLUSIVE)


@pytest.mark.parametrize("kind", [ErrorKind.TIMEOUT, ErrorKind.SERVFAIL])
def test_dkim01_a_failed_lookup_is_inconclusive_not_missing(kind: ErrorKind) -> None:
    verdict = check(
        judge.dkim_key_published(
            subject(failed(f"sel._domainkey.{D}", "TXT", kind), *commons(), selectors=("sel",))
        ),
        Status.INCONCLUSIVE,
    )
    assert kind.value in verdict.summary and "1 selector lookup(s) failed" in verdict.summary


def test_dkim01_an_answer_missing_from_the_evidence_is_inconclusive() -> None:
    results = [nxdomain(f"sel._domainkey.{D}", "TXT"), *commons(but=["s1"])]
    verdict = check(
        judge.dkim_key_published(subject(*results, selectors=("sel",))), Status.INCONCLUSIVE
    )
    assert "not collected" in verdict.summary


def test_dkim01_guess_only_and_failed_lookups_says_how_to_give_the_selector() -> None:
    results = [*commons(but=["google"]), failed(f"google._domainkey.{D}", "TXT")]
    verdict = check(judge.dkim_key_published(subject(*results)), Status.INCONCLUSIVE)
    assert all(option in verdict.summary for option in HOW_TO)


@pytest.mark.parametrize("requirement", [f"DKIM-0{i}" for i in range(1, 8)])
def test_not_applicable_to_a_domain_that_sends_no_mail(requirement: str) -> None:
    """The S gate (judge/roles.py) runs before every DKIM judge: ``v=spf1 -all`` sends nothing."""
    case = subject(
        answer(D, "MX", "0 ."),
        txt(D, "v=spf1 -all"),
        *commons(),
    )
    verdict = judge_case(load_catalogue()[requirement], case, judge.JUDGES[requirement], False)
    check(verdict, Status.NOT_APPLICABLE)
    declared = replace(case, target=replace(case.target, roles=frozenset({Role.SENDING})))
    gated = judge_case(load_catalogue()[requirement], declared, judge.JUDGES[requirement], False)
    assert gated.status is not Status.NOT_APPLICABLE or requirement == "DKIM-07"


# --- DKIM-02 ------------------------------------------------------------------------------------


def test_dkim02_valid_and_revoked_records_parse() -> None:
    results = [
        key_txt("sel", rsa_record()),
        key_txt("old", "v=DKIM1; p="),
        key_txt("google", ed_record()),
        *commons(but=["google"]),
    ]
    verdict = check(judge.dkim_keys_valid(subject(*results, selectors=("sel", "old"))), Status.PASS)
    assert verdict.summary.startswith("3 key record(s) parse")


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(f"k=rsa; v=DKIM1; p={rsa_p(rsa_key(1024))}", id="v-not-first"),
        pytest.param(f"v=DKIM1; k=dsa; p={rsa_p(rsa_key(1024))}", id="k-unknown"),
        pytest.param(f"v=DKIM1; p={rsa_p(rsa_key(1024))[:-12]}", id="p-truncated"),
        pytest.param("v=DKIM1; k=rsa", id="no-p"),
        pytest.param(f"v=DKIM1; k=ed25519; p={rsa_p(rsa_key(1024))}", id="ed25519-not-32"),
    ],
)
def test_dkim02_a_record_that_does_not_parse_fails_even_at_a_guessed_selector(
    record: str,
) -> None:
    results = [key_txt("sel", rsa_record()), key_txt("default", record)]
    results += commons(but=["default"])
    verdict = check(
        judge.dkim_keys_valid(subject(*results, selectors=("sel",))),
        Status.FAIL,
        ["dkim.key.invalid"],
    )
    assert f"default._domainkey.{D} (common list)" in verdict.findings[0].observed


def test_dkim02_fails_with_a_broken_record_even_when_another_lookup_failed() -> None:
    results = [key_txt("sel", "v=DKIM1; p=!!!!"), *commons(but=["k1"])]
    results.append(failed(f"k1._domainkey.{D}", "TXT"))
    check(
        judge.dkim_keys_valid(subject(*results, selectors=("sel",))),
        Status.FAIL,
        ["dkim.key.invalid"],
    )


def test_dkim02_records_parse_but_a_lookup_failed_is_inconclusive() -> None:
    results = [key_txt("sel", rsa_record()), *commons(but=["k1"])]
    results.append(failed(f"k1._domainkey.{D}", "TXT"))
    verdict = check(
        judge.dkim_keys_valid(subject(*results, selectors=("sel",))), Status.INCONCLUSIVE
    )
    assert "parse, and 1 selector lookup(s) failed" in verdict.summary


def test_dkim02_nothing_found() -> None:
    check(judge.dkim_keys_valid(subject(*commons())), Status.INCONCLUSIVE)
    missing = nxdomain(f"sel._domainkey.{D}", "TXT")
    check(
        judge.dkim_keys_valid(subject(missing, *commons(), selectors=("sel",))),
        Status.FAIL,
        ["dkim.key.missing"],
    )


# --- DKIM-03 and DKIM-04 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "dkim03", "dkim04"),
    [
        pytest.param([rsa_record(2048)], [], [], id="rsa-2048"),
        pytest.param([rsa_record(4096)], [], [], id="rsa-4096"),
        pytest.param([ed_record()], [], [], id="ed25519"),
        pytest.param([rsa_record(1024)], [], ["dkim.rsa.short"], id="rsa-1024"),
        pytest.param(
            [f"v=DKIM1; p={small_rsa_p(512)}"],
            ["dkim.rsa.weak"],
            ["dkim.rsa.short"],
            id="rsa-512",
        ),
        pytest.param(
            [rsa_record(2048), f"v=DKIM1; p={small_rsa_p(768)}"],
            ["dkim.rsa.weak"],
            ["dkim.rsa.short"],
            id="one-weak-among-good",
        ),
        pytest.param(
            [ed_record(), rsa_record(1024)], [], ["dkim.rsa.short"], id="ed25519-beside-1024"
        ),
        pytest.param(
            [rsa_record(2048), f"v=DKIM1; p={small_rsa_p(512)}"[:-20] + "AAAA"],
            [],
            [],
            id="broken-records-are-dkim02s",
        ),
    ],
)
def test_dkim03_dkim04_key_sizes(records: list[str], dkim03: list[str], dkim04: list[str]) -> None:
    selectors = tuple(f"s{i}x" for i in range(len(records)))
    results = [key_txt(s, r) for s, r in zip(selectors, records, strict=True)]
    case = subject(*results, *commons(), selectors=selectors)
    check(judge.dkim_rsa_minimum(case), Status.FAIL if dkim03 else Status.PASS, dkim03)
    check(judge.dkim_rsa_recommended(case), Status.FAIL if dkim04 else Status.PASS, dkim04)


def test_dkim03_weak_key_fails_even_with_a_failed_lookup() -> None:
    results = [key_txt("sel", f"v=DKIM1; p={small_rsa_p(512)}"), *commons(but=["mail"])]
    results.append(failed(f"mail._domainkey.{D}", "TXT"))
    case = subject(*results, selectors=("sel",))
    verdict = check(judge.dkim_rsa_minimum(case), Status.FAIL, ["dkim.rsa.weak"])
    assert "512 bits" in verdict.findings[0].observed
    assert "INCONCLUSIVE" in tried(verdict)


def test_dkim03_dkim04_good_keys_and_a_failed_lookup_are_inconclusive() -> None:
    results = [key_txt("sel", rsa_record()), *commons(but=["mail"])]
    results.append(failed(f"mail._domainkey.{D}", "TXT"))
    case = subject(*results, selectors=("sel",))
    check(judge.dkim_rsa_minimum(case), Status.INCONCLUSIVE)
    check(judge.dkim_rsa_recommended(case), Status.INCONCLUSIVE)


# --- DKIM-05 and DKIM-06 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param("", None, id="no-h"),
        pytest.param(" h=sha256;", None, id="sha256"),
        pytest.param(" h=sha1:sha256;", None, id="both"),
        pytest.param(" h=sha1;", "dkim.sha1_only", id="sha1-only"),
        pytest.param(" h=SHA256;", "dkim.hash.unusable", id="case-sensitive"),
        pytest.param(" h=sha512;", "dkim.hash.unusable", id="unknown-only"),
    ],
)
def test_dkim05_hash_restrictions(extra: str, code: str | None) -> None:
    case = subject(key_txt("sel", rsa_record(1024, extra)), *commons(), selectors=("sel",))
    check(
        judge.dkim_no_sha1_only(case),
        Status.FAIL if code else Status.PASS,
        [code] if code else [],
    )


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param("", None, id="no-t"),
        pytest.param(" t=s;", None, id="strict-only"),
        pytest.param(" t=y;", "dkim.testing", id="testing"),
        pytest.param(" t=s:y;", "dkim.testing", id="testing-and-strict"),
    ],
)
def test_dkim06_test_mode(extra: str, code: str | None) -> None:
    case = subject(key_txt("sel", rsa_record(1024, extra)), *commons(), selectors=("sel",))
    check(
        judge.dkim_not_testing(case),
        Status.FAIL if code else Status.PASS,
        [code] if code else [],
    )


@pytest.mark.parametrize("function", KEY_JUDGES[2:], ids=lambda f: f.__name__)
def test_dkim03_to_06_without_keys_return_dkim01s_verdict(function: Judge) -> None:
    check(function(subject(*commons())), Status.INCONCLUSIVE)
    revoked = subject(key_txt("sel", "v=DKIM1; p="), *commons(), selectors=("sel",))
    check(function(revoked), Status.FAIL, ["dkim.key.revoked"])
    timeout = subject(failed(f"sel._domainkey.{D}", "TXT"), *commons(), selectors=("sel",))
    check(function(timeout), Status.INCONCLUSIVE)


@pytest.mark.parametrize("function", KEY_JUDGES, ids=lambda f: f.__name__)
def test_every_key_judge_records_selectors_and_evidence(function: Judge) -> None:
    case = subject(key_txt("sel", rsa_record()), *commons(), selectors=("sel",))
    verdict = function(case)
    assert verdict.status is Status.PASS, verdict
    assert tried(verdict).startswith("sel (option/file): rsa 2048-bit key")
    assert len(verdict.evidence) == 1 + len(COMMON)


# --- DKIM-07 ------------------------------------------------------------------------------------


def keys(*pairs: tuple[str, str], domain: str = D) -> list[DnsResult]:
    """Key records at the given selectors, and NXDOMAIN at the common ones."""
    return [key_txt(s, r, domain) for s, r in pairs] + commons(domain, but=[s for s, _ in pairs])


def judge07(*results: DnsResult, messages: Iterable[SampleMessage], **kw: Any) -> Verdict:
    return judge.dkim_signature_valid(subject(*results, messages=tuple(messages), **kw))


def test_dkim07_without_sample_messages_is_not_applicable() -> None:
    verdict = check(judge.dkim_signature_valid(subject(*commons())), Status.NOT_APPLICABLE)
    assert "--govmail-eml" in verdict.summary


@pytest.mark.parametrize(
    ("signer", "record"),
    [
        pytest.param(lambda raw: sign_rsa(raw, "sel"), rsa_record(), id="rsa-sha256"),
        pytest.param(lambda raw: sign_ed(raw, "sel"), ed_record(), id="ed25519-sha256"),
    ],
)
def test_dkim07_a_signed_message_passes(signer: Callable[[bytes], bytes], record: str) -> None:
    mail = sample(signer(message()), "sent/notice.eml")
    verdict = check(
        judge07(*keys(("sel", record)), *dmarc(D, "v=DMARC1; p=reject"), messages=[mail]),
        Status.PASS,
    )
    assert "sent/notice.eml: d=example-dept.gov.uk verifies and aligns" in verdict.summary
    assert f"sel._domainkey.{D}/TXT" in verdict.evidence
    title, text = verdict.details[0]
    assert title.startswith("message sent/notice.eml (") and mail.sha256[:16] in title
    assert "signature 1 (d=example-dept.gov.uk s=sel a=" in text and "verified" in text


def test_dkim07_one_good_signature_among_several_passes() -> None:
    raw = sign_rsa(message(), "sel")  # good
    raw = sign_rsa(raw, "old", n=1)  # signed with a key other than the one published at "old"
    raw = sign_rsa(raw, "s1", domain=ESP, bits=1024)  # verifies, but does not align
    results = [
        *keys(("sel", rsa_record()), ("old", rsa_record(n=2))),
        key_txt("s1", rsa_record(1024), ESP),
        *dmarc(D, None),
    ]
    verdict = check(judge07(*results, messages=[sample(raw)]), Status.PASS)
    text = verdict.details[0][1]
    assert f"signature 1 (d={ESP} s=s1 a=rsa-sha256): verified" in text
    assert "signature 2 (d=example-dept.gov.uk s=old a=rsa-sha256): invalid" in text
    assert "signature 3 (d=example-dept.gov.uk s=sel a=rsa-sha256): verified" in text


def test_dkim07_relaxed_alignment_accepts_the_organisational_domain() -> None:
    mail = sample(sign_rsa(message(f"noreply@{SUB}"), "sel"))
    results = [
        *keys(("sel", rsa_record())),
        *dmarc(SUB, None),
        txt(f"_dmarc.{D}", "v=DMARC1; p=reject"),
    ]
    verdict = check(judge07(*results, messages=[mail], domain=SUB), Status.PASS)
    assert "relaxed" in verdict.details[0][1]


def test_dkim07_strict_alignment_needs_the_exact_domain() -> None:
    mail = sample(sign_rsa(message(f"noreply@{SUB}"), "sel"))
    results = [*keys(("sel", rsa_record())), txt(f"_dmarc.{SUB}", "v=DMARC1; p=reject; adkim=s")]
    verdict = check(
        judge07(*results, messages=[mail], domain=SUB), Status.FAIL, ["dkim.signature.unaligned"]
    )
    assert "strict (adkim=s)" in verdict.findings[0].observed
    assert f"d={SUB}" in verdict.findings[0].remediation


def test_dkim07_a_third_party_signature_alone_is_unaligned() -> None:
    mail = sample(sign_rsa(message(), "s1", domain=ESP))
    results = [*commons(), key_txt("s1", rsa_record(), ESP), *dmarc(D, None)]
    verdict = check(judge07(*results, messages=[mail]), Status.FAIL, ["dkim.signature.unaligned"])
    assert f"d={ESP}" in verdict.findings[0].observed


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(
            lambda raw: raw.replace(b"Hello.", b"Hellp."), "body hash mismatch", id="body"
        ),
        pytest.param(
            lambda raw: raw.replace(b"Subject: Notice", b"Subject: Urgent"),
            "b= does not match",
            id="signed-header",
        ),
        pytest.param(
            lambda raw: raw.replace(b"Hello.\r\n", b"Hello.\r\n-- \r\nDisclaimer\r\n"),
            "body hash mismatch",
            id="footer-added",
        ),
    ],
)
def test_dkim07_a_tampered_message_fails(tamper: Callable[[bytes], bytes], reason: str) -> None:
    raw = tamper(sign_rsa(message(), "sel"))
    verdict = check(
        judge07(*keys(("sel", rsa_record())), *dmarc(D, None), messages=[sample(raw)]),
        Status.FAIL,
        ["dkim.signature.invalid"],
    )
    assert reason in verdict.findings[0].observed


def test_dkim07_an_unsigned_message_fails() -> None:
    verdict = check(
        judge07(*commons(), messages=[sample(message(), "plain.eml")]),
        Status.FAIL,
        ["dkim.signature.missing"],
    )
    assert "plain.eml" in verdict.findings[0].observed


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        pytest.param(
            [nxdomain(f"sel._domainkey.{D}", "TXT"), *commons()],
            "no DKIM key record at",
            id="key-missing",
        ),
        pytest.param(keys(("sel", rsa_record(n=1))), "b= does not match", id="other-key"),
        pytest.param(keys(("sel", "v=DKIM1; p=")), "is revoked (empty p=)", id="revoked"),
        pytest.param(keys(("sel", rsa_record(extra=" h=sha1;"))), "has h=sha1", id="key-h-sha1"),
        pytest.param(keys(("sel", ed_record()))[:1] + commons(but=["sel"]), None, id="wrong-type"),
    ],
)
def test_dkim07_key_problems_fail(results: list[DnsResult], reason: str | None) -> None:
    raw = sign_rsa(message(), "sel")
    verdict = check(
        judge07(*results, *dmarc(D, None), messages=[sample(raw)]),
        Status.FAIL,
        ["dkim.signature.invalid"],
    )
    if reason is not None:
        assert reason in verdict.findings[0].observed


def test_dkim07_rsa_sha1_signatures_are_refused() -> None:
    header = dkim.sign(
        message(), b"sel", D.encode(), rsa_pem(rsa_key(2048)), signature_algorithm=b"rsa-sha1"
    )
    raw = bytes(header) + message()
    verdict = check(
        judge07(*keys(("sel", rsa_record())), *dmarc(D, None), messages=[sample(raw)]),
        Status.FAIL,
        ["dkim.signature.invalid"],
    )
    assert "RFC 8301" in verdict.findings[0].observed


def test_dkim07_strict_identity_flag_is_enforced() -> None:
    header = dkim.sign(
        message(), b"sel", D.encode(), rsa_pem(rsa_key(2048)), identity=f"@mail.{D}".encode()
    )
    raw = bytes(header) + message()
    mail = sample(raw)
    ok = judge07(*keys(("sel", rsa_record())), *dmarc(D, None), messages=[mail])
    check(ok, Status.PASS)
    strict = judge07(*keys(("sel", rsa_record(extra=" t=s;"))), *dmarc(D, None), messages=[mail])
    check(strict, Status.FAIL, ["dkim.signature.invalid"])
    assert "t=s" in strict.findings[0].observed


def test_dkim07_signature_times_are_judged_against_the_collection_time() -> None:
    mail = sample(sign_rsa(message(), "sel"))
    results = [*keys(("sel", rsa_record())), *dmarc(D, None)]
    now = datetime.now(UTC)
    check(judge07(*results, messages=[mail], now=now), Status.PASS)
    before = judge07(*results, messages=[mail], now=now - timedelta(days=2))
    check(before, Status.FAIL, ["dkim.signature.invalid"])
    assert "in the future of the assessment time" in before.findings[0].observed


def test_dkim07_key_in_test_mode_still_verifies_with_a_note() -> None:
    mail = sample(sign_rsa(message(), "sel"))
    results = [*keys(("sel", rsa_record(extra=" t=y;"))), *dmarc(D, None)]
    verdict = check(judge07(*results, messages=[mail]), Status.PASS)
    assert "t=y: see DKIM-06" in verdict.details[0][1]


@pytest.mark.parametrize("kind", [ErrorKind.TIMEOUT, ErrorKind.SERVFAIL])
def test_dkim07_a_key_lookup_that_failed_is_inconclusive(kind: ErrorKind) -> None:
    mail = sample(sign_rsa(message(), "sel"))
    results = [failed(f"sel._domainkey.{D}", "TXT", kind), *commons(), *dmarc(D, None)]
    verdict = check(judge07(*results, messages=[mail]), Status.INCONCLUSIVE)
    assert "the key could not be read" in verdict.summary and kind.value in verdict.summary


def test_dkim07_a_key_missing_from_the_evidence_is_inconclusive() -> None:
    mail = sample(sign_rsa(message(), "sel"))
    verdict = check(judge07(*commons(), *dmarc(D, None), messages=[mail]), Status.INCONCLUSIVE)
    assert "not collected" in verdict.summary


def test_dkim07_an_unusable_message_is_inconclusive() -> None:
    broken = SampleMessage("gone.eml", error="cannot read gone.eml: No such file or directory")
    verdict = check(judge07(*commons(), messages=[broken]), Status.INCONCLUSIVE)
    assert "gone.eml" in verdict.summary
    no_from = sample(b"To: a@b.example\r\n\r\nbody\r\n", "nofrom.eml")
    check(judge07(*commons(), messages=[no_from]), Status.INCONCLUSIVE)


def test_dkim07_relaxed_only_alignment_with_an_unreadable_dmarc_record_is_inconclusive() -> None:
    mail = sample(sign_rsa(message(f"noreply@{SUB}"), "sel"))
    results = [*keys(("sel", rsa_record())), failed(f"_dmarc.{SUB}", "TXT")]
    verdict = check(judge07(*results, messages=[mail], domain=SUB), Status.INCONCLUSIVE)
    assert "only under relaxed alignment" in verdict.summary


def test_dkim07_exact_alignment_needs_no_dmarc_record() -> None:
    mail = sample(sign_rsa(message(), "sel"))
    results = [*keys(("sel", rsa_record())), failed(f"_dmarc.{D}", "TXT")]
    check(judge07(*results, messages=[mail]), Status.PASS)


def test_dkim07_a_failing_message_outweighs_an_inconclusive_one() -> None:
    good = sample(sign_rsa(message(), "sel"), "good.eml")
    bad = sample(message(), "unsigned.eml")
    gone = SampleMessage("gone.eml", error="cannot read gone.eml: No such file or directory")
    results = [*keys(("sel", rsa_record())), *dmarc(D, None)]
    verdict = check(
        judge07(*results, messages=[good, bad, gone]), Status.FAIL, ["dkim.signature.missing"]
    )
    assert ("inconclusive", "gone.eml: cannot read gone.eml: No such file or directory") in (
        verdict.details
    )
    check(judge07(*results, messages=[good, good]), Status.PASS)


def test_dkim07_only_the_first_signatures_are_checked() -> None:
    raw = message()
    for i in range(MAX_SIGNATURES_PER_MESSAGE + 2):
        raw = sign_rsa(raw, f"x{i}", bits=1024)
    mail = sample(raw)
    results = [*keys(("x0", rsa_record(1024))), *dmarc(D, None)]
    # The oldest signature (x0) is the last header: beyond the limit, so nothing verifies.
    verdict = check(judge07(*results, messages=[mail]), Status.INCONCLUSIVE)
    assert "2 further signature(s) not checked" in verdict.details[0][1]


def test_dkim07_ed25519_without_pynacl_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    mail = sample(sign_ed(message(), "sel"))
    monkeypatch.delattr(dkim, "nacl")  # as when dkimpy is installed without its ed25519 extra
    results = [*keys(("sel", ed_record())), *dmarc(D, None)]
    verdict = check(judge07(*results, messages=[mail]), Status.INCONCLUSIVE)
    assert "PyNaCl" in verdict.summary


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(
            "v=1; a=rsa-sha256; d=example-dept.gov.uk;; s=sel; h=from; bh=AAAA; b=AAAA",
            "does not parse",
            id="tag-list",
        ),
        pytest.param(
            "v=1; a=rsa-sha256; d=bad domain!; s=sel; h=from; bh=AAAA; b=AAAA",
            "do not form a DNS name",
            id="not-a-name",
        ),
        pytest.param(
            "v=1; a=rsa-md5; d=example-dept.gov.uk; s=sel; h=from; bh=AAAA; b=AAAA",
            "unknown signature algorithm",
            id="algorithm",
        ),
        pytest.param(
            "v=1; a=rsa-sha256; d=example-dept.gov.uk; s=sel; bh=AAAA; b=AAAA",
            "missing",
            id="no-h",
        ),
    ],
)
def test_dkim07_malformed_signature_fields_fail(header: str, reason: str) -> None:
    raw = f"DKIM-Signature: {header}\r\n".encode() + message()
    results = [*keys(("sel", rsa_record())), *dmarc(D, None)]
    verdict = check(
        judge07(*results, messages=[sample(raw)]), Status.FAIL, ["dkim.signature.invalid"]
    )
    assert reason in verdict.findings[0].observed


def test_dkim07_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(dkim.dnsplug, "get_txt", refuse)
    monkeypatch.setattr(dkim, "get_txt", refuse)
    monkeypatch.setattr(dns.resolver, "resolve", refuse)
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    mail = sample(sign_ed(message(), "sel"))
    results = [*keys(("sel", ed_record())), *dmarc(D, None)]
    check(judge07(*results, messages=[mail]), Status.PASS)
    missing = nxdomain(f"sel._domainkey.{D}", "TXT")
    check(judge07(missing, *commons(), *dmarc(D, None), messages=[mail]), Status.FAIL)


def test_dkim07_replayed_evidence_gives_the_same_verdict() -> None:
    good = sample(sign_ed(message(), "sel"), "good.eml")
    bad = sample(sign_rsa(message(), "sel", n=3), "bad.eml")
    results = [*keys(("sel", ed_record())), *dmarc(D, None)]
    now = datetime.now(UTC)
    live = judge07(*results, messages=[good, bad], now=now)
    replayed = tuple(SampleMessage.from_json(m.to_json()) for m in (good, bad))
    assert judge07(*results, messages=replayed, now=now) == live
    assert live.status is Status.FAIL


# --- the planner --------------------------------------------------------------------------------


def test_selectors_for_order_sources_and_dedupe() -> None:
    raw = sign_rsa(sign_rsa(message(), "mta1"), "s1", domain=ESP)
    raw = sign_rsa(raw, "Selector1")  # a common selector, first seen in a message
    mail = sample(raw, "m.eml")
    target = Target(D, dkim_selectors=("given", "google"))
    pairs = selectors_for(target, [mail])
    assert pairs[:4] == (
        ("given", SOURCE_GIVEN),
        ("google", SOURCE_GIVEN),
        ("selector1", "message m.eml"),
        ("mta1", "message m.eml"),
    )
    assert ("s1", SOURCE_COMMON) in pairs  # the ESP's s1 is not the domain's
    assert [s for s, _ in pairs[4:]] == [s for s in COMMON if s not in ("google", "selector1")]


def test_selectors_that_cannot_form_a_name_are_dropped() -> None:
    hostile = SampleMessage(
        "h.eml",
        raw=b"x",
        from_domain=D,
        dkim_signatures=(
            SignatureTags(D, "bad selector", "rsa-sha256"),
            SignatureTags(D, "a" * 64, "rsa-sha256"),
            SignatureTags("bad domain!", "ok", "rsa-sha256"),
        ),
    )
    pairs = selectors_for(Target(D), [hostile])
    assert [s for s, _ in pairs] == list(COMMON)
    assert key_name("ok", "bad domain!") is None and key_name("", D) is None
    assert key_name("Sel.2024", f"{D}.") == f"sel.2024._domainkey.{D}"


def test_the_planner_asks_every_key_and_the_dmarc_record() -> None:
    raw = sign_rsa(sign_rsa(message(), "mta1"), "s1", domain=ESP)
    mail = sample(raw, "m.eml")
    planner = make_dkim_planner({D: (mail,)})
    target = Target(D, dkim_selectors=("given",))
    asked = list(planner(target, DnsSnapshot()))
    names = [q.name for q in asked]
    assert names[:2] == [f"given._domainkey.{D}", f"mta1._domainkey.{D}"]
    assert f"s1._domainkey.{ESP}" in names and f"_dmarc.{D}" in names
    assert len(asked) == len(set(asked)) == 2 + len(COMMON) + 2
    plain = list(dkim_queries(Target(D), DnsSnapshot()))
    assert plain == [Query(f"{s}._domainkey.{D}", "TXT") for s in COMMON]


def test_assign_messages_by_from_domain() -> None:
    own = sample(message(), "own.eml")
    sub = sample(message(f"a@{SUB}"), "sub.eml")
    other = sample(message("a@elsewhere.example"), "other.eml")
    gone = SampleMessage("gone.eml", error="cannot read")
    assigned, unassigned = assign_messages([D, SUB.upper() + "."], [own, sub, other, gone])
    assert assigned == {D: (own,), SUB: (sub,)}
    assert unassigned == (other, gone)


def _fixed_point(world: dict[Query, DnsResult], target: Target, planner: Planner) -> DnsSnapshot:
    snapshot = DnsSnapshot()
    for _ in range(10):
        asked = [q for q in planner(target, snapshot) if q not in snapshot]
        if not asked:
            return snapshot
        snapshot = snapshot.with_results(
            world.get(q, DnsResult(q.name, q.rdtype, "NXDOMAIN")) for q in asked
        )
    raise AssertionError("the planner did not reach a fixed point")


def test_judging_what_the_planner_collected_needs_nothing_more() -> None:
    raw = sign_rsa(sign_ed(message(f"noreply@{SUB}"), "edsel"), "s1", domain=ESP)
    mail = sample(raw, "m.eml")
    world = {
        r.query: r
        for r in [
            key_txt("edsel", ed_record()),
            key_txt("given", rsa_record(1024)),
            key_txt("s1", rsa_record(), ESP),
            txt(f"_dmarc.{D}", "v=DMARC1; p=reject; adkim=r"),
        ]
    }
    target = Target(SUB, dkim_selectors=("given",))
    snapshot = _fixed_point(world, target, make_dkim_planner({SUB: (mail,)}))
    case = Subject(target, snapshot, messages=(mail,), now=datetime.now(UTC))
    for function in [*KEY_JUDGES, judge.dkim_signature_valid]:
        verdict = function(case)
        assert "not collected" not in verdict.summary, (function.__name__, verdict)
    # The keys at news.<D> are only the given selector (at news.), so DKIM-01 fails there;
    # the message's d=<D> key is not the subdomain's.
    check(judge.dkim_key_published(case), Status.FAIL, ["dkim.key.missing"])
    verdict = check(judge.dkim_signature_valid(case), Status.PASS)
    assert f"_dmarc.{D}/TXT" in verdict.evidence


def test_signature_key_lookups_wait_for_nothing() -> None:
    """The planner's questions do not depend on answers, except DMARC's tree walk (RFC 9989
    section 4.10: each parent's ``_dmarc`` name once the one below is answered, and the From
    domain's MX, which says whether an inherited ``np`` applies)."""
    mail = sample(sign_rsa(message(), "mta1"), "m.eml")
    planner = make_dkim_planner({D: (mail,)})
    first = set(planner(Target(D), DnsSnapshot()))
    answered = DnsSnapshot(DnsResult(q.name, q.rdtype, "NXDOMAIN") for q in first)
    later = set(planner(Target(D), answered)) - first
    assert {q for q in later if not q.name.startswith("_dmarc.") and q.rdtype != "MX"} == set()
    assert {q.name for q in later if q.rdtype == "MX"} <= {D}


def test_the_clock_is_only_read_without_a_collection_time(monkeypatch: pytest.MonkeyPatch) -> None:
    mail = sample(sign_rsa(message(), "sel"))
    results = [*keys(("sel", rsa_record())), *dmarc(D, None)]
    monkeypatch.setattr(time, "time", lambda: 0.0)  # dkimpy's own check would now fail
    check(judge07(*results, messages=[mail], now=datetime.now(UTC)), Status.PASS)
