"""DMARCbis (RFC 9989): each record judged as RFC 9989 reads it, with where RFC 7489 differs.

Material not written here: the records RFC 9989 prints in Appendix B (B.2.2, B.2.5 before and
after the test, B.3.1), its section 4.10.1 rule for a record without ``p`` ("If a 'rua' tag is
present and contains at least one syntactically valid reporting URI, the Mail Receiver MUST act
as if a record containing 'p=none' was retrieved ... Otherwise, the Mail Receiver applies no
DMARC processing"), its section 4.7 ``t=y`` ("if the policy is 'reject' and the value of the 't'
tag is 'y', a policy of 'quarantine' will be applied"), ``np`` and ``psd``, and Appendix A.6 on
``pct`` (values 0 and 100 "analogous" to ``t=y`` and ``t=n``). Section numbers are those of
draft-ietf-dmarc-dmarcbis-41, published as RFC 9989.
"""

from __future__ import annotations

import pytest
from factories import subject, txt
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.judge.dmarc import (
    dmarc_pct_full,
    dmarc_subdomain_policy,
    dmarc_syntax_valid,
    dmarcbis_details,
    parked_dmarc_reject,
)
from pytest_govmail.model.target import Role
from pytest_govmail.model.verdict import Status
from pytest_govmail.records.dmarc import (
    POLICIES,
    invalid_tags,
    parse_dmarc,
    rfc7489_differences,
    rfc9989_reading,
)

D = "example-dept.gov.uk"
RUA = "rua=mailto:dmarc-feedback@example.com"

# RFC 9989 Appendix B, each zone-file TXT record with its strings joined as DNS joins them.
B_2_2 = (
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com"
)
B_2_5_TESTING = (
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
    "mailto:tld-test@thirdparty.example.net; t=y"
)
B_2_5_DONE = (
    "v=DMARC1; p=reject; rua=mailto:dmarc-feedback@example.com,"
    "mailto:tld-test@thirdparty.example.net"
)
B_3_1 = "v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com"


def judged(judge, record: str, *, parked: bool = False):
    roles = frozenset({Role.PARKED}) if parked else frozenset()
    return judge(subject(D, txt(f"_dmarc.{D}", record), roles=roles))


def lines(record: str) -> str:
    return "\n".join(rfc7489_differences(parse_dmarc(record)))


@pytest.mark.parametrize(
    ("record", "domain", "subdomains", "nonexistent"),
    [
        pytest.param(B_2_2, "none", "none", "none", id="B.2.2-monitoring"),
        pytest.param(B_2_5_TESTING, "none", "none", "none", id="B.2.5-quarantine-in-test-mode"),
        pytest.param(B_2_5_DONE, "reject", "reject", "reject", id="B.2.5-reject"),
        pytest.param(B_3_1, "reject", "reject", "reject", id="B.3.1"),
        pytest.param(f"v=DMARC1; p=reject; t=y; {RUA}", "quarantine", "quarantine", "quarantine"),
        pytest.param(
            f"v=DMARC1; p=reject; sp=quarantine; np=none; {RUA}", "reject", "quarantine", "none"
        ),
        pytest.param("v=DMARC1; p=reject; np=quarantine; t=y", "quarantine", "quarantine", "none"),
        pytest.param(f"v=DMARC1; {RUA}", "none", "none", "none", id="4.10.1-no-p-with-rua"),
        pytest.param("v=DMARC1; p=quarantine; pct=20", "quarantine", "quarantine", "quarantine"),
    ],
)
def test_rfc9989_reading(record: str, domain: str, subdomains: str, nonexistent: str) -> None:
    reading = rfc9989_reading(parse_dmarc(record))
    assert reading.processed
    applied = tuple(
        reading.applied(p) for p in (reading.domain, reading.subdomains, reading.nonexistent)
    )
    assert applied == (domain, subdomains, nonexistent)


def test_no_p_and_no_rua_is_no_dmarc_processing() -> None:
    # Section 4.10.1: "Otherwise, the Mail Receiver applies no DMARC processing to this message."
    record = parse_dmarc("v=DMARC1; adkim=s; aspf=s")
    assert not rfc9989_reading(record).processed
    verdict = judged(dmarc_syntax_valid, "v=DMARC1; adkim=s; aspf=s")
    assert verdict.status is Status.PASS  # syntax: valid; what it does is said in the details
    reading = dict(verdict.details)["RFC 9989 reading"]
    assert "no DMARC processing" in reading
    assert "discard" in lines("v=DMARC1; adkim=s; aspf=s")


@pytest.mark.parametrize(
    ("record", "expected", "absent"),
    [
        pytest.param(B_2_2, [], ["t=y", "pct"], id="B.2.2-reads-the-same"),
        pytest.param(B_2_5_DONE, [], ["t=y"], id="B.2.5-reject-reads-the-same"),
        pytest.param(
            B_2_5_TESTING,
            ["t=y: RFC 9989 receivers apply p=quarantine as none", "apply the policy in full"],
            [],
            id="B.2.5-t=y",
        ),
        pytest.param(
            f"v=DMARC1; {RUA}",
            ["no p: RFC 9989 reads the record as p=none", "strict RFC 7489 receiver may discard"],
            [],
            id="no-p",
        ),
        pytest.param(
            f"v=DMARC1; {RUA}; p=reject",
            ["p is not the tag after v"],
            [],
            id="p-not-second",
        ),
        pytest.param(
            "v=DMARC1; p=quarantine; pct=0",
            ["pct=0: RFC 7489 receivers apply p=quarantine to 0%", "t=y says that"],
            [],
            id="A.6-pct-0",
        ),
        pytest.param(
            "v=DMARC1; p=reject; pct=50; t=y",
            ["pct=50", "apply p=reject (as quarantine, t=y) to all of it"],
            [],
            id="pct-with-t",
        ),
        pytest.param("v=DMARC1; p=reject; pct=100", [], ["pct=100:"], id="pct-100-same"),
        pytest.param(
            "v=DMARC1; p=reject; np=none",
            ["np=none: RFC 7489 receivers ignore np", "gets sp/p (reject)"],
            [],
            id="np",
        ),
        pytest.param(
            "v=DMARC1; p=reject; psd=n", ["psd=n: RFC 7489 receivers ignore psd"], [], id="psd"
        ),
        pytest.param(
            "v=DMARC1; p=reject; rf=afrf; ri=3600",
            ['rf="afrf": read by RFC 7489', 'ri="3600"'],
            [],
            id="rf-ri",
        ),
        pytest.param(
            "v=DMARC1; p=reject; fo=0:1; ruf=mailto:f@example.com",
            ["outside RFC 9989's grammar"],
            [],
            id="fo-0-and-1",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:r@example.com!10m",
            ["'!size' limit", "RFC 9989 reporters ignore it"],
            [],
            id="size-limit",
        ),
        pytest.param("v=DMARC1; p=reject; foo=bar", [], ["foo"], id="unknown-tag-both-ignore"),
    ],
)
def test_where_rfc7489_receivers_read_it_otherwise(
    record: str, expected: list[str], absent: list[str]
) -> None:
    text = lines(record)
    for part in expected:
        assert part in text, text
    for part in absent:
        assert part not in text, text
    if not expected:
        assert text == ""


@pytest.mark.parametrize("tag", ["pct=50", "rf=afrf", "ri=86400"])
def test_removed_tags_warn_and_never_fail_the_syntax(tag: str) -> None:
    verdict = judged(dmarc_syntax_valid, f"v=DMARC1; p=reject; {tag}; {RUA}")
    assert verdict.status is Status.PASS, verdict
    warnings = [text for kind, text in verdict.details if kind == "warning"]
    assert len(warnings) == 1 and "RFC 9989 removed" in warnings[0]


def test_every_dmarcbis_judge_carries_the_rfc7489_comparison() -> None:
    record = "v=DMARC1; p=reject; sp=reject; t=y; pct=100; " + RUA
    for judge in (dmarc_syntax_valid, dmarc_pct_full, dmarc_subdomain_policy):
        verdict = judged(judge, record)
        kinds = [kind for kind, _ in verdict.details]
        assert "RFC 9989 reading" in kinds and "RFC 7489 receivers" in kinds, judge
    details = dmarcbis_details(parse_dmarc(record))
    assert dict(details)["RFC 9989 reading"].startswith("receivers apply: the domain quarantine")


@pytest.mark.parametrize(
    ("record", "status", "codes"),
    [
        pytest.param("v=DMARC1; p=reject; np=none", Status.FAIL, ["dmarc.np.none"], id="np-none"),
        pytest.param(
            "v=DMARC1; p=reject; sp=none; np=none",
            Status.FAIL,
            ["dmarc.sp.none"],
            id="sp-none-carries-it",
        ),
        pytest.param("v=DMARC1; p=reject; np=quarantine", Status.PASS, [], id="np-quarantine"),
        pytest.param("v=DMARC1; p=none; np=none", Status.PASS, [], id="p-none-is-dmarc-03s"),
        pytest.param(B_2_5_DONE, Status.PASS, [], id="B.2.5-no-np"),
    ],
)
def test_dmarc_05_reads_np(record: str, status: Status, codes: list[str]) -> None:
    verdict = judged(dmarc_subdomain_policy, record)
    assert verdict.status is status, verdict
    assert [f.code for f in verdict.findings] == codes
    if "dmarc.np.none" in codes:
        assert "np=none" not in verdict.findings[0].remediation.split('"')[1]


@pytest.mark.parametrize(
    ("record", "status"),
    [
        pytest.param("v=DMARC1; p=reject; sp=reject; np=reject", Status.PASS, id="np-reject"),
        pytest.param("v=DMARC1; p=reject; sp=reject", Status.PASS, id="g3-record"),
        pytest.param("v=DMARC1; p=reject; sp=reject; np=none", Status.FAIL, id="np-none"),
        pytest.param("v=DMARC1; p=reject; sp=reject; np=quarantine", Status.FAIL, id="np-quar"),
    ],
)
def test_park_02_reads_np(record: str, status: Status) -> None:
    verdict = judged(parked_dmarc_reject, record, parked=True)
    assert verdict.status is status, verdict
    if status is Status.FAIL:
        assert "np=" in verdict.summary
        fix = verdict.findings[0].remediation
        assert "np=none" not in fix and "np=quarantine" not in fix


_POLICY = st.sampled_from(POLICIES)


@given(
    p=st.none() | _POLICY,
    sp=st.none() | _POLICY,
    np=st.none() | _POLICY,
    t=st.sampled_from([None, "y", "n"]),
    pct=st.none() | st.integers(0, 100),
    rua=st.booleans(),
)
def test_reading_follows_sections_4_7_and_4_10_1(p, sp, np, t, pct, rua) -> None:
    tags = [
        f"{k}={v}"
        for k, v in (("p", p), ("sp", sp), ("np", np), ("t", t), ("pct", pct))
        if v is not None
    ]
    record = parse_dmarc("; ".join(["v=DMARC1", *tags, *([RUA] if rua else [])]))
    reading = rfc9989_reading(record)
    assert reading.processed == (p is not None or rua)
    if reading.processed:
        assert reading.domain == (p or "none")
        assert reading.subdomains == (sp or p or "none")
        assert reading.nonexistent == (np or sp or p or "none")
        for policy in POLICIES:
            lowered = {"reject": "quarantine", "quarantine": "none", "none": "none"}[policy]
            assert reading.applied(policy) == (lowered if t == "y" else policy)
    text = "\n".join(rfc7489_differences(record))
    testing = t == "y" and reading.processed and any(x not in (None, "none") for x in (p, sp, np))
    assert ("t=y:" in text) == testing
    assert ("pct=" in text) == (pct is not None and pct < 100)


@pytest.mark.parametrize(
    ("record", "rfc9989", "rfc7489"),
    [
        pytest.param(
            f"v=DMARC1; p=reject; np=rejct; {RUA}",
            "np not valid: receivers act as if the record held p=none",
            'RFC 7489 has no tag "np" and ignores it, so its receivers apply the policy as '
            "written (p=reject)",
            id="invalid-np-lowers-everything-for-rfc9989-only",
        ),
        pytest.param(
            f"v=DMARC1; p=rejct; {RUA}",
            "p not valid: receivers act as if the record held p=none",
            "RFC 7489 receivers read p=none too",
            id="invalid-p-with-rua",
        ),
        pytest.param(
            "v=DMARC1; p=reject; sp=rej",
            "no valid rua: receivers apply no DMARC processing",
            "RFC 7489 receivers apply no DMARC processing too",
            id="invalid-sp-without-rua",
        ),
        pytest.param(
            "v=DMARC1; p=reject; t=maybe",
            'discard the invalid "t" for the defaults',
            "apply the policy as written (p=reject)",
            id="invalid-t-discarded",
        ),
        pytest.param(
            "v=DMARC1; p=reject; adkim=x",
            "the domain reject",
            "varies",
            id="invalid-adkim",
        ),
    ],
)
def test_an_invalid_record_fails_and_says_how_each_receiver_reads_it(
    record: str, rfc9989: str, rfc7489: str
) -> None:
    # Sections 4.8 ("discarded in favor of default values") and 4.10.1 ("does not contain a
    # valid 'p' tag, or contains an 'sp' or 'np' tag that is not valid").
    verdict = judged(dmarc_syntax_valid, record)
    assert verdict.status is Status.FAIL
    details = dict(verdict.details)
    assert rfc9989 in details["RFC 9989 reading"], details
    assert rfc7489 in details["RFC 7489 receivers"], details


_VALID = st.sampled_from(["p=reject", "sp=quarantine", "adkim=s", "aspf=r", "t=n", RUA, "fo=1"])
_INVALID = st.sampled_from(
    [("np", "np=rejct"), ("psd", "psd=maybe"), ("pct", "pct=101"), ("ri", "ri=-1"), ("x", "x=")]
)


@given(st.lists(_VALID, unique=True, max_size=5), _INVALID, st.integers(0, 5))
def test_invalid_tags_names_exactly_the_bad_tag(valid: list[str], bad, at: int) -> None:
    name, chunk = bad
    tags = [*valid]
    tags.insert(at % (len(tags) + 1), chunk)
    assert invalid_tags("; ".join(["v=DMARC1", *tags])) == (name,)
