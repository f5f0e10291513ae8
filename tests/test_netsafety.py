"""The one address policy (collect/netsafety.py): tables of special-purpose addresses, properties
over every IPv4 address, and real connection attempts counted for SMTP scans and HTTPS fetches.

The tables follow the IANA IPv4 and IPv6 Special-Purpose Address Registries
(https://www.iana.org/assignments/iana-ipv4-special-registry/,
https://www.iana.org/assignments/iana-ipv6-special-registry/) and the RFCs that define the
IPv6 forms carrying an IPv4 address (RFC 4291, 2765, 6052, 8215, 3056, 4380).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.collect.https import fetch_policy
from pytest_govmail.collect.netsafety import address_problem, refusal
from pytest_govmail.collect.tls import ScanRequest, TlsScanSettings, scan_addresses
from pytest_govmail.model.dns import ErrorKind, ProbeError

# --------------------------------------------------------------------------- the tables

IPV4_REFUSED = [
    ("0.0.0.0", "0.0.0.0 is unspecified"),
    ("0.1.2.3", "0.1.2.3 is 'this network' (RFC 791)"),
    ("10.1.2.3", "10.1.2.3 is private-use (RFC 1918)"),
    ("100.64.0.1", "100.64.0.1 is shared address space (carrier-grade NAT, RFC 6598)"),
    ("100.127.255.254", "shared address space"),
    ("127.0.0.1", "127.0.0.1 is loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "169.254.169.254 is link-local (RFC 3927)"),
    ("172.16.0.1", "private-use (RFC 1918)"),
    ("172.31.255.254", "private-use (RFC 1918)"),
    ("192.0.0.9", "reserved for IETF protocol assignments"),
    ("192.0.2.1", "192.0.2.1 is documentation (TEST-NET-1, RFC 5737)"),
    ("192.31.196.1", "AS112-v4"),
    ("192.52.193.1", "AMT"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.168.0.1", "private-use (RFC 1918)"),
    ("192.175.48.1", "AS112 direct delegation"),
    ("198.18.0.1", "198.18.0.1 is benchmarking (RFC 2544)"),
    ("198.19.255.254", "benchmarking"),
    ("198.51.100.7", "documentation (TEST-NET-2, RFC 5737)"),
    ("203.0.113.7", "documentation (TEST-NET-3, RFC 5737)"),
    ("224.0.0.1", "224.0.0.1 is multicast (RFC 5771)"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "240.0.0.1 is reserved (RFC 1112)"),
    ("255.255.255.255", "255.255.255.255 is limited broadcast (RFC 919)"),
]

IPV6_REFUSED = [
    ("::", ":: is unspecified"),
    ("::1", "::1 is loopback"),
    ("fe80::1", "fe80::1 is link-local"),
    ("fe80::1%eth0", "fe80::1 is link-local"),
    ("fec0::1", "fec0::1 is site-local (deprecated, RFC 3879)"),
    ("fc00::1", "fc00::1 is private (unique local, RFC 4193)"),
    ("fd12:3456::1", "private (unique local, RFC 4193)"),
    ("ff02::1", "ff02::1 is multicast"),
    ("100::1", "100::1 is discard-only (RFC 6666)"),
    ("2001:2::1", "2001:2::1 is benchmarking (RFC 5180)"),
    ("2001:10::1", "reserved for IETF protocol assignments (RFC 2928)"),
    ("2001:db8::1", "2001:db8::1 is documentation (RFC 3849)"),
    ("3fff::1", "3fff::1 is documentation (RFC 9637)"),
    ("5f00::1", "segment routing (SRv6) SIDs (RFC 9602)"),
    ("4000::1", "4000::1 is outside the global unicast space 2000::/3 (reserved)"),
    # IPv4 carried inside IPv6: the embedded address is judged.
    ("::ffff:127.0.0.1", "127.0.0.1 embedded in IPv4-mapped address ::ffff:7f00:1 is loopback"),
    ("::ffff:10.0.0.1", "10.0.0.1 embedded in IPv4-mapped address ::ffff:a00:1 is private-use"),
    (
        "::ffff:0:7f00:1",
        "127.0.0.1 embedded in SIIT IPv4-translated address ::ffff:0:7f00:1 is loopback",
    ),
    (
        "::127.0.0.1",
        "127.0.0.1 embedded in deprecated IPv4-compatible address ::7f00:1 is loopback",
    ),
    (
        "64:ff9b::a9fe:a9fe",
        "169.254.169.254 embedded in NAT64 address 64:ff9b::a9fe:a9fe is link-local (RFC 3927)",
    ),
    ("64:ff9b::7f00:1", "127.0.0.1 embedded in NAT64 address 64:ff9b::7f00:1 is loopback"),
    ("64:ff9b:1::a00:1", "10.0.0.1 embedded in local-use NAT64 address 64:ff9b:1::a00:1"),
    ("2002:7f00:1::1", "127.0.0.1 embedded in 6to4 address 2002:7f00:1::1 is loopback"),
    ("2002:c0a8:101::1", "192.168.1.1 embedded in 6to4 address"),
    # Teredo (RFC 4380 section 4): client 127.0.0.1 is stored inverted as 80ff:fffe.
    (
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "127.0.0.1 embedded in Teredo address 2001:0:4136:e378:8000:63bf:80ff:fffe is loopback",
    ),
    # RFC 4380's own example: server 65.54.227.120, client 192.0.2.45 (documentation).
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45 embedded in Teredo address"),
    # Prefixes not routed on the Internet are refused whatever they carry.
    ("64:ff9b:1::808:808", "64:ff9b:1::808:808 is a local-use NAT64 address, not routed"),
    ("::ffff:0:808:808", "::ffff:0:808:808 is a SIIT IPv4-translated address, not routed"),
    ("::808:808", "::808:808 is a deprecated IPv4-compatible address, not routed"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below 100.64.0.0/10
    "100.128.0.1",  # just above it
    "172.32.0.1",
    "198.17.255.255",  # just below 198.18.0.0/15
    "198.20.0.1",  # just above it
    "223.255.255.254",
    "2a00:1450:4009:81f::200e",
    "2620:fe::fe",
    "::ffff:8.8.8.8",  # the kernel connects to 8.8.8.8 over IPv4
    "64:ff9b::808:808",  # NAT64 to a public address reaches only that address
    "2002:808:808::1",  # 6to4 for a public address
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo: client 8.8.8.8, server 65.54.227.120
]


@pytest.mark.parametrize(("address", "reason"), IPV4_REFUSED + IPV6_REFUSED)
def test_special_purpose_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    problem = address_problem(address)
    assert problem is not None and reason in problem, problem


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(
    ("address", "allow", "expected"),
    [
        ("8.8.8.8", False, None),
        ("127.0.0.1", True, None),
        ("2002:7f00:1::1", True, None),
        ("mx.example-dept.gov.uk", True, "'mx.example-dept.gov.uk' is not an IP address"),
        (
            "2002:7f00:1::1",
            False,
            "127.0.0.1 embedded in 6to4 address 2002:7f00:1::1 is loopback; not contacted "
            "without --govmail-allow-private",
        ),
    ],
)
def test_refusal_is_recorded_evidence(address: str, allow: bool, expected: str | None) -> None:
    error = refusal(address, allow)
    assert (error.detail if error else None) == expected
    if error is not None:
        kind = ErrorKind.MALFORMED if "not an IP" in error.detail else ErrorKind.PRIVATE_ADDRESS
        assert error.kind is kind


# --------------------------------------------------------------------------- properties

_IPV4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@given(_IPV4)
def test_nothing_python_calls_non_global_is_allowed(ip: ipaddress.IPv4Address) -> None:
    # The registry tables are a superset of what ipaddress knows to be non-global.
    if not ip.is_global or ip.is_multicast:
        assert address_problem(str(ip)) is not None


@given(_IPV4)
def test_a_wrapped_ipv4_address_is_judged_as_itself(ip: ipaddress.IPv4Address) -> None:
    # IPv4-mapped, NAT64 and 6to4 reach the IPv4 address they carry: the same verdict.
    plain = address_problem(str(ip)) is None
    value = int(ip)
    for wrapped in (
        ipaddress.IPv6Address(0xFFFF << 32 | value),
        ipaddress.IPv6Address(0x64FF9B << 96 | value),
        ipaddress.IPv6Address(0x2002 << 112 | value << 80 | 1),
        ipaddress.IPv6Address(0x20010000_41_36_E3_78 << 64 | 0x800063BF << 32 | value ^ 0xFFFFFFFF),
    ):
        assert (address_problem(str(wrapped)) is None) == plain, wrapped
    # SIIT and IPv4-compatible are never routed: always refused, naming a special embedded one.
    for never in (ipaddress.IPv6Address(0xFFFF << 48 | value), ipaddress.IPv6Address(value)):
        problem = address_problem(str(never))
        assert problem is not None
        if value > 1 and not plain:
            assert problem.startswith(f"{ip} embedded in ")


# --------------------------------------------------------------------------- real connections

#: The brief's hard cases and one of each kind: none may ever see a connect() call.
NEVER_CONTACTED = [
    "64:ff9b::a9fe:a9fe",
    "::ffff:0:7f00:1",
    "2002:7f00:1::1",
    "::127.0.0.1",
    "fec0::1",
    "::ffff:127.0.0.1",
    "127.0.0.1",
    "::1",
    "10.0.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "198.18.0.1",
    "fc00::1",
    "fe80::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "64:ff9b:1::a00:1",
]


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket.connect() made in this process during the test (each still really made)."""
    seen: list[Any] = []
    real = socket.socket.connect

    def counting(self: socket.socket, address: Any) -> None:
        seen.append(address)
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", counting)
    return seen


@pytest.fixture
def refuser() -> Iterator[int]:
    """A loopback TCP server that answers every connection with an SMTP 554 and closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"554 no service here\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def _smtp(addresses: list[str], port: int, allow_private: bool) -> list[ProbeError | None]:
    settings = TlsScanSettings(timeout=1.0, allow_private=allow_private, max_retries=0)
    requests = [ScanRequest("mx.example-dept.gov.uk", a, port) for a in addresses]
    scans = scan_addresses(requests, settings)
    return [scans[(r.host, r.address)].error for r in requests]


def test_smtp_scans_never_connect_to_special_addresses(connects: list[Any], refuser: int) -> None:
    errors = _smtp(NEVER_CONTACTED, refuser, allow_private=False)
    assert connects == []
    assert all(e is not None and e.kind is ErrorKind.PRIVATE_ADDRESS for e in errors), errors
    assert all(e is not None and "--govmail-allow-private" in e.detail for e in errors)
    # The counter sees real connections: with the option, loopback is contacted.
    (error,) = _smtp(["127.0.0.1"], refuser, allow_private=True)
    assert connects == [("127.0.0.1", refuser)]
    assert error is not None and error.kind is ErrorKind.PROTOCOL and "554" in error.detail


def test_https_fetches_never_connect_to_special_addresses(
    connects: list[Any], refuser: int
) -> None:
    for address in NEVER_CONTACTED:
        fetch = fetch_policy("example-dept.gov.uk", [address], port=refuser, timeout=1.0)
        assert fetch.error is not None and fetch.error.kind is ErrorKind.PRIVATE_ADDRESS, fetch
        assert fetch.address is None
    together = fetch_policy("example-dept.gov.uk", NEVER_CONTACTED, port=refuser, timeout=1.0)
    assert together.error is not None and together.error.kind is ErrorKind.PRIVATE_ADDRESS
    assert len(together.attempts) == len(NEVER_CONTACTED)
    assert connects == []
    # The counter sees real connections: with the option, loopback is contacted.
    fetch = fetch_policy(
        "example-dept.gov.uk", ["127.0.0.1"], port=refuser, timeout=1.0, allow_private=True
    )
    assert connects == [("127.0.0.1", refuser)]
    assert fetch.address == "127.0.0.1" and fetch.error is not None
    assert fetch.error.kind is ErrorKind.TLS_HANDSHAKE
