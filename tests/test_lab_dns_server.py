"""The lab's authoritative DNS server, exercised with real queries over loopback.

The collectors, the demo lab and the benchmark all trust this server to behave like a real
authoritative server (including its failure modes), so it is tested the way they use it: with
dnspython's stub resolver and raw ``dns.query`` calls.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.zone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_govmail.lab.dns_server import EDNS_PAYLOAD, Fault, LabDnsServer, LoggedQuery

# A DKIM-sized TXT RRset: well over 512 bytes and over the 1232-byte EDNS limit too.
_BIG_STRINGS = " ".join(f'"{"k" * 250}{i}"' for i in range(6))

EXAMPLE = f"""\
$TTL 300
@        IN SOA ns1 hostmaster 2024010101 3600 600 86400 60
@        NS    ns1
@        MX    10 mail
@        TXT   "v=spf1 mx -all"
ns1      A     127.0.0.1
mail     A     192.0.2.25
mail     AAAA  2001:db8::25
www      CNAME mail
ext      CNAME www.other-dept.gov.uk.
away     CNAME mail.elsewhere.example.
loop1    CNAME loop2
loop2    CNAME loop1
_dmarc   TXT   "v=DMARC1; p=reject"
sel1._domainkey TXT "v=DKIM1; p=MIIB"
big      TXT   {_BIG_STRINGS}
*.wild   A     192.0.2.80
*.wild   MX    10 mail
sub.wild A     192.0.2.81
_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""

OTHER = """\
$TTL 300
@    IN SOA ns1.other-dept.gov.uk. hostmaster.other-dept.gov.uk. 1 3600 600 86400 30
www  A  192.0.2.99
"""

# A child zone served by the same server: names under it must come from it (longest origin).
CHILD = """\
$TTL 120
@     IN SOA ns1 hostmaster 1 3600 600 86400 45
host  A  192.0.2.200
"""

ZONES = {
    "example-dept.gov.uk": EXAMPLE,
    "other-dept.gov.uk": OTHER,
    "child.example-dept.gov.uk": CHILD,
}


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    with LabDnsServer(ZONES) as running:
        yield running


@pytest.fixture
def fresh_server() -> Iterator[LabDnsServer]:
    """A server of its own, for tests that change faults or delays."""
    with LabDnsServer(ZONES) as running:
        yield running


def udp(
    server: LabDnsServer,
    qname: str,
    rdtype: str = "A",
    *,
    use_edns: bool = False,
    payload: int = EDNS_PAYLOAD,
    timeout: float = 2.0,
) -> dns.message.Message:
    host, port = server.address
    query = dns.message.make_query(qname, rdtype, use_edns=use_edns, payload=payload)
    return dns.query.udp(query, host, port=port, timeout=timeout)


def tcp(server: LabDnsServer, qname: str, rdtype: str = "A") -> dns.message.Message:
    host, port = server.address
    return dns.query.tcp(dns.message.make_query(qname, rdtype), host, port=port, timeout=2.0)


def resolver(server: LabDnsServer, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
    host, port = server.address
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers = [host]
    res.port = port
    res.lifetime = lifetime
    res.timeout = lifetime
    return res


def resolve(
    server: LabDnsServer, qname: str, rdtype: str = "A", lifetime: float = 2.0
) -> dns.resolver.Answer:
    return asyncio.run(resolver(server, lifetime).resolve(qname, rdtype))


def texts(message: dns.message.Message) -> list[str]:
    return [rrset.to_text() for rrset in message.answer]


# ----------------------------------------------------------------------------- answers


def test_answers_a_mx_txt_through_a_stub_resolver(server: LabDnsServer) -> None:
    a = resolve(server, "mail.example-dept.gov.uk", "A")
    assert [r.to_text() for r in a] == ["192.0.2.25"]
    mx = resolve(server, "example-dept.gov.uk", "MX")
    assert [r.to_text() for r in mx] == ["10 mail.example-dept.gov.uk."]
    txt = resolve(server, "_dmarc.example-dept.gov.uk", "TXT")
    assert [r.to_text() for r in txt] == ['"v=DMARC1; p=reject"']
    assert txt.rrset is not None and txt.rrset.ttl == 300


@pytest.mark.parametrize(
    ("qname", "rdtype", "expected"),
    [
        ("example-dept.gov.uk", "SOA", "ns1.example-dept.gov.uk. hostmaster"),
        ("example-dept.gov.uk", "NS", "ns1.example-dept.gov.uk."),
        ("example-dept.gov.uk", "TXT", '"v=spf1 mx -all"'),
        ("mail.example-dept.gov.uk", "AAAA", "2001:db8::25"),
        ("www.example-dept.gov.uk", "CNAME", "mail.example-dept.gov.uk."),
        ("_25._tcp.mail.example-dept.gov.uk", "TLSA", "3 1 1 0123456789abcdef"),
    ],
)
def test_any_stored_type_is_answered_authoritatively(
    server: LabDnsServer, qname: str, rdtype: str, expected: str
) -> None:
    response = udp(server, qname, rdtype)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert len(response.answer) == 1
    assert response.answer[0].rdtype == dns.rdatatype.from_text(rdtype)
    assert expected in response.answer[0].to_text()


def test_nxdomain_nodata_and_empty_non_terminal_differ(server: LabDnsServer) -> None:
    nx = udp(server, "nope.example-dept.gov.uk")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.answer == []
    assert [rrset.rdtype for rrset in nx.authority] == [dns.rdatatype.SOA]
    assert nx.authority[0].ttl == 60  # RFC 2308: min(SOA TTL, SOA MINIMUM)
    assert nx.flags & dns.flags.AA

    nodata = udp(server, "mail.example-dept.gov.uk", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []
    assert [rrset.rdtype for rrset in nodata.authority] == [dns.rdatatype.SOA]

    # _domainkey has no records but has sel1 below it: RFC 8020 says NODATA, not NXDOMAIN.
    for ent in ("_domainkey.example-dept.gov.uk", "_tcp.mail.example-dept.gov.uk"):
        response = udp(server, ent, "TXT")
        assert response.rcode() == dns.rcode.NOERROR, ent
        assert response.answer == []
        assert response.authority[0].rdtype == dns.rdatatype.SOA

    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(server, "nope.example-dept.gov.uk")
    with pytest.raises(dns.resolver.NoAnswer):
        resolve(server, "_domainkey.example-dept.gov.uk", "TXT")


def test_longest_matching_origin_wins(server: LabDnsServer) -> None:
    response = udp(server, "host.child.example-dept.gov.uk")
    assert texts(response) == ["host.child.example-dept.gov.uk. 120 IN A 192.0.2.200"]
    nx = udp(server, "missing.child.example-dept.gov.uk")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority[0].name == dns.name.from_text("child.example-dept.gov.uk")
    assert nx.authority[0].ttl == 45


def test_name_outside_every_zone_is_refused(server: LabDnsServer) -> None:
    for qname in ("example.com", "gov.uk", "."):
        response = udp(server, qname)
        assert response.rcode() == dns.rcode.REFUSED
        assert not response.flags & dns.flags.AA
        assert response.answer == []


def test_case_of_the_query_name_does_not_matter(server: LabDnsServer) -> None:
    response = udp(server, "MAIL.Example-Dept.GOV.uk")
    assert response.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for r in response.answer[0]] == ["192.0.2.25"]


# ----------------------------------------------------------------------------- CNAME, wildcards


def test_cname_is_chased_within_the_served_zones(server: LabDnsServer) -> None:
    response = udp(server, "www.example-dept.gov.uk")
    assert texts(response) == [
        "www.example-dept.gov.uk. 300 IN CNAME mail.example-dept.gov.uk.",
        "mail.example-dept.gov.uk. 300 IN A 192.0.2.25",
    ]
    # Across zones served by the same server.
    cross = udp(server, "ext.example-dept.gov.uk")
    assert [rrset.rdtype for rrset in cross.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    answer = resolve(server, "ext.example-dept.gov.uk")
    assert [r.to_text() for r in answer] == ["192.0.2.99"]
    assert answer.canonical_name == dns.name.from_text("www.other-dept.gov.uk")


def test_cname_out_of_the_zones_returns_just_the_cname(server: LabDnsServer) -> None:
    response = udp(server, "away.example-dept.gov.uk")
    assert response.rcode() == dns.rcode.NOERROR
    assert texts(response) == ["away.example-dept.gov.uk. 300 IN CNAME mail.elsewhere.example."]


def test_cname_to_a_missing_name_keeps_the_chain_and_says_nxdomain() -> None:
    zone = "$TTL 60\n@ SOA ns hm 1 2 3 4 5\ndangling CNAME gone\n"
    with LabDnsServer({"dangle.gov.uk": zone}) as srv:
        response = udp(srv, "dangling.dangle.gov.uk")
    assert response.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: rcode of the last name
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME]


def test_cname_loop_still_gets_an_answer(server: LabDnsServer) -> None:
    response = udp(server, "loop1.example-dept.gov.uk")
    assert response.rcode() == dns.rcode.NOERROR
    assert texts(response) == [
        "loop1.example-dept.gov.uk. 300 IN CNAME loop2.example-dept.gov.uk.",
        "loop2.example-dept.gov.uk. 300 IN CNAME loop1.example-dept.gov.uk.",
    ]
    # The resolver gets a response and reports the broken chain; it does not time out.
    with pytest.raises(dns.exception.DNSException) as excinfo:
        resolve(server, "loop1.example-dept.gov.uk")
    assert not isinstance(excinfo.value, dns.exception.Timeout)


def test_long_cname_chain_is_bounded() -> None:
    chain = "".join(f"c{i} CNAME c{i + 1}\n" for i in range(30))
    with LabDnsServer({"chain.gov.uk": f"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n{chain}"}) as srv:
        response = udp(srv, "c0.chain.gov.uk")
    assert response.rcode() == dns.rcode.NOERROR
    assert 1 < len(response.answer) <= 10


def test_wildcard_synthesises_the_query_name(server: LabDnsServer) -> None:
    response = udp(server, "anything.wild.example-dept.gov.uk")
    assert response.rcode() == dns.rcode.NOERROR
    assert texts(response) == ["anything.wild.example-dept.gov.uk. 300 IN A 192.0.2.80"]
    assert texts(udp(server, "deep.er.wild.example-dept.gov.uk", "MX")) == [
        "deep.er.wild.example-dept.gov.uk. 300 IN MX 10 mail.example-dept.gov.uk."
    ]
    # The wildcard's node exists, but not this type: NODATA for the synthesised name.
    nodata = udp(server, "anything.wild.example-dept.gov.uk", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    answer = resolve(server, "x.wild.example-dept.gov.uk")
    assert [r.to_text() for r in answer] == ["192.0.2.80"]


def test_wildcard_follows_rfc4592_closest_encloser(server: LabDnsServer) -> None:
    # An existing name is answered from its own data, never from the wildcard.
    assert texts(udp(server, "sub.wild.example-dept.gov.uk")) == [
        "sub.wild.example-dept.gov.uk. 300 IN A 192.0.2.81"
    ]
    # Below an existing name without its own wildcard: NXDOMAIN, *.wild does not reach it.
    assert udp(server, "x.sub.wild.example-dept.gov.uk").rcode() == dns.rcode.NXDOMAIN
    # The parent of the wildcard exists as an empty non-terminal: NODATA.
    assert udp(server, "wild.example-dept.gov.uk").rcode() == dns.rcode.NOERROR


def test_any_gets_one_rrset_and_transfers_are_refused(server: LabDnsServer) -> None:
    response = udp(server, "mail.example-dept.gov.uk", "ANY")
    assert response.rcode() == dns.rcode.NOERROR
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.A]  # RFC 8482
    assert udp(server, "example-dept.gov.uk", "AXFR").rcode() == dns.rcode.REFUSED
    assert udp(server, "example-dept.gov.uk", "MAILB").rcode() == dns.rcode.NOTIMP


# ----------------------------------------------------------------------------- EDNS, size, TCP


def test_edns_is_answered_with_edns_only_when_asked(server: LabDnsServer) -> None:
    with_edns = udp(server, "mail.example-dept.gov.uk", use_edns=True, payload=4096)
    assert with_edns.edns == 0
    assert with_edns.payload == EDNS_PAYLOAD
    without = udp(server, "mail.example-dept.gov.uk")
    assert without.edns == -1


@pytest.mark.parametrize("use_edns", [False, True])
def test_large_txt_is_truncated_over_udp_and_served_over_tcp(
    fresh_server: LabDnsServer, use_edns: bool
) -> None:
    truncated = udp(fresh_server, "big.example-dept.gov.uk", "TXT", use_edns=use_edns)
    assert truncated.flags & dns.flags.TC
    assert truncated.answer == []
    assert truncated.authority == []

    full = tcp(fresh_server, "big.example-dept.gov.uk", "TXT")
    assert not full.flags & dns.flags.TC
    assert len(full.answer) == 1
    assert len(full.answer[0][0].strings) == 6
    assert len(full.to_wire()) > EDNS_PAYLOAD

    fresh_server.reset_stats()
    answer = resolve(fresh_server, "big.example-dept.gov.uk", "TXT")
    assert len(answer[0].strings) == 6
    transports = [entry.transport for entry in fresh_server.query_log]
    assert transports == ["udp", "tcp"]


def test_medium_answer_fits_with_edns_but_not_without() -> None:
    strings = " ".join(f'"{"m" * 200}{i}"' for i in range(3))  # about 650 bytes of answer
    zone = f"$TTL 60\n@ SOA ns hm 1 2 3 4 5\nspf TXT {strings}\n"
    with LabDnsServer({"medium.gov.uk": zone}) as srv:
        assert udp(srv, "spf.medium.gov.uk", "TXT").flags & dns.flags.TC
        fits = udp(srv, "spf.medium.gov.uk", "TXT", use_edns=True, payload=1232)
        assert not fits.flags & dns.flags.TC and len(fits.answer) == 1
        # A client advertising less than 512 still gets the classic 512 floor, so TC here.
        small = udp(srv, "spf.medium.gov.uk", "TXT", use_edns=True, payload=400)
        assert small.flags & dns.flags.TC


def test_several_queries_on_one_tcp_connection(server: LabDnsServer) -> None:
    host, port = server.address
    with socket.create_connection((host, port), timeout=2.0) as sock:
        for qname in ("mail", "www", "ns1"):
            query = dns.message.make_query(f"{qname}.example-dept.gov.uk", "A")
            response = dns.query.tcp(query, host, port=port, timeout=2.0, sock=sock)
            assert response.rcode() == dns.rcode.NOERROR
            assert response.id == query.id


def test_udp_and_tcp_share_the_port_and_stop_releases_it() -> None:
    srv = LabDnsServer(ZONES).start()
    host, port = srv.address
    assert port != 0
    assert udp(srv, "mail.example-dept.gov.uk").answer
    assert tcp(srv, "mail.example-dept.gov.uk").answer
    srv.stop()
    srv.stop()  # idempotent
    with LabDnsServer(ZONES, host=host, port=port) as again:
        assert again.address == (host, port)
        assert udp(again, "mail.example-dept.gov.uk").answer


def test_idle_tcp_connections_are_closed() -> None:
    with LabDnsServer(ZONES, tcp_idle_timeout=0.2) as srv:
        with socket.create_connection(srv.address, timeout=2.0) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # the server hung up
            assert time.monotonic() - started < 1.5


def test_stop_is_quick_with_idle_connections_and_pending_answers() -> None:
    srv = LabDnsServer(ZONES, delay=5.0).start()
    host, port = srv.address
    with (
        socket.create_connection((host, port), timeout=2.0) as idle,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        idle.sendall(struct.pack("!H", 40))  # half a message: the thread waits for the rest
        client.sendto(
            dns.message.make_query("mail.example-dept.gov.uk", "A").to_wire(), srv.address
        )
        time.sleep(0.05)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 0.5
    assert not [t for t in threading.enumerate() if t.name.startswith(f"lab-dns-{port}")]


# ----------------------------------------------------------------------------- faults and delays


def test_servfail_and_refused_faults_spare_other_zones(fresh_server: LabDnsServer) -> None:
    fresh_server.set_fault("other-dept.gov.uk", Fault.SERVFAIL)
    assert fresh_server.get_fault("other-dept.gov.uk") is Fault.SERVFAIL
    assert udp(fresh_server, "www.other-dept.gov.uk").rcode() == dns.rcode.SERVFAIL
    assert tcp(fresh_server, "www.other-dept.gov.uk").rcode() == dns.rcode.SERVFAIL
    assert udp(fresh_server, "mail.example-dept.gov.uk").rcode() == dns.rcode.NOERROR

    fresh_server.set_fault("other-dept.gov.uk.", Fault.REFUSED)
    assert udp(fresh_server, "www.other-dept.gov.uk").rcode() == dns.rcode.REFUSED
    with pytest.raises(dns.resolver.NoNameservers):
        resolve(fresh_server, "www.other-dept.gov.uk")

    fresh_server.set_fault("other-dept.gov.uk", Fault.NONE)
    assert udp(fresh_server, "www.other-dept.gov.uk").answer


def test_repeated_queries_get_their_own_id_and_see_fault_changes(
    fresh_server: LabDnsServer,
) -> None:
    host, port = fresh_server.address
    query = dns.message.make_query("www.other-dept.gov.uk", "A")
    for qid in (1, 2, 0xFFFF):
        query.id = qid
        response = dns.query.udp(query, host, port=port, timeout=1.0)
        assert response.id == qid
        assert texts(response) == ["www.other-dept.gov.uk. 300 IN A 192.0.2.99"]
    fresh_server.set_fault("other-dept.gov.uk", Fault.SERVFAIL)
    assert dns.query.udp(query, host, port=port, timeout=1.0).rcode() == dns.rcode.SERVFAIL
    fresh_server.set_fault("other-dept.gov.uk", Fault.NONE)
    fresh_server.set_slow("other-dept.gov.uk", 0.2)
    started = time.monotonic()
    assert dns.query.udp(query, host, port=port, timeout=1.0).answer
    assert time.monotonic() - started >= 0.2
    assert fresh_server.queries_served == 5


def test_drop_fault_times_out_while_other_zones_answer() -> None:
    with LabDnsServer(ZONES, faults={"other-dept.gov.uk": Fault.DROP}) as srv:
        started = time.monotonic()
        with pytest.raises(dns.exception.Timeout):
            resolve(srv, "www.other-dept.gov.uk", lifetime=0.5)
        assert time.monotonic() - started < 1.5
        with pytest.raises(dns.exception.Timeout):
            host, port = srv.address
            query = dns.message.make_query("www.other-dept.gov.uk", "A")
            dns.query.tcp(query, host, port=port, timeout=0.2)
        assert [r.to_text() for r in resolve(srv, "mail.example-dept.gov.uk")] == ["192.0.2.25"]
        assert srv.queries_served >= 3  # dropped queries are still counted


def test_faults_are_checked_against_served_origins() -> None:
    with pytest.raises(ValueError, match="not a zone origin"):
        LabDnsServer(ZONES, faults={"typo-dept.gov.uk": Fault.DROP})
    srv = LabDnsServer(ZONES)
    with pytest.raises(ValueError, match="not a zone origin"):
        srv.set_fault("www.other-dept.gov.uk", Fault.SERVFAIL)
    with pytest.raises(ValueError):
        srv.set_slow("other-dept.gov.uk", -1)


def test_delay_applies_to_every_answer_without_serialising_clients() -> None:
    delay = 0.2
    with LabDnsServer(ZONES, delay=delay) as srv:
        started = time.monotonic()
        udp(srv, "mail.example-dept.gov.uk")
        assert time.monotonic() - started >= delay

        async def ten_at_once() -> None:
            res = resolver(srv)
            names = [f"mail{i}.example-dept.gov.uk" for i in range(5)] + [
                f"h{i}.wild.example-dept.gov.uk" for i in range(5)
            ]
            results = await asyncio.gather(
                *(res.resolve(name, "A", raise_on_no_answer=False) for name in names),
                return_exceptions=True,
            )
            assert all(isinstance(r, dns.resolver.NXDOMAIN) for r in results[:5])
            assert not any(isinstance(r, BaseException) for r in results[5:])

        started = time.monotonic()
        asyncio.run(ten_at_once())
        elapsed = time.monotonic() - started
        assert delay <= elapsed < 4 * delay  # serialised would be 10 * delay

        # TCP connections are answered concurrently too.
        started = time.monotonic()
        threads = [
            threading.Thread(target=tcp, args=(srv, "mail.example-dept.gov.uk")) for _ in range(10)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert time.monotonic() - started < 4 * delay


def test_per_zone_slowness_only_slows_that_zone() -> None:
    with LabDnsServer(ZONES, slow={"other-dept.gov.uk": 0.4}) as srv:
        started = time.monotonic()
        udp(srv, "mail.example-dept.gov.uk")
        assert time.monotonic() - started < 0.3
        started = time.monotonic()
        udp(srv, "www.other-dept.gov.uk")
        assert time.monotonic() - started >= 0.4
        srv.set_slow("other-dept.gov.uk", 0)
        srv.delay = 0.1
        started = time.monotonic()
        udp(srv, "www.other-dept.gov.uk")
        assert 0.1 <= time.monotonic() - started < 0.3


# ----------------------------------------------------------------------------- robustness


def test_garbage_gets_formerr_or_silence_and_the_server_survives(server: LabDnsServer) -> None:
    host, port = server.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        # A readable header followed by nonsense: FORMERR with the same ID.
        sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff", (host, port))
        reply, _ = sock.recvfrom(512)
        qid, flags = struct.unpack("!HH", reply[:4])
        assert qid == 0x1234
        assert flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR
        # Too short for a header, or a packet that claims to be a response: no answer.
        sock.sendto(b"\x00\x01", (host, port))
        sock.sendto(b"\x12\x34\x81\x80" + bytes(8), (host, port))
    # A query without a question is malformed; an opcode other than QUERY is not implemented.
    empty = dns.message.Message()
    assert dns.query.udp(empty, host, port=port, timeout=1.0).rcode() == dns.rcode.FORMERR
    notify = dns.message.make_query("example-dept.gov.uk", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.query.udp(notify, host, port=port, timeout=1.0).rcode() == dns.rcode.NOTIMP
    # Garbage over TCP: FORMERR, and the connection keeps working.
    with socket.create_connection((host, port), timeout=2.0) as conn:
        conn.sendall(struct.pack("!H", 13) + b"\xab\xcd\x01\x00" + b"\xff" * 9)
        (length,) = struct.unpack("!H", conn.recv(2))
        assert struct.unpack("!H", conn.recv(length)[:2]) == (0xABCD,)
        query = dns.message.make_query("mail.example-dept.gov.uk", "A")
        response = dns.query.tcp(query, host, port=port, timeout=2.0, sock=conn)
        assert response.answer
    assert udp(server, "mail.example-dept.gov.uk").answer


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=st.binary(max_size=600))
def test_random_bytes_never_kill_the_server(server: LabDnsServer, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, server.address)
    assert udp(server, "ns1.example-dept.gov.uk").answer


def test_badvers_for_edns_versions_above_zero(server: LabDnsServer) -> None:
    host, port = server.address
    query = dns.message.make_query("mail.example-dept.gov.uk", "A", use_edns=1)
    assert dns.query.udp(query, host, port=port, timeout=1.0).rcode() == dns.rcode.BADVERS


# ----------------------------------------------------------------------------- bookkeeping


def test_query_counter_and_log(fresh_server: LabDnsServer) -> None:
    assert fresh_server.queries_served == 0
    udp(fresh_server, "Mail.Example-Dept.gov.uk", "MX")
    tcp(fresh_server, "example-dept.gov.uk", "TXT")
    assert fresh_server.queries_served == 2
    assert fresh_server.query_log == [
        LoggedQuery("mail.example-dept.gov.uk", "MX", "udp"),
        LoggedQuery("example-dept.gov.uk", "TXT", "tcp"),
    ]
    fresh_server.reset_stats()
    assert fresh_server.queries_served == 0 and fresh_server.query_log == []


def test_query_log_is_bounded() -> None:
    with LabDnsServer(ZONES, query_log_size=3) as srv:
        for i in range(5):
            udp(srv, f"n{i}.example-dept.gov.uk")
        assert srv.queries_served == 5
        assert [entry.qname for entry in srv.query_log] == [
            "n2.example-dept.gov.uk",
            "n3.example-dept.gov.uk",
            "n4.example-dept.gov.uk",
        ]


def test_zone_objects_and_bad_zone_data() -> None:
    relativised = dns.zone.from_text(OTHER, origin="other-dept.gov.uk", check_origin=False)
    with LabDnsServer({"other-dept.gov.uk": relativised}) as srv:
        assert srv.zones == ("other-dept.gov.uk",)
        assert texts(udp(srv, "www.other-dept.gov.uk")) == [
            "www.other-dept.gov.uk. 300 IN A 192.0.2.99"
        ]
    with pytest.raises(ValueError, match="no SOA"):
        LabDnsServer({"nosoa.gov.uk": "www 60 A 192.0.2.1\n"})
    with pytest.raises(ValueError, match=r"bad\.gov\.uk"):
        LabDnsServer({"bad.gov.uk": "@ 60 SOA ns hm 1 2 3 4 5\nwww 60 A not-an-address\n"})
    with pytest.raises(ValueError, match="origin"):
        LabDnsServer({"elsewhere.gov.uk": relativised})
    with pytest.raises(RuntimeError):
        _ = LabDnsServer(ZONES).address


def test_a_server_starts_once() -> None:
    srv = LabDnsServer(ZONES)
    with srv:
        with pytest.raises(RuntimeError):
            srv.start()
    with pytest.raises(RuntimeError):
        srv.start()
