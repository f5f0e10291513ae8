"""Learning the vantage point cheaply, contacting nothing outside the assessed targets.

* **Routes.** Connecting a UDP socket sends no packet (UDP is connectionless: ``connect(2)``
  only looks the route up and fixes the peer, see udp(7)), yet the kernel answers at once with
  ``ENETUNREACH`` when it has no route. :func:`routable` asks that for one address; the run
  asks it for every MX address before scanning, and :func:`family_routes` for one global
  address of each family (a root server's, only looked up) to describe the machine.
* **Port 25.** :func:`port25_state` reads the SMTP scans: when connects to MX addresses of
  several providers all time out and none answered (a greeting, or even a refusal, which
  proves packets got through), outbound port 25 looks blocked from this machine.
  :class:`Port25Watch` reads them as they come back, and tells the scanner to stop connecting
  once enough have timed out with none answered.
* **The resolver.** :func:`resolver_canary` asks one question whose answer is certain: the root
  zone's NS set (RFC 1034 section 4.3.1: the root always exists, and always has NS records).
  NXDOMAIN for the root (RFC 8020: "nothing exists below") or no NS set at all means the
  resolver cannot see the public DNS, and every answer it gives about a domain is worthless.
  It is asked through the run's own collector, and kept in the evidence with the other
  answers. A REFUSED or a timeout proves nothing of the sort (an authoritative-only server,
  such as the demo lab's, refuses names outside its zones), so it is noted, not held against
  the run.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable

from pytest_govmail.model.dns import DnsResult, DnsView, ErrorKind, Query
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import TlsScan
from pytest_govmail.model.vantage import (
    BLOCKED_CAUSE,
    CANARY,
    PORT25_ANSWERED,
    PORT25_BLOCKED,
    PORT25_UNKNOWN,
)

__all__ = [
    "CANARY",
    "Port25Watch",
    "RouteCheck",
    "canary_planner",
    "family_routes",
    "port25_state",
    "resolver_canary",
    "routable",
    "udp_route",
]

#: A global address of each family, only ever looked up in the routing table (a.root-servers.net,
#: https://www.iana.org/domains/root/servers): no packet is sent to it.
_GLOBAL = {"4": "198.41.0.4", "6": "2001:503:ba3e::2:30"}
#: Errors that mean "no route from here", not "that host is down".
_NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)

RouteCheck = Callable[[str], bool]


def udp_route(address: str) -> bool:
    """Whether the kernel has a route to ``address``: a UDP ``connect``, which sends nothing."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:  # no IPv6 in this kernel at all
        return False
    try:
        sock.connect((str(ip), 9))  # discard port; nothing is sent on a UDP connect
    except OSError as exc:
        if exc.errno in _NO_ROUTE:
            return False
        raise
    finally:
        sock.close()
    return True


def routable(address: str, check: RouteCheck = udp_route) -> bool:
    """Whether ``address`` can be reached from here; an address that is not one counts as yes
    (the scanner records it as malformed). ``check`` is injectable for unit tests."""
    try:
        ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    try:
        return check(address)
    except OSError:
        return True  # any other answer is the scan's to record


def family_routes(check: RouteCheck = udp_route) -> dict[str, bool | None]:
    """Per address family ("4", "6"), whether this machine has a route to the Internet."""
    return {family: routable(address, check) for family, address in _GLOBAL.items()}


def _provider(host: str) -> str:
    """An MX host's provider, roughly: its name without the first label."""
    labels = host.strip().rstrip(".").lower().split(".")
    return ".".join(labels[1:]) or host


#: Before the rest of a run's SMTP connects are given up: this many connects, to this many
#: providers, timed out and none answered. An answer (even a refusal) comes back in
#: milliseconds, long before a connect times out, so on a network where port 25 works the
#: first answer arrives before this many timeouts can.
EARLY_TIMEOUTS = 8
EARLY_PROVIDERS = 3


class Port25Watch:
    """Watches SMTP scans as they come back, so that a run stops connecting once outbound port
    25 looks blocked (a sweep would otherwise wait out one timeout per batch of addresses)."""

    def __init__(self, port: int = 25) -> None:
        self.port = port
        self._lock = threading.Lock()
        self._answered = False
        self._timeouts = 0
        self._providers: set[str] = set()

    def note(self, scan: TlsScan) -> None:
        state, _ = port25_state([scan], self.port)
        with self._lock:
            if state == PORT25_ANSWERED:
                self._answered = True
            elif _connect_timed_out(scan, self.port):
                self._timeouts += 1
                self._providers.add(_provider(scan.host))

    def give_up(self) -> str | None:
        """Why no more connects should be made (None: carry on)."""
        with self._lock:
            if self._answered or self._timeouts < EARLY_TIMEOUTS:
                return None
            if len(self._providers) < EARLY_PROVIDERS:
                return None
            return (
                f"not tried: {BLOCKED_CAUSE} ({self._timeouts} connects to "
                f"{len(self._providers)} providers timed out and none answered)"
            )


def _connect_timed_out(scan: TlsScan, port: int) -> bool:
    error = scan.error
    return (
        scan.port == port
        and scan.smtp is None
        and error is not None
        and error.kind is ErrorKind.TIMEOUT
        and error.detail.startswith("TCP connect")
    )


def port25_state(scans: Iterable[TlsScan], port: int = 25) -> tuple[str, str]:
    """``(state, detail)`` of outbound SMTP from the scans so far (``PORT25_*``).

    Answered when any connection was made or refused (packets got through both ways); looks
    blocked when connects to addresses of at least two providers all timed out and none was
    answered; otherwise not observed (too few to say, or only other failures).
    """
    timed_out: list[TlsScan] = []
    for scan in scans:
        if scan.port != port:
            continue
        if scan.connections or scan.smtp is not None:
            return PORT25_ANSWERED, ""
        error = scan.error
        if error is None:
            continue
        if error.kind is ErrorKind.CONNECTION_REFUSED:
            return PORT25_ANSWERED, ""
        if _connect_timed_out(scan, port):
            timed_out.append(scan)
    providers = {_provider(s.host) for s in timed_out}
    if len(timed_out) >= 2 and len(providers) >= 2:
        detail = (
            f"TCP connects to {len(timed_out)} MX address(es) of {len(providers)} providers "
            "timed out and none answered"
        )
        return PORT25_BLOCKED, detail
    return PORT25_UNKNOWN, ""


def canary_planner(target: Target, view: DnsView) -> Iterable[Query]:
    """The canary question, as a planner: asked through the run's own collector, once (the
    collector asks each question once per run), and kept in the evidence with the rest."""
    return (CANARY,)


def resolver_canary(result: DnsResult | None) -> tuple[str, bool]:
    """What the canary's answer says: ``("", False)`` when it came back as it must, else
    ``(why, blind)`` where ``blind`` says the resolver cannot see the public DNS."""
    if result is None:
        return "the canary question (the root zone's NS set) was not asked", False
    if result.rcode == "NXDOMAIN":
        return "it answers NXDOMAIN for the root zone, which always exists", True
    if result.error is not None:
        why = result.error.kind.value  # the detail names the resolver, shown beside it already
        return f"the canary question (the root zone's NS set) got {why}: not judged", False
    if not result.records:
        return "it gives no NS records for the root zone, which always has them", True
    return "", False
