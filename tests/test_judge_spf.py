"""SPF judges (SPF-01..07, PARK-01) and the SPF planner, on plain data: no network at all."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_govmail.judge.spf as judge_spf
import pytest_govmail.records.spf as records_spf
from pytest_govmail.judge.spf import (
    park_spf_deny_all,
    render_tree,
    spf_all_strict,
    spf_lookup_limit,
    spf_lookups_resolve,
    spf_no_ptr,
    spf_record_size,
    spf_single_record,
    spf_syntax_valid,
)
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan.spf import spf_queries
from pytest_govmail.records.spf import WALK_MAX_DEPTH, WALK_TERM_BUDGET, NodeState, walk_spf

D = "example.gov.uk"
Judge = Callable[[Subject], Verdict]

# --------------------------------------------------------------------------------------------
# Factories: DNS answers as the collector records them (TXT in presentation form)

Answers = DnsResult | Iterable["Answers"]


def txt(name: str, *records: str | tuple[str, ...]) -> DnsResult:
    """A TXT answer; a tuple is one record made of several character-strings."""
    texts = []
    for record in records:
        strings = record if isinstance(record, tuple) else (record,)
        texts.append(" ".join(f'"{s}"' for s in strings))
    return DnsResult(name, "TXT", "NOERROR", tuple(texts), ttl=300)


def nx(name: str, rdtype: str = "TXT") -> DnsResult:
    return DnsResult(name, rdtype, "NXDOMAIN")


def nodata(name: str, rdtype: str = "TXT") -> DnsResult:
    return DnsResult(name, rdtype, "NOERROR")


def timeout(name: str, rdtype: str = "TXT") -> DnsResult:
    return DnsResult(name, rdtype, None, error=ProbeError(ErrorKind.TIMEOUT, "no answer in 2.0s"))


def servfail(name: str, rdtype: str = "TXT") -> DnsResult:
    return DnsResult(name, rdtype, None, error=ProbeError(ErrorKind.SERVFAIL, "SERVFAIL"))


def a(name: str, *addresses: str) -> DnsResult:
    return DnsResult(name, "A", "NOERROR", addresses or ("192.0.2.1",))


def aaaa(name: str, *addresses: str) -> DnsResult:
    return DnsResult(name, "AAAA", "NOERROR", addresses or ("2001:db8::1",))


def host(name: str) -> list[DnsResult]:
    """A name with both an IPv4 and an IPv6 address."""
    return [a(name), aaaa(name)]


def mx(name: str, *exchanges: str) -> list[DnsResult]:
    """An MX answer, plus addresses for each exchange (``.`` is the null MX)."""
    records = tuple(f"{10 * (i + 1)} {x}." if x != "." else "0 ." for i, x in enumerate(exchanges))
    out = [DnsResult(name, "MX", "NOERROR", records)]
    for exchange in exchanges:
        if exchange != ".":
            out += host(exchange)
    return out


def spf(name: str, record: str) -> DnsResult:
    return txt(name, record)


def flatten(items: Iterable[Answers]) -> list[DnsResult]:
    out: list[DnsResult] = []
    for item in items:
        if isinstance(item, DnsResult):
            out.append(item)
        else:
            out += flatten(item)
    return out


def subject(*answers: Answers, domain: str = D) -> Subject:
    return Subject(Target(domain), DnsSnapshot(flatten(answers)))


def check(
    verdict: Verdict, status: Status, codes: Iterable[str] = (), text: Iterable[str] = ()
) -> None:
    """The verdict's status, its findings' codes (in order), and phrases it must mention."""
    assert verdict.status is status, verdict
    assert [f.code for f in verdict.findings] == list(codes), verdict
    blob = " ".join(
        [
            verdict.summary,
            *(f.explain() for f in verdict.findings),
            *(v for _, v in verdict.details),
        ]
    )
    for phrase in text:
        assert phrase in blob, (phrase, blob)


PASS, FAIL, INCONCLUSIVE = Status.PASS, Status.FAIL, Status.INCONCLUSIVE


# --------------------------------------------------------------------------------------------
# What every SPF-02..07 judge does when the domain's own record is missing, several or unreadable

_REQUIRE_ONE = [spf_syntax_valid, spf_lookup_limit]
_REQUIRE_ONE += [spf_all_strict, spf_no_ptr, spf_record_size]


@pytest.mark.parametrize(
    ("answers", "text"),
    [
        pytest.param([nx(D)], ["no SPF record", "SPF-01"], id="nxdomain"),
        pytest.param([nodata(D)], ["no SPF record", "SPF-01"], id="nodata"),
        pytest.param(
            [txt(D, "google-site-verification=abc")], ["no SPF record"], id="other-txt-only"
        ),
        pytest.param(
            [txt(D, "v=spf1 mx -all", "v=spf1 include:x.example -all")],
            ["2 SPF records", "SPF-01"],
            id="multiple",
        ),
    ],
)
def test_spf_04_does_not_apply_without_one_record(
    answers: list[DnsResult], text: list[str]
) -> None:
    """No record, or several: check_host() stops before any lookup (RFC 7208 section 4.5), so
    there are no void lookups to count; SPF-01 carries the failure."""
    verdict = spf_lookups_resolve(subject(answers))
    check(verdict, Status.NOT_APPLICABLE, [], text)
    assert list(verdict.evidence) == [f"{D}/TXT"]


@pytest.mark.parametrize(
    ("answers", "status"),
    [
        pytest.param([timeout(D)], INCONCLUSIVE, id="timeout"),
        pytest.param([], INCONCLUSIVE, id="not-collected"),
        pytest.param([spf(D, "v=spf1 ip4:192.0.2.0/33 -all")], FAIL, id="invalid"),
    ],
)
def test_spf_04_still_judges_an_unknown_or_invalid_record(
    answers: list[DnsResult], status: Status
) -> None:
    assert spf_lookups_resolve(subject(answers)).status is status


@pytest.mark.parametrize("judge", _REQUIRE_ONE, ids=lambda j: j.__name__)
@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param([nx(D)], FAIL, ["spf.record.missing"], ["NXDOMAIN", "SPF-01"], id="nxdomain"),
        pytest.param([nodata(D)], FAIL, ["spf.record.missing"], ["SPF-01"], id="nodata"),
        pytest.param(
            [txt(D, "google-site-verification=abc")],
            FAIL,
            ["spf.record.missing"],
            ["1 TXT record(s)"],
            id="other-txt-only",
        ),
        pytest.param(
            [txt(D, "v=spf1 mx -all", "v=spf1 include:x.example -all")],
            FAIL,
            ["spf.record.multiple"],
            ["2 SPF records", "v=spf1 mx include:x.example -all"],
            id="multiple",
        ),
        pytest.param([timeout(D)], INCONCLUSIVE, [], ["timeout", f"{D}/TXT"], id="timeout"),
        pytest.param([servfail(D)], INCONCLUSIVE, [], ["servfail"], id="servfail"),
        pytest.param([], INCONCLUSIVE, [], ["not collected"], id="not-collected"),
    ],
)
def test_spf_02_to_07_need_one_record(
    judge: Judge, answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(judge(subject(answers)), status, codes, text)


@pytest.mark.parametrize(
    "judge", [spf_lookup_limit, spf_lookups_resolve, spf_all_strict, spf_no_ptr]
)
def test_evaluation_judges_fail_on_an_invalid_record(judge: Judge) -> None:
    verdict = judge(subject(spf(D, "v=spf1 ip4:192.0.2.0/33 -all")))
    check(verdict, FAIL, ["spf.record.invalid"], ["SPF-02", "/33"])


def test_malformed_txt_evidence_is_inconclusive() -> None:
    bad = DnsResult(D, "TXT", "NOERROR", ('"v=spf1 -all',))
    for judge in [spf_single_record, *_REQUIRE_ONE, spf_lookups_resolve, park_spf_deny_all]:
        check(judge(subject(bad)), INCONCLUSIVE, [], ["malformed"])


# --------------------------------------------------------------------------------------------
# SPF-01


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param([spf(D, "v=spf1 -all")], PASS, [], ["v=spf1 -all"], id="one"),
        pytest.param(
            [txt(D, ("v=spf1 ", "include:a.example -all"), "ms=123")],
            PASS,
            [],
            ["v=spf1 include:a.example -all"],
            id="split-strings-and-other-txt",
        ),
        pytest.param([spf(D, "V=SPF1 -all")], PASS, [], [], id="upper-case"),
        pytest.param([spf(D, "v=spf1")], PASS, [], [], id="version-only"),
        pytest.param(
            [nx(D)], FAIL, ["spf.record.missing"], ["NXDOMAIN", "v=spf1 -all"], id="nxdomain"
        ),
        pytest.param([nodata(D)], FAIL, ["spf.record.missing"], ["no TXT"], id="nodata"),
        pytest.param(
            [txt(D, " v=spf1 -all")],
            FAIL,
            ["spf.record.missing"],
            ["must start exactly"],
            id="leading-space-near-miss",
        ),
        pytest.param([txt(D, "v=spf10 -all")], FAIL, ["spf.record.missing"], [], id="spf10"),
        pytest.param(
            [txt(D, "v=spf1 a -all", "v=spf1 mx -all")],
            FAIL,
            ["spf.record.multiple"],
            ["merge them", "v=spf1 a mx -all"],
            id="multiple",
        ),
        pytest.param([timeout(D)], INCONCLUSIVE, [], ["timeout"], id="timeout"),
        pytest.param([servfail(D)], INCONCLUSIVE, [], ["servfail"], id="servfail"),
        pytest.param([spf("other.example", "v=spf1 -all")], INCONCLUSIVE, [], [], id="missing"),
    ],
)
def test_spf_01(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    verdict = spf_single_record(subject(answers))
    check(verdict, status, codes, text)
    assert verdict.evidence == (f"{D}/TXT",)


# --------------------------------------------------------------------------------------------
# SPF-02


@pytest.mark.parametrize(
    ("record", "status", "codes", "text"),
    [
        pytest.param(
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:%{d} mx/24//64 -all exp=x.%{d}",
            PASS,
            [],
            ["all 6 terms parse"],
            id="valid",
        ),
        pytest.param("v=spf1 ip4:192.0.2.0/33 -all", FAIL, ["spf.syntax"], ["/33"], id="cidr"),
        pytest.param("v=spf1 foo -all", FAIL, ["spf.syntax"], ["unknown mechanism"], id="mech"),
        pytest.param(
            "v=spf1 foo ip4:1.2.3 -all", FAIL, ["spf.syntax", "spf.syntax"], [], id="two-errors"
        ),
        pytest.param(
            "v=spf1 redirect=a.example redirect=b.example",
            FAIL,
            ["spf.syntax.duplicate"],
            ["keep one redirect="],
            id="two-redirects",
        ),
        pytest.param(
            # RFC 7208 4.5: "v=spf1" must be followed by a space, so this is no SPF record at all.
            "v=spf1;-all",
            FAIL,
            ["spf.record.missing"],
            ["none starting 'v=spf1'"],
            id="semicolon",
        ),
        pytest.param(
            "v=spf1 a:%{c}.example -all", FAIL, ["spf.syntax"], ["explanation"], id="macro-c"
        ),
    ],
)
def test_spf_02(record: str, status: Status, codes: list[str], text: list[str]) -> None:
    check(spf_syntax_valid(subject(spf(D, record))), status, codes, text)


def test_spf_02_ignores_include_targets() -> None:
    """A broken include target is a permerror reported by SPF-04, not a syntax error here."""
    world = subject(spf(D, "v=spf1 include:a.example -all"), spf("a.example", "v=spf1 foo"))
    check(spf_syntax_valid(world), PASS)
    check(spf_lookups_resolve(world), FAIL, ["spf.include.invalid"], ["unknown mechanism"])


# --------------------------------------------------------------------------------------------
# SPF-03


def chain(prefix: str, length: int, last: str = "v=spf1 -all") -> list[DnsResult]:
    """prefix0 includes prefix1 ... includes prefix<length-1>, whose record is ``last``."""
    out = [
        spf(f"{prefix}{i}.example", f"v=spf1 include:{prefix}{i + 1}.example -all")
        for i in range(length - 1)
    ]
    return [*out, spf(f"{prefix}{length - 1}.example", last)]


NESTED: list[Answers] = [
    spf(D, "v=spf1 include:a.example mx exists:e.example redirect=r.example"),
    spf("a.example", "v=spf1 include:b.example a -all"),
    spf("b.example", "v=spf1 ip4:192.0.2.0/24 -all"),
    host("a.example"),
    spf("r.example", "v=spf1 a mx:m.example -all"),
    host("r.example"),
    mx(D, "mx1.example.net", "mx2.example.net"),
    mx("m.example", "mx3.example.net"),
    a("e.example"),
]


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param(
            [spf(D, "v=spf1 ip4:192.0.2.0/24 -all")],
            PASS,
            [],
            ["0 DNS-querying terms"],
            id="no-lookups",
        ),
        pytest.param(
            NESTED,
            PASS,
            [],
            [
                "8 DNS-querying terms (limit 10): include:a.example (3), mx (1),"
                " exists:e.example (1), redirect=r.example (3)"
            ],
            id="nested-include-redirect-mx-exists",
        ),
        pytest.param(
            [spf(D, "v=spf1 " + " ".join(["a"] * 10) + " -all"), host(D)],
            PASS,
            [],
            ["10 DNS-querying terms"],
            id="exactly-10",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 " + " ".join(["a"] * 6) + " include:c0.example -all"),
                host(D),
                *chain("c", 5),
            ],
            FAIL,
            ["spf.lookups.exceeded"],
            ["11 DNS-querying terms", "biggest branch is include:c0.example with 5"],
            id="eleven-through-include-chain",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 a a a a a a a a a a redirect=r.example"),
                host(D),
                spf("r.example", "v=spf1 -all"),
            ],
            FAIL,
            ["spf.lookups.exceeded"],
            ["11 DNS-querying terms"],
            id="redirect-counts",
        ),
        pytest.param(
            [spf(D, "v=spf1 a -all redirect=big.example " + "a " * 12), host(D)],
            PASS,
            [],
            ["1 DNS-querying terms"],
            id="redirect-ignored-with-all-and-terms-after-all-not-counted",
        ),
        pytest.param(
            [spf(D, "v=spf1 a a a a a a a a a a -all exp=explain.example"), host(D)],
            PASS,
            [],
            ["10 DNS-querying terms"],
            id="exp-not-counted",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:x.example include:y.example -all"),
                spf("x.example", "v=spf1 include:z.example -all"),
                spf("y.example", "v=spf1 include:z.example -all"),
                spf("z.example", "v=spf1 a a a a -all"),
                host("z.example"),
            ],
            FAIL,
            ["spf.lookups.exceeded"],
            ["12 DNS-querying terms"],
            id="shared-include-counts-twice",
        ),
        pytest.param(
            [spf(D, "v=spf1 exists:%{i}._spf.%{d} a:%{l}.example ptr -all")],
            PASS,
            [],
            ["3 DNS-querying terms"],
            id="macro-mechanisms-and-ptr-count-one-each",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx -all"), mx(D, *[f"mx{i}.example.net" for i in range(10)])],
            PASS,
            [],
            ["1 DNS-querying terms"],
            id="mx-10-names",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx -all"), mx(D, *[f"mx{i}.example.net" for i in range(11)])],
            FAIL,
            ["spf.mx.exceeded"],
            ["has 11 MX records"],
            id="mx-11-names",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example mx:m.example -all"),
                spf("a.example", "v=spf1 mx -all"),
                mx("a.example", *[f"h{i}.x" for i in range(12)]),
                mx("m.example", "mx1.example.net"),
            ],
            FAIL,
            ["spf.mx.exceeded"],
            ["mx in a.example's record", "has 12 MX records"],
            id="mx-limit-in-include",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example -all"),
                spf("a.example", "v=spf1 include:b.example -all"),
                spf("b.example", f"v=spf1 include:{D} -all"),
            ],
            FAIL,
            ["spf.lookups.exceeded"],
            [f"loop {D} -> a.example -> b.example -> {D}"],
            id="loop",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:c0.example -all"), *chain("c", 60)],
            FAIL,
            ["spf.lookups.exceeded"],
            ["at least 13"],
            id="long-chain-truncated",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example mx -all"), timeout("a.example"), mx(D, "m.x.net")],
            INCONCLUSIVE,
            [],
            ["include:a.example", "timeout", "2 DNS-querying terms counted"],
            id="include-timeout",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all"), servfail("a.example")],
            INCONCLUSIVE,
            [],
            ["include:a.example", "servfail"],
            id="include-servfail",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all")],
            INCONCLUSIVE,
            [],
            ["a.example/TXT: not collected"],
            id="include-not-collected",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example " + "a " * 10 + "-all"),
                timeout("a.example"),
                *host(D),
            ],
            FAIL,
            ["spf.lookups.exceeded"],
            ["at least 11 DNS-querying terms, over the limit whatever include:a.example"],
            id="include-timeout-but-already-over",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:%{ir}.%{v}.%{d}.spf.has.example -all")],
            PASS,
            [],
            ["1 DNS-querying terms", "counted as 1 each (macros"],
            id="include-with-macros",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx -all"), timeout(D, "MX")],
            INCONCLUSIVE,
            [],
            ["MX: timeout"],
            id="mx-lookup-timeout",
        ),
    ],
)
def test_spf_03(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(spf_lookup_limit(subject(answers)), status, codes, text)


def test_spf_03_details_hold_the_tree_with_branch_counts() -> None:
    verdict = spf_lookup_limit(subject(NESTED))
    (label, tree), *_ = verdict.details
    assert label == "SPF lookup tree"
    assert tree.splitlines() == [
        "8 DNS-querying terms (limit 10)",
        f"{D}: 'v=spf1 include:a.example mx exists:e.example redirect=r.example'",
        "  include:a.example  [3]",
        "    a.example: 'v=spf1 include:b.example a -all'",
        "      include:b.example  [1]",
        "        b.example: 'v=spf1 ip4:192.0.2.0/24 -all'",
        "      a  [1]",
        "  mx  [1]  (2 MX name(s))",
        "  exists:e.example  [1]",
        "  redirect=r.example  [3]",
        "    r.example: 'v=spf1 a mx:m.example -all'",
        "      a  [1]",
        "      mx:m.example  [1]  (1 MX name(s))",
    ]
    assert f"{D}/TXT" in verdict.evidence
    assert "mx1.example.net/AAAA" in verdict.evidence


# --------------------------------------------------------------------------------------------
# SPF-04


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param(
            NESTED, PASS, [], ["0 void lookup(s)", "3 include/redirect target(s)"], id="clean"
        ),
        pytest.param(
            [
                spf(D, "v=spf1 a:gone.example exists:e.example -all"),
                nx("gone.example", "A"),
                nx("gone.example", "AAAA"),
                nodata("e.example", "A"),
            ],
            PASS,
            [],
            ["2 void lookup(s) (limit 2)", "a:gone.example (NXDOMAIN)", "(no records)"],
            id="two-voids",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 a:v4only.example -all"),
                a("v4only.example"),
                nodata("v4only.example", "AAAA"),
            ],
            PASS,
            [],
            ["0 void lookup(s)"],
            id="a-with-only-A-is-not-void",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 a:gone.example mx:nomx.example include:inc.example -all"),
                nx("gone.example", "A"),
                nx("gone.example", "AAAA"),
                nodata("nomx.example", "MX"),
                spf("inc.example", "v=spf1 exists:none.example -all"),
                nx("none.example", "A"),
            ],
            FAIL,
            ["spf.void.exceeded"],
            ["3 void lookups", "exists:none.example in inc.example's record (NXDOMAIN)"],
            id="three-voids-through-include",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:gone.example -all"), nx("gone.example")],
            FAIL,
            ["spf.include.missing"],
            ["gone.example has no SPF record"],
            id="include-target-nxdomain",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all"), txt("a.example", "hello")],
            FAIL,
            ["spf.include.missing"],
            [],
            id="include-target-no-spf",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example -all"),
                txt("a.example", "v=spf1 -all", "v=spf1 ~all"),
            ],
            FAIL,
            ["spf.include.multiple"],
            [],
            id="include-target-multiple",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), nodata("r.example")],
            FAIL,
            ["spf.redirect.missing"],
            ["redirect=r.example"],
            id="redirect-target-missing",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example -all"),
                spf("a.example", f"v=spf1 include:{D} -all"),
            ],
            FAIL,
            ["spf.loop"],
            [f"{D} -> a.example -> {D}"],
            id="include-loop",
        ),
        pytest.param(
            [spf(D, f"v=spf1 redirect={D}")],
            FAIL,
            ["spf.loop"],
            [f"{D} -> {D}"],
            id="redirect-to-self",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 include:a.example include:b.example -all"),
                timeout("a.example"),
                nx("b.example"),
            ],
            FAIL,
            ["spf.include.missing"],
            [],
            id="certain-failure-despite-timeout",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all"), timeout("a.example")],
            INCONCLUSIVE,
            [],
            ["include:a.example", "timeout"],
            id="include-timeout",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 a:x.example -all"),
                nx("x.example", "A"),
                servfail("x.example", "AAAA"),
            ],
            INCONCLUSIVE,
            [],
            ["a:x.example", "servfail"],
            id="a-half-unknown",
        ),
        pytest.param(
            [spf(D, "v=spf1 exists:%{i}._spf.example.net include:%{i}._spf.example.net -all")],
            PASS,
            [],
            [],
            id="macro-include",
        ),
        # RFC 7208 section 7.3: %{d} is the domain being checked, known without a client, so the
        # include is expanded and its target must have a record like any other.
        pytest.param(
            [spf(D, "v=spf1 include:%{d}._spf.example.net -all")],
            INCONCLUSIVE,
            [],
            [f"{D}._spf.example.net/TXT: not collected"],
            id="macro-d-include-expanded",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:%{d}._spf.example.net -all"), nx(f"{D}._spf.example.net")],
            FAIL,
            ["spf.include.missing"],
            [f"{D}._spf.example.net has no SPF record"],
            id="macro-d-include-missing",
        ),
        pytest.param(
            [spf(D, "v=spf1 exists:%{i}._spf.example.net ptr -all")],
            PASS,
            [],
            ["0 void lookup(s)"],
            id="macro-exists-and-ptr-not-counted",
        ),
    ],
)
def test_spf_04(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(spf_lookups_resolve(subject(answers)), status, codes, text)


# --------------------------------------------------------------------------------------------
# SPF-05


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param([spf(D, "v=spf1 mx -all")], PASS, [], ["'-all'"], id="minus-all"),
        pytest.param([spf(D, "v=spf1 mx ~all")], PASS, [], ["'~all'"], id="tilde-all"),
        pytest.param(
            [spf(D, "v=spf1 -all include:x.example")],
            PASS,
            [],
            ["1 mechanism(s) after it are never evaluated"],
            id="terms-after-all",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx +all")],
            FAIL,
            ["spf.all.permissive"],
            ["gets pass", "'v=spf1 mx -all'"],
            id="plus-all",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx all")],
            FAIL,
            ["spf.all.permissive"],
            ["'v=spf1 mx -all'"],
            id="bare-all",
        ),
        pytest.param(
            [spf(D, "v=spf1 mx ?all")],
            FAIL,
            ["spf.all.permissive"],
            ["gets neutral"],
            id="neutral-all",
        ),
        pytest.param(
            [spf(D, "v=spf1 ip4:192.0.2.1")],
            FAIL,
            ["spf.all.missing"],
            ["'v=spf1 ip4:192.0.2.1 -all'"],
            id="no-all",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), spf("r.example", "v=spf1 a -all")],
            PASS,
            [],
            ["'-all' in the record of r.example", f"reached by {D} -> r.example"],
            id="redirect-to-minus-all",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 redirect=r.example"),
                spf("r.example", "v=spf1 redirect=s.example"),
                spf("s.example", "v=spf1 ~all"),
            ],
            PASS,
            [],
            ["'~all' in the record of s.example"],
            id="two-redirects-deep",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), spf("r.example", "v=spf1 a ?all")],
            FAIL,
            ["spf.all.permissive"],
            ["at r.example, the redirect target", "'v=spf1 a -all'"],
            id="redirect-to-neutral",
        ),
        pytest.param(
            [spf(D, "v=spf1 -all redirect=r.example"), spf("r.example", "v=spf1 +all")],
            PASS,
            [],
            ["'-all' in the record of example.gov.uk"],
            id="all-makes-redirect-ignored",
        ),
        pytest.param(
            [spf(D, "v=spf1 ?all redirect=r.example"), spf("r.example", "v=spf1 -all")],
            FAIL,
            ["spf.all.permissive"],
            [],
            id="neutral-all-redirect-ignored",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), nx("r.example")],
            FAIL,
            ["spf.redirect.broken"],
            ["no SPF record", "and -all: 'v=spf1 -all'"],
            id="redirect-target-missing",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), spf("r.example", f"v=spf1 redirect={D}")],
            FAIL,
            ["spf.redirect.broken"],
            ["loop"],
            id="redirect-loop",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=r.example"), timeout("r.example")],
            INCONCLUSIVE,
            [],
            ["redirect=r.example", "timeout"],
            id="redirect-timeout",
        ),
        pytest.param(
            [spf(D, "v=spf1 redirect=%{l}.spf.example.net")],
            INCONCLUSIVE,
            [],
            ["macros", "sending client"],
            id="redirect-macro",
        ),
        # %{d} and %{o} do not depend on the client (RFC 7208 sections 7.2, 7.3): expanded.
        pytest.param(
            [
                spf(D, "v=spf1 redirect=%{d}.spf.example.net"),
                spf(f"{D}.spf.example.net", "v=spf1 ip4:192.0.2.1 -all"),
            ],
            PASS,
            [],
            ["-all"],
            id="redirect-macro-d",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 redirect=_spf.%{d2}"),
                spf("_spf.gov.uk", "v=spf1 ip4:192.0.2.1 ~all"),
            ],
            PASS,
            [],
            [],
            id="redirect-macro-d2",
        ),
        pytest.param(
            [
                spf(D, "v=spf1 redirect=%{or}.example.net"),
                spf("uk.gov.example.example.net", "v=spf1 ?all"),
            ],
            FAIL,
            ["spf.all.permissive"],
            [],
            id="redirect-macro-o-reversed",
        ),
    ],
)
def test_spf_05(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(spf_all_strict(subject(answers)), status, codes, text)


# --------------------------------------------------------------------------------------------
# SPF-06


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param(NESTED, PASS, [], ["no ptr in 4 record(s)"], id="none"),
        pytest.param(
            [spf(D, "v=spf1 mx ptr:example.gov.uk -all"), mx(D, "m.example.net")],
            FAIL,
            ["spf.ptr"],
            ["'ptr:example.gov.uk' in the record of", "record reads 'v=spf1 mx -all'"],
            id="own-record",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all"), spf("a.example", "v=spf1 ?ptr -all")],
            FAIL,
            ["spf.ptr"],
            [f"reached by {D} -> a.example", "ask them to drop ptr"],
            id="in-include",
        ),
        pytest.param(
            [spf(D, "v=spf1 include:a.example -all"), timeout("a.example")],
            INCONCLUSIVE,
            [],
            ["include:a.example"],
            id="include-timeout",
        ),
    ],
)
def test_spf_06(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(spf_no_ptr(subject(answers)), status, codes, text)


# --------------------------------------------------------------------------------------------
# SPF-07


def padded(size: int) -> str:
    """An SPF record whose one-string TXT rdata is exactly ``size`` bytes (string + length)."""
    base = "v=spf1 -all exp=x.example "
    return base + "x=" + "y" * (size - 1 - len(base) - 2)


@pytest.mark.parametrize(
    ("answers", "status", "codes", "text"),
    [
        pytest.param([spf(D, "v=spf1 -all")], PASS, [], ["12 bytes", "(limit 450)"], id="small"),
        pytest.param([spf(D, padded(450))], PASS, [], ["450 bytes"], id="exactly-450"),
        pytest.param([spf(D, padded(451))], FAIL, ["spf.size"], ["451 bytes"], id="451"),
        pytest.param(
            [txt(D, ("v=spf1 ", "-all"), "a" * 300, "b" * 150)],
            FAIL,
            ["spf.size"],
            ["465 bytes", "SPF record 13 bytes", "2 other TXT record(s) 452 bytes"],
            id="other-txt-records-count",
        ),
    ],
)
def test_spf_07(
    answers: list[DnsResult], status: Status, codes: list[str], text: list[str]
) -> None:
    check(spf_record_size(subject(answers)), status, codes, text)


# --------------------------------------------------------------------------------------------
# PARK-01


@pytest.mark.parametrize(
    ("answers", "status", "codes"),
    [
        pytest.param([spf(D, "v=spf1 -all")], PASS, [], id="exact"),
        pytest.param([spf(D, "V=SPF1 -ALL")], PASS, [], id="case"),
        pytest.param([spf(D, "v=spf1 -all ")], PASS, [], id="trailing-space"),
        pytest.param([txt(D, "v=spf1 -all", "ms=1")], PASS, [], id="other-txt"),
        pytest.param([spf(D, "v=spf1 ~all")], FAIL, ["park.spf.not_reject_all"], id="tilde"),
        pytest.param([spf(D, "v=spf1 a -all")], FAIL, ["park.spf.not_reject_all"], id="a"),
        pytest.param([spf(D, "v=spf1")], FAIL, ["park.spf.not_reject_all"], id="empty"),
        pytest.param([nx(D)], FAIL, ["park.spf.missing"], id="nxdomain"),
        pytest.param(
            [txt(D, "v=spf1 -all", "v=spf1 -all")], FAIL, ["park.spf.multiple"], id="twice"
        ),
        pytest.param([timeout(D)], INCONCLUSIVE, [], id="timeout"),
        pytest.param([servfail(D)], INCONCLUSIVE, [], id="servfail"),
    ],
)
def test_park_01(answers: list[DnsResult], status: Status, codes: list[str]) -> None:
    verdict = park_spf_deny_all(subject(answers))
    check(verdict, status, codes)
    if status is FAIL:
        assert "'v=spf1 -all'" in verdict.findings[0].remediation


# --------------------------------------------------------------------------------------------
# The planner, iterated to a fixed point as the collector does


class FakeDns:
    """Canned answers; any question not listed gets NXDOMAIN. Records what was asked."""

    def __init__(self, *answers: Answers) -> None:
        self.answers = {r.query: r for r in flatten(answers)}

    def answer(self, query: Query) -> DnsResult:
        return self.answers.get(query) or nx(query.name, query.rdtype)


def collect(
    dns: FakeDns, domain: str = D, rounds: int = WALK_MAX_DEPTH + 3
) -> tuple[list[Query], DnsSnapshot]:
    """Ask the planner, answer its new questions, repeat until it wants nothing new.

    A question's target is known only once its parent record is answered, so the number of
    rounds is bounded by the walk's depth bound.
    """
    snapshot = DnsSnapshot()
    asked: list[Query] = []
    for _ in range(rounds):
        new = [q for q in spf_queries(Target(domain), snapshot) if q not in snapshot]
        if not new:
            return asked, snapshot
        assert len(set(new)) == len(new)
        asked += new
        snapshot = snapshot.with_results(dns.answer(q) for q in new)
    raise AssertionError(f"the planner still asks new questions after {rounds} rounds")


def q(key: str) -> Query:
    name, rdtype = key.rsplit("/", 1)
    return Query(name, rdtype)


def test_planner_asks_exactly_what_the_judges_need() -> None:
    dns = FakeDns(
        spf(
            D,
            "v=spf1 include:a.example a mx exists:e.example ptr exists:%{i}.m.example"
            " ip4:192.0.2.1 -all include:after.example redirect=ignored.example",
        ),
        spf("a.example", "v=spf1 a:h.example -all"),
        mx(D, "mx1.example.net", "mx2.example.net"),
    )
    asked, snapshot = collect(dns)
    assert sorted(asked) == sorted(
        q(k)
        for k in [
            f"{D}/TXT",
            "a.example/TXT",
            f"{D}/A",
            f"{D}/AAAA",
            f"{D}/MX",
            "e.example/A",
            "h.example/A",
            "h.example/AAAA",
            "mx1.example.net/A",
            "mx1.example.net/AAAA",
            "mx2.example.net/A",
            "mx2.example.net/AAAA",
        ]
    )
    # The judges then find everything they need in what was collected.
    world = Subject(Target(D), snapshot)
    for judge in [spf_single_record, *_REQUIRE_ONE]:
        assert judge(world).status is not Status.INCONCLUSIVE, judge


def test_planner_skips_client_macros_and_ptr() -> None:
    dns = FakeDns(spf(D, "v=spf1 ptr ptr:x.example include:%{i}.x.example redirect=%{h}.x.example"))
    asked, _ = collect(dns)
    assert asked == [q(f"{D}/TXT")]


def test_planner_expands_the_domain_macro() -> None:
    """%{d} is the domain being checked (RFC 7208 section 7.3): the planner asks for it."""
    dns = FakeDns(
        spf(D, "v=spf1 include:%{i}.x.example a:%{d1r}.y.example redirect=%{d}.x.example")
    )
    asked, _ = collect(dns)
    assert asked[0] == q(f"{D}/TXT")
    assert set(asked[1:]) == {
        q("example.y.example/A"),
        q("example.y.example/AAAA"),
        q(f"{D}.x.example/TXT"),
    }


def test_planner_starts_with_the_domain_txt_only() -> None:
    assert list(spf_queries(Target(D), DnsSnapshot())) == [q(f"{D}/TXT")]


@pytest.mark.parametrize(
    "root",
    [
        pytest.param([txt(D, "v=spf1 include:a.example -all", "v=spf1 -all")], id="multiple"),
        pytest.param([spf(D, "v=spf1 include:a.example foo -all")], id="invalid"),
        pytest.param([txt(D, "hello")], id="no-spf"),
        pytest.param([timeout(D)], id="timeout"),
    ],
)
def test_planner_does_not_follow_an_unusable_record(root: list[DnsResult]) -> None:
    asked, _ = collect(FakeDns(root))
    assert asked == [q(f"{D}/TXT")]


def test_planner_terminates_on_an_include_loop() -> None:
    dns = FakeDns(
        spf(D, "v=spf1 include:a.example -all"),
        spf("a.example", "v=spf1 include:b.example -all"),
        spf("b.example", f"v=spf1 include:a.example redirect={D} include:{D} -all"),
    )
    asked, snapshot = collect(dns)
    assert asked == [q(f"{D}/TXT"), q("a.example/TXT"), q("b.example/TXT")]
    tree = walk_spf(D, snapshot)
    assert [n.state for n in tree.nodes()].count(NodeState.LOOP) == 2


def test_planner_terminates_on_a_long_chain() -> None:
    dns = FakeDns(spf(D, "v=spf1 include:c0.example -all"), *chain("c", 500))
    asked, snapshot = collect(dns)
    assert len(asked) == WALK_MAX_DEPTH + 1
    assert walk_spf(D, snapshot).truncated


def test_planner_terminates_on_a_wide_hostile_tree() -> None:
    """Every record includes ten new names: the walk's term budget bounds the questions."""

    def fan(name: str, depth: int) -> list[DnsResult]:
        if depth == 0:
            return [spf(name, "v=spf1 -all")]
        kids = [f"n{i}.{name}" for i in range(10)]
        record = "v=spf1 " + " ".join(f"include:{k}" for k in kids) + " -all"
        return [spf(name, record), *(r for k in kids for r in fan(k, depth - 1))]

    asked, snapshot = collect(FakeDns(fan(D, 3)))
    # Each round walks at most WALK_TERM_BUDGET terms; names pushed out of the budget by
    # answers that arrive later were already asked, so the total is bounded, not minimal.
    assert len(asked) <= WALK_TERM_BUDGET * 3
    assert walk_spf(D, snapshot).truncated
    check(spf_lookup_limit(Subject(Target(D), snapshot)), FAIL, ["spf.lookups.exceeded"])


def test_planner_asks_addresses_of_at_most_10_exchanges() -> None:
    exchanges = [f"mx{i:02}.example.net" for i in range(15)]
    asked, snapshot = collect(FakeDns(spf(D, "v=spf1 mx -all"), mx(D, *exchanges)))
    assert [k for k in asked if k.rdtype == "A"] == [q(f"{x}/A") for x in exchanges[:10]]
    check(spf_lookup_limit(Subject(Target(D), snapshot)), FAIL, ["spf.mx.exceeded"])


def test_planner_skips_the_null_mx() -> None:
    asked, _ = collect(FakeDns(spf(D, "v=spf1 mx -all"), mx(D, ".")))
    assert asked == [q(f"{D}/TXT"), q(f"{D}/MX")]


def test_planner_does_not_reask_a_failed_include() -> None:
    asked, snapshot = collect(
        FakeDns(spf(D, "v=spf1 include:a.example -all"), timeout("a.example"))
    )
    assert asked == [q(f"{D}/TXT"), q("a.example/TXT")]
    check(spf_lookup_limit(Subject(Target(D), snapshot)), INCONCLUSIVE)


def test_render_tree_marks_problems() -> None:
    world = subject(
        spf(D, "v=spf1 include:gone.example include:%{i}.x.example a:nx.example -all"),
        nx("gone.example"),
        nx("nx.example", "A"),
        nx("nx.example", "AAAA"),
    )
    text = render_tree(walk_spf(D, world.dns))
    assert "gone.example: NXDOMAIN, no SPF record" in text
    assert "%{i}.x.example: has macros" in text
    assert "a:nx.example  [1]  (void)" in text


# --------------------------------------------------------------------------------------------
# The judge layer stays pure


@pytest.mark.parametrize("module", [judge_spf, records_spf], ids=lambda m: m.__name__)
def test_no_network_imports(module: object) -> None:
    source = Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"dns", "socket", "ssl", "http", "urllib", "smtplib", "asyncio"}


# --------------------------------------------------------------------------------------------
# Robustness: any answers, any records: the walk, the planner and every judge return a verdict

_NAMES = [D, "a.example", "b.example"]
_TOKENS = [
    *(f"include:{n}" for n in _NAMES),
    *(f"redirect={n}" for n in _NAMES),
    "a",
    "mx",
    "a:b.example/24",
    "mx:a.example",
    "exists:%{i}.a.example",
    "include:%{d}.b.example",
    "ptr",
    "-all",
    "~all",
    "?all",
    "+all",
    "all",
    "foo",
    "ip4:192.0.2.0/24",
    "ip4:1.2.3.4/33",
    "exp=a.example",
    "x=y",
]
_RECORD = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=6).map(lambda ts: " ".join(["v=spf1", *ts])),
    st.text(max_size=20),
)


@st.composite
def _worlds(draw: st.DrawFn) -> list[DnsResult]:
    answers: list[DnsResult] = []
    for name in [*_NAMES, "mx.a.example"]:
        for rdtype in ("TXT", "A", "AAAA", "MX"):
            kind = draw(st.sampled_from(["records", "nx", "nodata", "timeout", "absent"]))
            if kind == "nx":
                answers.append(nx(name, rdtype))
            elif kind == "nodata":
                answers.append(nodata(name, rdtype))
            elif kind == "timeout":
                answers.append(timeout(name, rdtype))
            elif kind == "records" and rdtype == "TXT":
                answers.append(txt(name, *draw(st.lists(_RECORD, min_size=1, max_size=2))))
            elif kind == "records" and rdtype == "MX":
                exchanges = draw(st.sampled_from(["10 mx.a.example.", "0 .", "junk"]))
                answers.append(DnsResult(name, "MX", "NOERROR", (exchanges,)))
            elif kind == "records":
                answers += host(name)
    if draw(st.booleans()):
        answers.append(DnsResult("b.example", "TXT", "NOERROR", ('"unterminated',)))
    return answers


_ALL_JUDGES = [spf_single_record, *_REQUIRE_ONE, park_spf_deny_all]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_worlds())
def test_any_world_gives_a_verdict(answers: list[DnsResult]) -> None:
    world = subject(answers)
    for judge in _ALL_JUDGES:
        verdict = judge(world)
        assert isinstance(verdict, Verdict)
        assert (verdict.status is Status.FAIL) == bool(verdict.findings)
    tree = walk_spf(D, world.dns)
    assert tree.dns_terms >= 0
    render_tree(tree)
    collect(FakeDns(answers))


def test_a_problem_reached_twice_is_reported_once() -> None:
    world = subject(
        spf(D, "v=spf1 include:x.example include:x.example -all"),
        spf("x.example", "v=spf1 include:gone.example mx -all"),
        nx("gone.example"),
        mx("x.example", *[f"mx{i}.example.net" for i in range(11)]),
    )
    check(spf_lookups_resolve(world), FAIL, ["spf.include.missing"])
    check(spf_lookup_limit(world), FAIL, ["spf.mx.exceeded"], ["6 DNS-querying terms"])
