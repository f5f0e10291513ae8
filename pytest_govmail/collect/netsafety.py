"""Which addresses the collectors may connect to: one policy for SMTP and HTTPS alike.

The addresses a run connects to come from DNS answers that the assessed domain controls, so a
hostile zone could point an MX host or ``mta-sts.<domain>`` at the scanning host's own network
(loopback, a cloud metadata service at 169.254.169.254, an office LAN): a server-side request
forgery. Every address is therefore judged before a connection is made, and the HTTPS fetcher
judges the address a connection actually reached again. Unless ``--govmail-allow-private`` is
given, an address is refused when it is in

* the IANA IPv4 Special-Purpose Address Registry (RFC 6890; 0/8, 10/8, 100.64/10, 127/8,
  169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.31.196/24, 192.52.193/24, 192.88.99/24,
  192.168/16, 192.175.48/24, 198.18/15, 198.51.100/24, 203.0.113/24, 240/4,
  255.255.255.255) or is IPv4 multicast (224/4, RFC 5771):
  https://www.iana.org/assignments/iana-ipv4-special-registry/
* the IANA IPv6 Special-Purpose Address Registry (::1, ::, 100::/64, 2001::/23, 2001:db8::/32,
  3fff::/20, 5f00::/16, fc00::/7, fe80::/10, ...), or outside the global unicast space
  2000::/3 altogether (multicast ff00::/8, the deprecated site-local fec0::/10 of RFC 3879,
  the rest of ::/8): https://www.iana.org/assignments/iana-ipv6-special-registry/

IPv6 addresses that carry an IPv4 address are unwrapped and the IPv4 address is judged too,
since the packets end up there: IPv4-mapped ``::ffff:0:0/96`` (RFC 4291 section 2.5.5.2, the
kernel connects over IPv4), NAT64 ``64:ff9b::/96`` (RFC 6052) and its local-use
``64:ff9b:1::/48`` (RFC 8215, read as a /96 as most operators use it), 6to4 ``2002::/16``
(RFC 3056, bits 16-47), Teredo ``2001::/32`` (RFC 4380 section 4: the client address is the
bitwise inverse of the last 32 bits, the server address bits 32-63), SIIT's IPv4-translated
``::ffff:0:0:0/96`` (RFC 2765 section 2.1) and IPv4-compatible ``::/96`` (RFC 4291 section
2.5.5.1). A translation to a public IPv4 address through a globally routed prefix (the
well-known NAT64 prefix, 6to4, Teredo, IPv4-mapped) is allowed: it reaches only that public
host. The local-use NAT64 prefix, SIIT and IPv4-compatible addresses are refused whatever they
carry, since they are not routed on the Internet.

The SMTP scans connect to one literal address each, refused beforehand with :func:`refusal`;
the MTA-STS fetcher tries a list of addresses with :func:`connect`, which also judges the peer
address of the connection made (what the kernel actually reached).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence

from pytest_govmail.model.dns import ErrorKind, ProbeError

__all__ = ["NoConnection", "address_problem", "connect", "refusal"]

_Net4 = ipaddress.IPv4Network
_Net6 = ipaddress.IPv6Network
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_Unwrap = Callable[[ipaddress.IPv6Address], list[ipaddress.IPv4Address]]

#: IPv4: the special-purpose registry (RFC 6890 and its updates) plus multicast; most specific
#: first, since 0.0.0.0 is "unspecified" inside "this network".
_V4: tuple[tuple[_Net4, str], ...] = tuple(
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "'this network' (RFC 791)"),
        ("10.0.0.0/8", "private-use (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (RFC 3927)"),
        ("172.16.0.0/12", "private-use (RFC 1918)"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1, RFC 5737)"),
        ("192.31.196.0/24", "special-purpose (AS112-v4, RFC 7535)"),
        ("192.52.193.0/24", "special-purpose (AMT, RFC 7450)"),
        ("192.88.99.0/24", "special-purpose (deprecated 6to4 relay anycast, RFC 7526)"),
        ("192.168.0.0/16", "private-use (RFC 1918)"),
        ("192.175.48.0/24", "special-purpose (AS112 direct delegation, RFC 7534)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2, RFC 5737)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3, RFC 5737)"),
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919)"),
        ("240.0.0.0/4", "reserved (RFC 1112)"),
    )
)

#: IPv6 ranges that carry no IPv4 address; anything else outside 2000::/3 is refused after them.
_V6: tuple[tuple[_Net6, str], ...] = tuple(
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("2001:2::/48", "benchmarking (RFC 5180)"),
        ("2001::/23", "reserved for IETF protocol assignments (RFC 2928)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("5f00::/16", "segment routing (SRv6) SIDs (RFC 9602)"),
        ("fc00::/7", "private (unique local, RFC 4193)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated, RFC 3879)"),
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def _low32(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]


def _teredo(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    server, client = ip.teredo or (ipaddress.IPv4Address(0), ipaddress.IPv4Address(0))
    return [client, server]


def _sixtofour(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    return [ip.sixtofour] if ip.sixtofour is not None else []


#: (prefix, name, how to unwrap, refused whatever it carries: the prefix is not routed)
_EMBEDDING: tuple[tuple[_Net6, str, _Unwrap, bool], ...] = (
    (_Net6("::ffff:0:0/96"), "IPv4-mapped", _low32, False),
    (_Net6("::ffff:0:0:0/96"), "SIIT IPv4-translated", _low32, True),
    (_Net6("64:ff9b::/96"), "NAT64", _low32, False),
    (_Net6("64:ff9b:1::/48"), "local-use NAT64", _low32, True),
    (_Net6("2002::/16"), "6to4", _sixtofour, False),
    (_Net6("2001::/32"), "Teredo", _teredo, False),
    (_Net6("::/96"), "deprecated IPv4-compatible", _low32, True),
)


def _v4_problem(ip: ipaddress.IPv4Address) -> str | None:
    for net, why in _V4:
        if ip in net:
            return why
    return None


def _v6_problem(ip: ipaddress.IPv6Address) -> str | None:
    if int(ip) <= 1:  # :: and ::1 lie inside ::/96 but are not IPv4-compatible addresses
        return f"{ip} is {'loopback' if int(ip) else 'unspecified'}"
    for net, form, unwrap, refused in _EMBEDDING:
        if ip not in net:
            continue
        for inner in unwrap(ip):
            why = _v4_problem(inner)
            if why is not None:
                return f"{inner} embedded in {form} address {ip} is {why}"
        if refused:
            return f"{ip} is a {form} address, not routed on the Internet"
        return None
    for net6, why in _V6:
        if ip in net6:
            return f"{ip} is {why}"
    if ip not in _GLOBAL_UNICAST:
        return f"{ip} is outside the global unicast space 2000::/3 (reserved)"
    return None


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be contacted without ``--govmail-allow-private``; None if it may.

    The reason is a sentence shown to users, e.g. ``"127.0.0.1 is loopback"`` or ``"127.0.0.1
    embedded in 6to4 address 2002:7f00:1::1 is loopback"``. A zone index (``fe80::1%eth0``) is
    ignored: only link-local addresses carry one, and those are refused anyway.
    """
    try:
        ip: _IP = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address[:80]!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv4Address):
        why = _v4_problem(ip)
        return None if why is None else f"{ip} is {why}"
    return _v6_problem(ip)


def refusal(address: str, allow_private: bool) -> ProbeError | None:
    """The recorded error for an address that is not contacted (None: go ahead).

    Something that is not an IP address is ``MALFORMED`` even with ``allow_private``; a
    special-purpose address is ``PRIVATE_ADDRESS``, naming the option that allows it.
    """
    try:
        ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return ProbeError(ErrorKind.MALFORMED, f"{address[:80]!r} is not an IP address")
    problem = None if allow_private else address_problem(address)
    if problem is None:
        return None
    return ProbeError(
        ErrorKind.PRIVATE_ADDRESS, f"{problem}; not contacted without --govmail-allow-private"
    )


class NoConnection(Exception):
    """No allowed address could be connected to; ``error`` is the recorded reason."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.error = ProbeError(kind, detail)


def connect(
    addresses: Sequence[str],
    port: int,
    *,
    end: float,
    timeout: float,
    allow_private: bool,
    attempts: list[str],
) -> tuple[socket.socket, str]:
    """A TCP connection to the first of ``addresses`` that may be contacted and answers.

    Addresses this module refuses are noted in ``attempts`` and never contacted; the others are
    tried in order, each connect getting an even share of the time left before ``end``
    (``time.monotonic()``; ``timeout`` is only for messages). The peer address of the
    connection made is judged again, and the connection closed if it is refused. Returns the
    socket and that peer address; raises :class:`NoConnection` saying why there is none.
    """
    plan: list[tuple[str, int, str]] = []  # (address, family or 0 when skipped, note)
    refused: list[str] = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            plan.append((text, 0, f"{text[:80]!r}: not an IP address; not contacted"))
            continue
        problem = None if allow_private else address_problem(str(ip))
        if problem is not None:
            plan.append((str(ip), 0, f"{problem}; not contacted"))
            refused.append(problem)
            continue
        plan.append((str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET, ""))
    candidates = sum(1 for _, family, _ in plan if family)
    kinds: list[ErrorKind] = []
    for text, family, note in plan:
        if not family:
            attempts.append(note)
            continue
        left = end - time.monotonic()
        if left <= 0:
            detail = f"no connection to {text} port {port} within the {timeout:g} s deadline"
            raise NoConnection(ErrorKind.TIMEOUT, detail)
        budget = left / (candidates - len(kinds))
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(budget)
            sock.connect((text, port))
            peer = str(sock.getpeername()[0])
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                attempts.append(f"{text}: connect timed out after {budget:.2g} s")
                kinds.append(ErrorKind.TIMEOUT)
            elif isinstance(exc, ConnectionRefusedError):
                attempts.append(f"{text}: connection refused")
                kinds.append(ErrorKind.CONNECTION_REFUSED)
            else:
                attempts.append(f"{text}: {exc.strerror or exc}")
                kinds.append(ErrorKind.OTHER)
            continue
        problem = None if allow_private else address_problem(peer)
        if problem is not None:
            sock.close()
            attempts.append(f"{text}: connected to {peer}: {problem}; closed")
            detail = f"the connection for {text} reached {peer}: {problem}"
            raise NoConnection(ErrorKind.PRIVATE_ADDRESS, detail)
        attempts.append(f"{text}: connected")
        return sock, peer
    if not candidates and refused:
        detail = "only special-purpose addresses: " + "; ".join(refused)
        why = f"{detail} (not contacted; --govmail-allow-private allows them)"
        raise NoConnection(ErrorKind.PRIVATE_ADDRESS, why)
    if not candidates:
        raise NoConnection(ErrorKind.OTHER, "no address to connect to")
    if ErrorKind.TIMEOUT in kinds:
        kind = ErrorKind.TIMEOUT
    elif all(k is ErrorKind.CONNECTION_REFUSED for k in kinds):
        kind = ErrorKind.CONNECTION_REFUSED
    else:
        kind = ErrorKind.OTHER
    raise NoConnection(kind, f"no connection to port {port}: " + "; ".join(attempts))
