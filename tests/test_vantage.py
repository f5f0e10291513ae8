"""The vantage point: its record in the evidence, what it leaves unprobed, and how judges use it.

Data tables for the pure parts (which addresses are probed, what port 25 looks like from the
scans, what the canary answer says, how a host test names what it could not probe), hypothesis
for the round trip through the evidence's settings strings, and the kernel's own answer (a UDP
connect, which sends nothing) for routes to loopback. The namespaces of
tests/test_vantage_netns.py cover the whole run.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from factories import answer
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.collect.vantage import (
    Port25Watch,
    port25_state,
    resolver_canary,
    routable,
    udp_route,
)
from pytest_govmail.judge.host import answers_smtp, starttls_completes
from pytest_govmail.judge.vantage import overrule
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import SmtpDialogue, TlsScan, TlsVersion, VersionProbe
from pytest_govmail.model.vantage import (
    IP_VERSIONS,
    PORT25_ANSWERED,
    PORT25_BLOCKED,
    PORT25_UNKNOWN,
    Vantage,
)
from pytest_govmail.model.verdict import Status, Verdict

HOST = "mx.dual-dept.gov.uk"
V4, V6 = "192.0.2.25", "2001:db8::25"
NO_V6 = Vantage("auto", {"4": True, "6": False}, unrouted=frozenset({V6}))


@pytest.mark.parametrize(
    ("vantage", "address", "reason"),
    [
        pytest.param(NO_V6, V6, "not probed from this machine (no IPv6 route)", id="auto-unrouted"),
        pytest.param(NO_V6, V4, None, id="auto-routed-v4"),
        pytest.param(NO_V6, "::1", None, id="auto-loopback-v6-probed"),
        pytest.param(Vantage("4"), V6, "not probed (--govmail-ip-version 4)", id="only-4"),
        pytest.param(Vantage("4"), V4, None, id="only-4-keeps-v4"),
        pytest.param(Vantage("6"), V4, "not probed (--govmail-ip-version 6)", id="only-6"),
        pytest.param(Vantage("both", unrouted=frozenset({V6})), V6, None, id="both-probes-all"),
        pytest.param(NO_V6, "not-an-address", None, id="malformed-is-the-scanner's"),
    ],
)
def test_which_addresses_are_probed(vantage: Vantage, address: str, reason: str | None) -> None:
    assert vantage.not_probed(address) == reason


@given(
    ip_version=st.sampled_from(IP_VERSIONS),
    v4=st.sampled_from([True, False, None]),
    v6=st.sampled_from([True, False, None]),
    port25=st.sampled_from([PORT25_ANSWERED, PORT25_BLOCKED, PORT25_UNKNOWN]),
    detail=st.text(max_size=40),
    canary=st.text(max_size=40),
    blind=st.booleans(),
    unrouted=st.frozensets(st.ip_addresses().map(str), max_size=4),
)
def test_vantage_round_trips_through_settings_strings(
    ip_version: str,
    v4: bool | None,
    v6: bool | None,
    port25: str,
    detail: str,
    canary: str,
    blind: bool,
    unrouted: frozenset[str],
) -> None:
    vantage = Vantage(ip_version, {"4": v4, "6": v6}, "", port25, detail, canary, blind, unrouted)
    settings = vantage.settings()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in settings.items())
    assert Vantage.from_settings(settings) == vantage


def test_release_evidence_has_no_vantage_point() -> None:
    data = Path(__file__).parent / "data" / "release-0.1.0-demo-evidence.json"
    assert Vantage.from_settings(json.loads(data.read_text())["settings"]) is None


def _timed_out(host: str, address: str) -> TlsScan:
    error = ProbeError(ErrorKind.TIMEOUT, f"TCP connect to {address}:25: no answer in 2 s")
    return TlsScan(host, address, 25, error=error)


GREETED = TlsScan("mx.c.example", "203.0.113.9", 25, connections=1, smtp=SmtpDialogue("220", 220))
REFUSED = TlsScan(
    "mx.c.example", "203.0.113.9", 25, error=ProbeError(ErrorKind.CONNECTION_REFUSED, "refused")
)


@pytest.mark.parametrize(
    ("scans", "state"),
    [
        pytest.param([], PORT25_UNKNOWN, id="nothing-scanned"),
        pytest.param([_timed_out("mx.a.example", "203.0.113.1")], PORT25_UNKNOWN, id="one"),
        pytest.param(
            [
                _timed_out("mx1.a.example", "203.0.113.1"),
                _timed_out("mx2.a.example", "203.0.113.2"),
            ],
            PORT25_UNKNOWN,
            id="one-provider",
        ),
        pytest.param(
            [_timed_out("mx.a.example", "203.0.113.1"), _timed_out("mx.b.example", "198.51.100.1")],
            PORT25_BLOCKED,
            id="two-providers",
        ),
        pytest.param(
            [
                _timed_out("mx.a.example", "203.0.113.1"),
                _timed_out("mx.b.example", "1.2.3.4"),
                GREETED,
            ],
            PORT25_ANSWERED,
            id="one-answered",
        ),
        pytest.param(
            [
                _timed_out("mx.a.example", "203.0.113.1"),
                _timed_out("mx.b.example", "1.2.3.4"),
                REFUSED,
            ],
            PORT25_ANSWERED,
            id="a-refusal-got-through",
        ),
    ],
)
def test_port25_from_the_scans(scans: list[TlsScan], state: str) -> None:
    assert port25_state(scans)[0] == state


@pytest.mark.parametrize(
    ("hosts", "answered", "gives_up"),
    [
        pytest.param([f"mx{n}.p{n % 3}.example" for n in range(8)], False, True, id="8-of-3"),
        pytest.param([f"mx{n}.p{n % 3}.example" for n in range(7)], False, False, id="only-7"),
        pytest.param([f"mx{n}.p{n % 2}.example" for n in range(9)], False, False, id="2-providers"),
        pytest.param([f"mx{n}.p{n % 3}.example" for n in range(9)], True, False, id="one-answer"),
    ],
)
def test_the_scanner_gives_up_only_when_port_25_looks_blocked(
    hosts: list[str], answered: bool, gives_up: bool
) -> None:
    watch = Port25Watch()
    if answered:
        watch.note(GREETED)
    for n, host in enumerate(hosts):
        watch.note(_timed_out(host, f"203.0.113.{n}"))
    why = watch.give_up()
    assert (why is not None) is gives_up
    if why is not None:
        assert "outbound port 25 looks blocked from this machine" in why


@pytest.mark.parametrize(
    ("result", "blind"),
    [
        pytest.param(answer("", "NS", "a.root-servers.net."), False, id="root-ns"),
        pytest.param(DnsResult("", "NS", "NXDOMAIN"), True, id="nxdomain-for-the-root"),
        pytest.param(answer("", "NS"), True, id="no-ns-for-the-root"),
        pytest.param(
            DnsResult("", "NS", None, error=ProbeError(ErrorKind.REFUSED, "lab")),
            False,
            id="refused-proves-nothing",
        ),
        pytest.param(
            DnsResult("", "NS", None, error=ProbeError(ErrorKind.TIMEOUT, "2 s")),
            False,
            id="timeout-proves-nothing",
        ),
        pytest.param(None, False, id="not-asked"),
    ],
)
def test_canary_answers(result: DnsResult | None, blind: bool) -> None:
    why, failed = resolver_canary(result)
    assert failed is blind
    assert (why == "") is (result is not None and not blind and result.error is None)


def test_routes_from_the_kernel_and_an_injected_check() -> None:
    assert udp_route("127.0.0.1") is True  # loopback: a route, and no packet sent

    def unreachable(address: str) -> bool:
        raise OSError(errno.EPERM, "operation not permitted")

    assert routable("2001:db8::1", lambda a: False) is False
    assert routable("2001:db8::1", unreachable) is True  # not "no route": the scan says why
    assert routable("mx.example", lambda a: False) is True  # not an address: the scan's


def _subject(scans: tuple[TlsScan, ...], vantage: Vantage | None) -> Subject:
    dns = DnsSnapshot(
        [
            answer("dual-dept.gov.uk", "MX", f"10 {HOST}."),
            answer(HOST, "A", V4),
            answer(HOST, "AAAA", V6),
        ]
    )
    target = Target("dual-dept.gov.uk")
    return Subject(target, dns, host=HOST, tls={HOST: scans} if scans else {}, vantage=vantage)


COMPLIANT = TlsScan(
    HOST,
    V4,
    25,
    connections=1,
    smtp=SmtpDialogue("220 hi", 220, ("STARTTLS",), True, "220 go"),
    versions=(VersionProbe(TlsVersion.TLS_1_3, True, ""),),
)


@pytest.mark.parametrize(
    ("scans", "vantage", "status", "words"),
    [
        pytest.param(
            (COMPLIANT,), NO_V6, Status.PASS, f"{V6}: not probed from this machine", id="v6-named"
        ),
        pytest.param(
            (COMPLIANT,),
            Vantage("both"),
            Status.INCONCLUSIVE,
            f"{V6}: not probed in this run",
            id="both-strict",
        ),
        pytest.param(
            (COMPLIANT,),
            None,
            Status.INCONCLUSIVE,
            f"{V6}: not probed in this run",
            id="replay-without-vantage",
        ),
        pytest.param(
            (COMPLIANT,), Vantage("4"), Status.PASS, "--govmail-ip-version 4", id="only-4"
        ),
        pytest.param(
            (_timed_out(HOST, V4),),
            Vantage(port25=PORT25_BLOCKED, port25_detail="3 timed out", unrouted=frozenset({V6})),
            Status.INCONCLUSIVE,
            f"{V4}: outbound port 25 looks blocked from this machine (3 timed out)",
            id="blocked",
        ),
        pytest.param(
            (
                TlsScan(
                    HOST,
                    V4,
                    25,
                    error=ProbeError(
                        ErrorKind.NOT_COLLECTED,
                        "not tried: outbound port 25 looks blocked from this machine (8 ...)",
                    ),
                ),
            ),
            Vantage(port25=PORT25_BLOCKED, port25_detail="8 timed out", unrouted=frozenset({V6})),
            Status.INCONCLUSIVE,
            f"{V4}: outbound port 25 looks blocked from this machine (8 timed out)",
            id="not-tried-once-blocked",
        ),
        pytest.param(
            (_timed_out(HOST, V4),),
            Vantage("both"),
            Status.INCONCLUSIVE,
            "outbound port 25 is often blocked",
            id="one-timeout-is-not-a-blocked-port",
        ),
    ],
)
def test_host_tests_judge_what_was_probed_and_name_the_rest(
    scans: tuple[TlsScan, ...], vantage: Vantage | None, status: Status, words: str
) -> None:
    for judge in (answers_smtp, starttls_completes):
        verdict = judge(_subject(scans, vantage))
        assert verdict.status is status, verdict
        assert words in verdict.summary


def test_no_probed_address_is_inconclusive_naming_why() -> None:
    vantage = Vantage("auto", {"4": False, "6": False}, unrouted=frozenset({V4, V6}))
    verdict = answers_smtp(_subject((), vantage))
    assert verdict.status is Status.INCONCLUSIVE
    assert verdict.summary == (
        f"no address of {HOST} was probed: {V4}: not probed from this machine (no IPv4 "
        f"route); {V6}: not probed from this machine (no IPv6 route)"
    )


def test_a_blind_resolver_overrules_every_verdict() -> None:
    blind = Vantage(canary="it answers NXDOMAIN for the root zone", canary_failed=True)
    subject = _subject((COMPLIANT,), blind)
    for verdict in (
        Verdict.passed("ok"),
        Verdict.not_applicable("no MX"),
        Verdict.inconclusive("x"),
    ):
        overruled = overrule(subject, verdict)
        assert overruled.status is Status.INCONCLUSIVE
        assert overruled.summary.startswith("not judged: the resolver cannot see the public DNS")
    seeing = _subject((COMPLIANT,), Vantage(canary="refused: not judged"))
    assert overrule(seeing, Verdict.passed("ok")) == Verdict.passed("ok")
