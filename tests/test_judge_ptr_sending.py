"""PTR-02: forward-confirmed reverse DNS for the addresses a domain's SPF authorises directly.

The SPF records are real deployment shapes: Microsoft 365's and Google Workspace's published
includes, the Ministry of Justice's "Email Authentication Guide" example (a provider include, an
IPv6 range and one IPv4 address), an on-premises ``mx a`` record, and RFC 7208's own examples
(section 5.3 ``a/24``, section 5.4 ``mx``, section 5.6 ``ip4``/``ip6``). Addresses are the
documentation ranges (RFC 5737, RFC 3849).
"""

from __future__ import annotations

import ipaddress

import pytest
from factories import answer, failed, nxdomain, subject, txt
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.engine.needs import planners_for
from pytest_govmail.judge.ptr import sending_ptr_confirmed
from pytest_govmail.model.dns import DnsResult, DnsSnapshot
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status
from pytest_govmail.plan.ptr import sending_ptr_queries
from pytest_govmail.records.ptr import reverse_name
from pytest_govmail.records.spf import sending_addresses

D = "example-dept.gov.uk"
MOJ = (
    "v=spf1 include:spf.protection.outlook.com include:mail.zendesk.com "
    "ip6:2001:db8::/32 ip4:203.0.113.6 ~all"
)
V6 = "2001:db8:5::25"


def ptr(address: str, *names: str) -> DnsResult:
    return answer(reverse_name(address), "PTR", *(f"{n}." for n in names))


def confirmed(address: str, name: str) -> list[DnsResult]:
    rdtype = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    return [ptr(address, name), answer(name, rdtype, address)]


MX_A = [
    answer(D, "MX", f"10 mail.{D}."),
    answer(f"mail.{D}", "A", "192.0.2.25"),
    answer(f"mail.{D}", "AAAA", V6),
    answer(D, "A", "192.0.2.80"),
    answer(D, "AAAA"),
]


@pytest.mark.parametrize(
    ("results", "expected", "says"),
    [
        pytest.param(
            [txt(D, "v=spf1 include:spf.protection.outlook.com -all")],
            Status.NOT_APPLICABLE,
            "no address",
            id="microsoft-365-include-only",
        ),
        pytest.param(
            [txt(D, "v=spf1 include:_spf.google.com ~all")],
            Status.NOT_APPLICABLE,
            "no address",
            id="google-workspace-include-only",
        ),
        pytest.param(
            [txt(D, MOJ), *confirmed("203.0.113.6", "relay.example-dept.gov.uk")],
            Status.PASS,
            "203.0.113.6",
            id="moj-example-single-address-confirmed",
        ),
        pytest.param(
            [txt(D, MOJ), nxdomain(reverse_name("203.0.113.6"), "PTR")],
            Status.FAIL,
            "no PTR record",
            id="moj-example-no-ptr",
        ),
        pytest.param(
            [
                txt(D, MOJ),
                ptr("203.0.113.6", "host-203-0-113-6.isp.example"),
                answer("host-203-0-113-6.isp.example", "A", "203.0.113.7"),
            ],
            Status.FAIL,
            "do not include it",
            id="moj-example-ptr-not-confirmed",
        ),
        pytest.param(
            [txt(D, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all")],
            Status.NOT_APPLICABLE,
            "range",
            id="ranges-only",
        ),
        pytest.param(
            [
                txt(D, "v=spf1 mx a -all"),
                *MX_A,
                *confirmed("192.0.2.25", f"mail.{D}"),
                ptr(V6, f"mail.{D}"),
                *confirmed("192.0.2.80", f"www.{D}"),
            ],
            Status.PASS,
            "3 address",
            id="on-premises-mx-a-dual-stack",
        ),
        pytest.param(
            [
                txt(D, "v=spf1 mx a -all"),
                *MX_A,
                *confirmed("192.0.2.25", f"mail.{D}"),
                nxdomain(reverse_name(V6), "PTR"),
                *confirmed("192.0.2.80", f"www.{D}"),
            ],
            Status.FAIL,
            V6,
            id="ipv6-address-without-ptr",
        ),
        pytest.param(
            [
                txt(D, "v=spf1 ip6:2001:DB8:0:0::0025 -all"),
                ptr("2001:db8::25", "mail.example-dept.gov.uk"),
                answer("mail.example-dept.gov.uk", "AAAA", "2001:db8:0000::25"),
            ],
            Status.PASS,
            "2001:db8::25",
            id="ipv6-spellings-compare-as-addresses",
        ),
        pytest.param(
            [
                txt(D, "v=spf1 ip4:198.51.100.9 -all"),
                ptr("198.51.100.9", "o1.ptr1234.sharedmail.example", "mta.example-dept.gov.uk"),
                answer("o1.ptr1234.sharedmail.example", "A", "198.51.100.10"),
                answer("mta.example-dept.gov.uk", "A", "198.51.100.9"),
            ],
            Status.PASS,
            "198.51.100.9",
            id="second-ptr-name-confirms",
        ),
        pytest.param(
            [txt(D, "v=spf1 ip4:192.0.2.1 -all"), failed(reverse_name("192.0.2.1"), "PTR")],
            Status.INCONCLUSIVE,
            "timeout",
            id="ptr-timeout",
        ),
        pytest.param(
            [txt(D, "v=spf1 a -all"), failed(D, "A"), answer(D, "AAAA")],
            Status.INCONCLUSIVE,
            "could not be read",
            id="a-lookup-timeout",
        ),
        pytest.param(
            [txt(D, "v=spf1 -ip4:192.0.2.1 ?ip4:192.0.2.2 ~ip4:192.0.2.3 -all ip4:192.0.2.4")],
            Status.NOT_APPLICABLE,
            "no address",
            id="only-pass-before-all-authorises",
        ),
        pytest.param(
            [txt(D, "v=spf1 a:mail.other-dept.gov.uk mx:other.example -all")],
            Status.NOT_APPLICABLE,
            "no address",
            id="a-mx-of-other-domains-not-ours",
        ),
        pytest.param(
            [
                txt(D, f"v=spf1 include:_spf.{D} include:spf.protection.outlook.com -all"),
                txt(f"_spf.{D}", f"v=spf1 ip4:203.0.113.6 include:_spf2.{D} ~all"),
                txt(f"_spf2.{D}", "v=spf1 ip6:2001:db8::25 -all"),
                *confirmed("203.0.113.6", f"relay.{D}"),
                *confirmed("2001:db8::25", f"relay.{D}"),
            ],
            Status.PASS,
            "2 address",
            id="own-include-chain-is-the-domains-own-list",
        ),
        pytest.param(
            [
                txt(D, f"v=spf1 redirect=_spf.{D}"),
                txt(f"_spf.{D}", "v=spf1 ip4:203.0.113.9 -all"),
                nxdomain(reverse_name("203.0.113.9"), "PTR"),
            ],
            Status.FAIL,
            f"ip4:203.0.113.9 (in _spf.{D})",
            id="own-redirect-followed",
        ),
        pytest.param(
            [
                txt(D, f"v=spf1 -include:_spf.{D} include:{D} -all"),
                txt(f"_spf.{D}", "v=spf1 ip4:203.0.113.9 -all"),
            ],
            Status.NOT_APPLICABLE,
            "no address",
            id="fail-include-and-self-loop-authorise-nothing",
        ),
        pytest.param(
            [txt(D, f"v=spf1 include:_spf.{D} -all"), failed(f"_spf.{D}", "TXT")],
            Status.INCONCLUSIVE,
            "could not be read",
            id="own-include-timeout",
        ),
        pytest.param([nxdomain(D, "TXT")], Status.NOT_APPLICABLE, "SPF-01", id="no-spf"),
        pytest.param(
            [txt(D, "v=spf1 -all", "v=spf1 ip4:192.0.2.1 -all")],
            Status.NOT_APPLICABLE,
            "SPF-01",
            id="two-spf-records",
        ),
        pytest.param([failed(D, "TXT")], Status.INCONCLUSIVE, "timeout", id="txt-timeout"),
    ],
)
def test_sending_ptr_confirmed(results: list[DnsResult], expected: Status, says: str) -> None:
    verdict = sending_ptr_confirmed(subject(D, *results))
    assert verdict.status is expected, verdict.summary
    assert says in verdict.summary


def test_ranges_and_providers_are_named_in_the_details() -> None:
    verdict = sending_ptr_confirmed(
        subject(D, txt(D, MOJ), *confirmed("203.0.113.6", "relay.example-dept.gov.uk"))
    )
    notes = " ".join(text for _, text in verdict.details)
    assert '"ip6:2001:db8::/32" authorises a range' in notes
    assert "include:spf.protection.outlook.com" in notes and "include:mail.zendesk.com" in notes


def test_a_with_cidr_judges_the_hosts_own_address() -> None:
    # RFC 7208 section 5.3's example "a/24": the /24 around the address is authorised; the
    # address itself is the sending host.
    found = sending_addresses(
        D,
        DnsSnapshot([txt(D, "v=spf1 a/24 -all"), answer(D, "A", "192.0.2.80"), answer(D, "AAAA")]),
    )
    assert [a.address for a in found.addresses] == ["192.0.2.80"]
    assert found.addresses[0].term == "a/24" and found.addresses[0].host == D


def _fixed_point(snapshot: dict[tuple[str, str], DnsResult]) -> DnsSnapshot:
    """Run the planner as the collector does, answering from ``snapshot`` (NXDOMAIN otherwise)."""
    known: dict[tuple[str, str], DnsResult] = {}
    target = Target(D)
    while True:
        dns = DnsSnapshot(known.values())
        new = [q for q in sending_ptr_queries(target, dns) if (q.name, q.rdtype) not in known]
        if not new:
            return dns
        for q in new:
            known[(q.name, q.rdtype)] = snapshot.get((q.name, q.rdtype)) or nxdomain(*q)


def test_the_planner_asks_everything_the_judge_reads() -> None:
    world = [
        txt(D, "v=spf1 mx a ip4:203.0.113.6 include:spf.protection.outlook.com -all"),
        *MX_A,
        *confirmed("192.0.2.25", f"mail.{D}"),
        *confirmed(V6, f"mail.{D}"),
        *confirmed("192.0.2.80", f"www.{D}"),
        *confirmed("203.0.113.6", f"relay.{D}"),
        txt("spf.protection.outlook.com", "v=spf1 ip4:40.92.0.0/15 -all"),
    ]
    dns = _fixed_point({(r.name, r.rdtype): r for r in world})
    verdict = sending_ptr_confirmed(subject(D, *dns))
    assert verdict.status is Status.PASS, verdict.summary
    assert "4 address" in verdict.summary
    assert sending_ptr_queries in planners_for({"sendptr"})


_SINGLE4 = st.ip_addresses(v=4).map(str)
_TERM = st.one_of(
    st.tuples(st.sampled_from(["", "+", "-", "~", "?"]), _SINGLE4).map(
        lambda t: (f"{t[0]}ip4:{t[1]}", t[1] if t[0] in ("", "+") else None)
    ),
    st.tuples(_SINGLE4, st.integers(0, 31)).map(lambda t: (f"ip4:{t[0]}/{t[1]}", None)),
    st.just(("include:spf.sharedmail.example", None)),
)


@given(st.lists(_TERM, max_size=12), st.booleans())
def test_exactly_the_pass_singles_before_all_are_found(terms: list, with_all: bool) -> None:
    cut = len(terms) // 2 if with_all else len(terms)
    record = " ".join(
        [
            "v=spf1",
            *(t for t, _ in terms[:cut]),
            *(["-all"] if with_all else []),
            *(t for t, _ in terms[cut:]),
        ]
    )
    found = sending_addresses(D, DnsSnapshot([txt(D, record)]))
    wanted = list(dict.fromkeys(a for _, a in terms[:cut] if a is not None))
    assert [a.address for a in found.addresses] == wanted[:32]


def test_a_hostile_reverse_zone_is_bounded_and_shown_inert() -> None:
    # 500 PTR names, markup and control characters among them: ten are followed, and none is
    # asked or shown raw.
    names = [f"h{i}.<script>x</script>\x07.example" for i in range(500)]
    world = [txt(D, "v=spf1 ip4:192.0.2.7 -all"), ptr("192.0.2.7", *names)]
    dns = _fixed_point({(r.name, r.rdtype): r for r in world})
    forward = [r for r in dns if r.rdtype == "A"]
    assert len(forward) == 10
    verdict = sending_ptr_confirmed(subject(D, *dns))
    assert verdict.status is Status.FAIL
    assert "\x07" not in verdict.summary and "\\x07" in verdict.summary
