"""A small authoritative DNS server for the demo lab, integration tests and benchmarks.

The assessment engine must be exercised against DNS behaviour that real departments exhibit:
long SPF/DKIM TXT records that only fit over TCP, CNAME chains, wildcards, empty
non-terminals such as ``_domainkey``, and name servers that fail, refuse, time out or are slow.
Public resolvers cannot be pointed at made-up zones and the internet is off limits for tests, so
this module serves RFC 1035 master-file zones on loopback with exactly those behaviours, using
only dnspython.

Design, and why:

* One thread multiplexes the UDP socket, the TCP listener and a wake-up socket with
  :mod:`selectors`, so :meth:`LabDnsServer.stop` is immediate (no polling interval) and answers
  are computed without a thread hop.
* Delayed UDP answers (``delay``, per-zone ``slow``) are parked in a time-ordered heap drained by
  one sender thread. A thousand concurrent slow queries therefore cost one thread, not a
  thousand, and a slow answer never holds up a fast one.
* Each TCP connection gets its own daemon thread (bounded in number) with an idle timeout, so a
  client that opens a connection and goes quiet cannot wedge the server.
* Zones are normalised to absolute names and indexed once at construction (RRsets by owner and
  type, all existing names including empty non-terminals), so a lookup is a few dictionary
  probes. Rendered answers are also kept, keyed by the query bytes minus the ID: parsing and
  rendering with dnspython costs about half a millisecond, a cache hit a few microseconds, and
  the lab often shares a process (and the GIL) with the code it is benchmarking. Faults and
  delays are read on every query, hit or not, so changing them at runtime takes effect at once.

Answers follow RFC 1034 section 4.3.2 without delegations: longest-origin zone selection
(REFUSED outside every zone), AA on authoritative answers, NODATA and NXDOMAIN with the SOA in the
authority section (TTL per RFC 2308: the smaller of the SOA's TTL and its MINIMUM field), RFC 8020
empty non-terminals, RFC 4592 wildcards, and CNAME chasing within the served zones, bounded by
:data:`MAX_CNAME_CHAIN` so that loops end in an answer. ``ANY`` is answered RFC 8482 style with a
single RRset (the one with the lowest type code); ``AXFR``/``IXFR`` are REFUSED and other meta
types get NOTIMP.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import copy
import enum
import errno
import heapq
import itertools
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Mapping
from typing import ClassVar, NamedTuple

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from pytest_govmail.lab.lifecycle import LabServerLifecycle

__all__ = [
    "EDNS_PAYLOAD",
    "MAX_CNAME_CHAIN",
    "Fault",
    "LabDnsServer",
    "LoggedQuery",
]

_log = logging.getLogger(__name__)

#: UDP payload size this server advertises and the most it will send over UDP (DNS Flag Day 2020).
EDNS_PAYLOAD = 1232
#: The classic UDP limit for clients without EDNS (RFC 1035 section 4.2.1).
_CLASSIC_UDP_LIMIT = 512
#: CNAMEs followed for one query before giving up; ends loops with a partial (but real) answer.
MAX_CNAME_CHAIN = 8

_HEADER = struct.Struct("!HHHHHH")
_TCP_LENGTH = struct.Struct("!H")
_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_MAX_UDP_DATAGRAM = 65535
_UDP_BATCH = 64  # datagrams read per wake-up before the loop looks at the TCP listener again
_MAX_PENDING_UDP = 10_000  # delayed answers held at once; beyond that, drop (it is UDP)
_UDP_RECEIVE_BUFFER = 4 << 20
_BIND_ATTEMPTS = 50
_ANSWER_CACHE_SIZE = 4096  # rendered answers kept (see LabDnsServer._respond)
_CACHEABLE_QUERY = 512  # longer queries are not worth keeping as cache keys


class Fault(enum.Enum):
    """How a zone misbehaves, so tests can model broken name servers next to healthy ones."""

    NONE = "none"
    """Answer normally."""
    SERVFAIL = "servfail"
    """Answer every query for the zone with rcode SERVFAIL (a broken or lame server)."""
    REFUSED = "refused"
    """Answer every query for the zone with rcode REFUSED (a server that lost the zone)."""
    DROP = "drop"
    """Never answer: the client times out (a firewalled or dead server)."""


class LoggedQuery(NamedTuple):
    """One well-formed query the server received, for tests and benchmarks to count probes."""

    qname: str
    """Query name, lower case, without the trailing dot (the project's normal form)."""
    rdtype: str
    """Query type mnemonic, e.g. ``"TXT"``."""
    transport: str
    """``"udp"`` or ``"tcp"``."""


_Key = tuple[bytes, ...]
"""A name as its lower-cased labels: hashing and comparing these is far cheaper than Names."""
_RRsets = dict[dns.rdatatype.RdataType, dns.rrset.RRset]


class _Reply(NamedTuple):
    """What to send back for one request: nothing (``wire is None``) or bytes after a delay."""

    wire: bytes | None
    delay: float


class _Cached(NamedTuple):
    """A rendered answer minus its 2-byte ID, with what is needed to account for a hit."""

    body: bytes
    zone: _Key | None
    logged: LoggedQuery


class _Answer(NamedTuple):
    rcode: dns.rcode.Rcode
    answer: list[dns.rrset.RRset]
    authority: list[dns.rrset.RRset]


def _key(name: dns.name.Name) -> _Key:
    return tuple(label.lower() for label in name.labels)


class _ServedZone:
    """A zone's RRsets by owner name and type, plus every name that exists in the zone.

    RRsets are built once, at construction, because building one (dnspython hashes every rdata)
    costs more than the rest of an answer; lookups then only probe dictionaries. "Exists"
    includes empty non-terminals (names with no records but with descendants), which answer
    NODATA rather than NXDOMAIN (RFC 8020) and stop wildcard matching (RFC 4592).
    """

    __slots__ = (
        "existing",
        "key",
        "negative_soa",
        "nsec3",
        "nsec3_hashes",
        "nsec_owners",
        "origin",
        "records",
        "sigs",
    )

    def __init__(self, origin: dns.name.Name, zone: dns.zone.Zone) -> None:
        if zone.rdclass != dns.rdataclass.IN:
            raise ValueError(f"zone {origin}: only class IN is served")
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
        if soa is None or len(soa) == 0:
            raise ValueError(f"zone {origin}: no SOA record at the origin")
        self.origin = origin
        self.key = _key(origin)
        # RFC 2308 section 3: negative answers carry the SOA with TTL min(SOA TTL, MINIMUM).
        minimum = min(soa.ttl, min(rd.minimum for rd in soa))
        self.negative_soa = dns.rrset.from_rdata_list(origin, minimum, list(soa))
        self.records: dict[_Key, _RRsets] = {}
        # A signed zone's RRSIGs by owner and covered type, and its NSEC owners in canonical
        # order (RFC 4034 section 6.1), for answers to queries with the DO bit (RFC 3225).
        self.sigs: dict[_Key, _RRsets] = {}
        nsec_owners: list[dns.name.Name] = []
        existing: set[_Key] = {self.key}
        for name, node in zone.nodes.items():
            assert isinstance(name, dns.name.Name)
            key = _key(name)
            by_type = self.records.setdefault(key, {})
            for rdataset in node.rdatasets:
                if rdataset.rdtype == dns.rdatatype.RRSIG:
                    # Kept by covered type only: an RRSIG question gets NODATA.
                    self.sigs.setdefault(key, {})[rdataset.covers] = dns.rrset.from_rdata_list(
                        name, rdataset.ttl, list(rdataset)
                    )
                    continue
                if rdataset.rdtype == dns.rdatatype.NSEC:
                    nsec_owners.append(name)
                rrset = by_type.get(rdataset.rdtype)
                rdatas = [*(rrset or ()), *rdataset]
                ttl = min(rdataset.ttl, rrset.ttl) if rrset is not None else rdataset.ttl
                by_type[rdataset.rdtype] = dns.rrset.from_rdata_list(name, ttl, rdatas)
            # The name and its ancestors up to the origin exist (ancestors maybe as ENTs).
            for start in range(len(key) - len(self.key)):
                existing.add(key[start:])
        self.existing = frozenset(existing)
        self.nsec_owners = sorted(nsec_owners)
        # An NSEC3 zone (RFC 5155): its parameters and its NSEC3 owners by hash, in hash order.
        param = self.records.get(self.key, {}).get(dns.rdatatype.NSEC3PARAM)
        self.nsec3 = (param[0].salt, param[0].iterations) if param else None
        self.nsec3_hashes = sorted(
            (key[0].decode("ascii").upper(), key)
            for key, by_type in self.records.items()
            if dns.rdatatype.NSEC3 in by_type
        )

    def signatures(self, rrset: dns.rrset.RRset, owner: dns.name.Name) -> dns.rrset.RRset | None:
        """The RRSIGs covering ``rrset`` (owned by ``owner``, for a wildcard's synthesis)."""
        sigs = self.sigs.get(_key(rrset.name), {}).get(rrset.rdtype)
        if sigs is None or owner == rrset.name:
            return sigs
        synthesised = copy.copy(sigs)
        synthesised.name = owner
        return synthesised

    def _nsec3_proof(self, name: dns.name.Name) -> list[dns.rrset.RRset]:
        """RFC 5155 section 7.2: the NSEC3 matching the name (no data), or the closest-encloser
        proof: the NSEC3 matching the closest encloser, and those covering the next closer
        name and the wildcard at the closest encloser."""
        assert self.nsec3 is not None and self.nsec3_hashes
        salt, iterations = self.nsec3
        hashes = [h for h, _ in self.nsec3_hashes]

        def digest(n: dns.name.Name) -> str:
            return dns.dnssec.nsec3_hash(n, salt, iterations, 1)

        def matching(h: str) -> _Key | None:
            index = bisect.bisect_left(hashes, h)
            return (
                self.nsec3_hashes[index][1] if index < len(hashes) and hashes[index] == h else None
            )

        def covering(h: str) -> _Key:
            return self.nsec3_hashes[bisect.bisect_right(hashes, h) - 1][1]

        owners: list[_Key] = []
        found = matching(digest(name))
        if found is not None:
            owners.append(found)
        else:
            key = _key(name)
            start = 1
            while key[start:] not in self.existing:
                start += 1
            encloser = dns.name.Name(key[start:])
            closer = dns.name.Name(key[start - 1 :])
            for owner in (
                matching(digest(encloser)),
                covering(digest(closer)),
                covering(digest(dns.name.Name((b"*", *encloser.labels)))),
            ):
                if owner is not None and owner not in owners:
                    owners.append(owner)
        proof: list[dns.rrset.RRset] = []
        for owner in owners:
            nsec3 = self.records[owner][dns.rdatatype.NSEC3]
            proof.append(nsec3)
            sigs = self.signatures(nsec3, nsec3.name)
            if sigs is not None:
                proof.append(sigs)
        return proof

    def nsec_proof(self, name: dns.name.Name, nxdomain: bool) -> list[dns.rrset.RRset]:
        """The NSEC RRsets (and RRSIGs) that prove ``name`` has no such data (RFC 4035 section
        3.1.3): the NSEC at the name, or the one covering it and, for NXDOMAIN, the one
        covering the wildcard at the closest encloser."""
        if self.nsec3 is not None:
            return self._nsec3_proof(name)
        if not self.nsec_owners:
            return []
        wanted = [name]
        if nxdomain:
            key = _key(name)
            start = 1
            while key[start:] not in self.existing:
                start += 1
            wanted.append(dns.name.Name((b"*", *name.labels[start:])))
        found: list[dns.rrset.RRset] = []
        for wanted_name in wanted:
            index = bisect.bisect_right(self.nsec_owners, wanted_name) - 1
            owner = self.nsec_owners[index]  # index -1 wraps to the last NSEC, as it should
            nsec = self.records[_key(owner)][dns.rdatatype.NSEC]
            if nsec not in found:
                found.append(nsec)
                sigs = self.signatures(nsec, owner)
                if sigs is not None:
                    found.append(sigs)
        return found


def _parse_zone(origin: dns.name.Name, data: str | dns.zone.Zone) -> dns.zone.Zone:
    """Return ``data`` as a zone with absolute names, read from text or copied from a Zone.

    Zone objects are copied through their text form: that makes relativised zones (dnspython's
    default) absolute and snapshots the data, so later edits by the caller cannot desynchronise
    the name index.
    """
    if isinstance(data, dns.zone.Zone):
        if data.origin is None or data.origin != origin:
            raise ValueError(f"zone object for {origin} has origin {data.origin}")
        text = data.to_text(relativize=False)
    else:
        text = data
    try:
        return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    except dns.exception.DNSException as exc:
        raise ValueError(f"zone {origin}: {exc}") from exc


def _to_name(origin: str | dns.name.Name) -> dns.name.Name:
    if isinstance(origin, dns.name.Name):
        return origin if origin.is_absolute() else origin.derelativize(dns.name.root)
    return dns.name.from_text(origin)


def _short(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower() if name != dns.name.root else "."


def _header_only_reply(wire: bytes, rcode: int) -> bytes | None:
    """A bare response (no sections) echoing the query ID, for queries dnspython cannot parse.

    Returns ``None`` when no 12-byte header can be read, or the packet claims to be a response:
    answering responses could start a packet loop between two servers.
    """
    if len(wire) < _HEADER.size:
        return None
    qid, flags = struct.unpack_from("!HH", wire)
    if flags & _QR:
        return None
    reply_flags = _QR | (flags & _OPCODE_MASK) | (flags & _RD) | (rcode & 0xF)
    return _HEADER.pack(qid, reply_flags, 0, 0, 0, 0)


class LabDnsServer(LabServerLifecycle[socket.socket]):
    """An authoritative DNS server on loopback serving master-file zones over UDP and TCP.

    Use as a context manager (or call :meth:`start` and :meth:`stop`)::

        with LabDnsServer({"example-dept.gov.uk": ZONE_TEXT}) as dns_server:
            host, port = dns_server.address
            ...

    ``zones`` maps each origin to RFC 1035 master-file text (relative names are relative to the
    origin) or to a :class:`dns.zone.Zone`. Zone data is read once, at construction. Each zone
    needs an SOA at its origin (it is what negative answers carry); NS records are optional.

    ``port=0`` picks a free port; UDP and TCP always share the port number, which is what
    resolvers assume. ``delay`` seconds are added before every answer to model internet round
    trips; it is applied per answer, concurrently, so it does not serialise clients. Over one
    TCP connection, answers are sent in order, so pipelined queries on the same connection wait
    for each other.

    ``faults`` and ``slow`` (extra seconds) are keyed by zone origin and apply to queries whose
    *question name* falls in that zone (a CNAME chased into a faulty zone is answered normally);
    change them at runtime with :meth:`set_fault` and :meth:`set_slow`.
    """

    _name: ClassVar[str] = "LabDnsServer"

    def __init__(
        self,
        zones: Mapping[str, str | dns.zone.Zone],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        faults: Mapping[str, Fault] | None = None,
        slow: Mapping[str, float] | None = None,
        tcp_idle_timeout: float = 10.0,
        max_tcp_connections: int = 256,
        query_log_size: int = 10_000,
    ) -> None:
        if not zones:
            raise ValueError("LabDnsServer needs at least one zone")
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        self._zones: dict[_Key, _ServedZone] = {}
        for origin_text, data in zones.items():
            origin = _to_name(origin_text)
            if _key(origin) in self._zones:
                raise ValueError(f"zone {origin} given twice")
            self._zones[_key(origin)] = _ServedZone(origin, _parse_zone(origin, data))
        self._host = host
        self._requested_port = port
        self._port = 0
        self.delay = delay
        self._tcp_idle_timeout = tcp_idle_timeout
        self._max_tcp_connections = max_tcp_connections

        self._lock = threading.Lock()  # guards faults, slow, counters and the query log
        self._faults: dict[_Key, Fault] = {}
        self._slow: dict[_Key, float] = {}
        self._queries_served = 0
        self._query_log: collections.deque[LoggedQuery] = collections.deque(maxlen=query_log_size)
        for origin_text, fault in (faults or {}).items():
            self.set_fault(origin_text, fault)
        for origin_text, seconds in (slow or {}).items():
            self.set_slow(origin_text, seconds)

        super().__init__()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        self._pending: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self._pending_cond = threading.Condition()
        self._seq = itertools.count()
        self._answers: dict[tuple[str, bytes], _Cached] = {}

    # ----------------------------------------------------------------- public API

    @property
    def zones(self) -> tuple[str, ...]:
        """Origins served, in the project's normal form (lower case, no trailing dot)."""
        return tuple(_short(zone.origin) for zone in self._zones.values())

    @property
    def delay(self) -> float:
        """Seconds added before every answer; may be changed while the server runs."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"delay must be >= 0, got {seconds}")
        self._delay = float(seconds)

    @property
    def queries_served(self) -> int:
        """Well-formed queries received, whatever the answer (dropped ones included)."""
        with self._lock:
            return self._queries_served

    @property
    def query_log(self) -> list[LoggedQuery]:
        """A snapshot of the most recent queries (bounded by ``query_log_size``), oldest first."""
        with self._lock:
            return list(self._query_log)

    def reset_stats(self) -> None:
        """Zero :attr:`queries_served` and clear :attr:`query_log` (e.g. between benchmark runs)."""
        with self._lock:
            self._queries_served = 0
            self._query_log.clear()

    def set_fault(self, origin: str | dns.name.Name, fault: Fault) -> None:
        """Make the zone ``origin`` misbehave (or behave again with :attr:`Fault.NONE`)."""
        name = self._served_origin(origin)
        with self._lock:
            self._faults[name] = Fault(fault)

    def get_fault(self, origin: str | dns.name.Name) -> Fault:
        """The fault currently injected into the zone ``origin``."""
        name = self._served_origin(origin)
        with self._lock:
            return self._faults.get(name, Fault.NONE)

    def set_slow(self, origin: str | dns.name.Name, seconds: float) -> None:
        """Add ``seconds`` before every answer for the zone ``origin`` (0 to undo)."""
        if seconds < 0:
            raise ValueError(f"slow must be >= 0, got {seconds}")
        name = self._served_origin(origin)
        with self._lock:
            self._slow[name] = float(seconds)

    def __repr__(self) -> str:
        port = self._port or self._requested_port
        return f"<LabDnsServer {self._host}:{port} {self._state} zones={list(self.zones)}>"

    # ----------------------------------------------------------------- sockets and threads

    def _open_sockets(self) -> list[socket.socket]:
        """Bind UDP and TCP on the same port (so ``address`` serves both transports)."""
        self._udp, self._tcp = self._bind()
        self._port = self._udp.getsockname()[1]
        return [self._udp, self._tcp]

    def _serving_threads(self) -> list[threading.Thread]:
        """The serve loop, and the sender of delayed UDP answers (one thread for all of them)."""
        label = f"lab-dns-{self._port}"
        return [
            threading.Thread(target=self._serve_loop, name=label, daemon=True),
            threading.Thread(target=self._send_loop, name=f"{label}-udp-send", daemon=True),
        ]

    def _on_stop(self) -> None:
        """Drop the delayed answers and wake the sender, which waits on the heap, not a socket."""
        with self._pending_cond:
            self._pending.clear()
            self._pending_cond.notify_all()

    def _open_connections(self) -> list[tuple[socket.socket, threading.Thread]]:
        with self._conns_lock:
            return list(self._conns.items())

    def _interrupt(self, conn: socket.socket) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """Bind a UDP and a TCP socket to one port; with port 0, retry until one is free for both.

        The kernel picks the UDP port; that number may already be taken for TCP by an unrelated
        process, in which case both sockets are closed and another port is tried.
        """
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        attempts = 1 if self._requested_port else _BIND_ATTEMPTS
        last_error: OSError | None = None
        for _ in range(attempts):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((self._host, self._requested_port))
                port = udp.getsockname()[1]
                # SO_REUSEADDR only skips TIME_WAIT leftovers; it never shares a live listener.
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self._host, port))
                tcp.listen(128)
            except OSError as exc:
                udp.close()
                tcp.close()
                if exc.errno != errno.EADDRINUSE or self._requested_port:
                    raise
                last_error = exc
                continue
            # A client's burst of questions (a sweep keeps 200 in flight) must not overflow the
            # default receive buffer while this thread is busy: dropped questions would show
            # up as timeouts the lab never meant. The kernel caps the size (net.core.rmem_max).
            with contextlib.suppress(OSError):
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        assert last_error is not None
        raise last_error

    def _serve_loop(self) -> None:
        """Read UDP queries and accept TCP connections until :meth:`stop` pokes the wake socket."""
        assert self._udp is not None and self._tcp is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            selector.register(self._tcp, selectors.EVENT_READ, "tcp")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stop_event.is_set():
                for key, _ in selector.select():
                    try:
                        if key.data == "udp":
                            self._drain_udp(self._udp)
                        elif key.data == "tcp":
                            self._accept(self._tcp)
                    except Exception:  # e.g. no thread left to start: keep serving UDP
                        _log.debug("lab DNS: serve loop error", exc_info=True)

    def _drain_udp(self, udp: socket.socket) -> None:
        for _ in range(_UDP_BATCH):
            try:
                wire, peer = udp.recvfrom(_MAX_UDP_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. an ICMP error surfaced on the socket: not fatal
                continue
            reply = self._handle(wire, "udp")
            if reply.wire is None:
                continue
            if reply.delay <= 0:
                self._sendto(udp, reply.wire, peer)
            else:
                with self._pending_cond:
                    if len(self._pending) >= _MAX_PENDING_UDP:
                        continue
                    due = time.monotonic() + reply.delay
                    heapq.heappush(self._pending, (due, next(self._seq), reply.wire, peer))
                    self._pending_cond.notify()

    @staticmethod
    def _sendto(udp: socket.socket, wire: bytes, peer: tuple[str, int]) -> None:
        try:
            udp.sendto(wire, peer)
        except OSError:  # buffer full or peer gone: UDP is allowed to lose packets
            pass

    def _send_loop(self) -> None:
        """Send delayed UDP answers when they fall due, earliest first."""
        assert self._udp is not None
        while True:
            with self._pending_cond:
                while not self._stop_event.is_set():
                    now = time.monotonic()
                    if self._pending and self._pending[0][0] <= now:
                        break
                    timeout = self._pending[0][0] - now if self._pending else None
                    self._pending_cond.wait(timeout)
                if self._stop_event.is_set():
                    return
                due_now: list[tuple[bytes, tuple[str, int]]] = []
                now = time.monotonic()
                while self._pending and self._pending[0][0] <= now:
                    _, _, wire, peer = heapq.heappop(self._pending)
                    due_now.append((wire, peer))
            for wire, peer in due_now:
                self._sendto(self._udp, wire, peer)

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with self._conns_lock:
            if len(self._conns) >= self._max_tcp_connections or self._stop_event.is_set():
                conn.close()
                return
            thread = threading.Thread(
                target=self._serve_tcp, args=(conn,), name=f"lab-dns-{self._port}-tcp", daemon=True
            )
            self._conns[conn] = thread
        try:
            thread.start()
        except RuntimeError:
            with self._conns_lock:
                self._conns.pop(conn, None)
            conn.close()
            raise

    def _serve_tcp(self, conn: socket.socket) -> None:
        """Answer length-prefixed queries on one connection until EOF, idle timeout or stop."""
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stop_event.is_set():
                header = self._recv_exact(conn, _TCP_LENGTH.size)
                if header is None:
                    return
                (length,) = _TCP_LENGTH.unpack(header)
                if length == 0:
                    return
                wire = self._recv_exact(conn, length)  # bounded: at most 65535 bytes
                if wire is None:
                    return
                reply = self._handle(wire, "tcp")
                if reply.wire is None:
                    continue  # DROP or unparseable: keep listening, the client times out
                if reply.delay > 0 and self._stop_event.wait(reply.delay):
                    return
                conn.sendall(_TCP_LENGTH.pack(len(reply.wire)) + reply.wire)
        except OSError:  # reset, shutdown by stop(), timeout mid-send
            pass
        finally:
            conn.close()
            with self._conns_lock:
                self._conns.pop(conn, None)

    def _recv_exact(self, conn: socket.socket, size: int) -> bytes | None:
        """Read exactly ``size`` bytes within the idle timeout; ``None`` on EOF or timeout.

        The deadline covers the whole read, so a client trickling one byte at a time cannot
        hold a connection thread for longer than the idle timeout per message.
        """
        deadline = time.monotonic() + self._tcp_idle_timeout
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            conn.settimeout(left)
            try:
                chunk = conn.recv(remaining)
            except TimeoutError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    # ----------------------------------------------------------------- answering

    def _handle(self, wire: bytes, transport: str) -> _Reply:
        """Turn one request into the bytes to send (or none) and the delay before sending.

        Never raises: a bug or a hostile packet must cost one answer, not the server thread.
        """
        try:
            return self._respond(wire, transport)
        except Exception:
            _log.debug("lab DNS: failed to answer a %s query", transport, exc_info=True)
            return _Reply(_header_only_reply(wire, dns.rcode.SERVFAIL), self._delay)

    def _respond(self, wire: bytes, transport: str) -> _Reply:
        # Fast path: the same query bytes (ID aside) always get the same answer, because zones
        # are immutable; only faults and delays can change, and they are checked on every hit.
        cache_key = (transport, wire[2:])
        cached = self._answers.get(cache_key)
        if cached is not None:
            fault, extra = self._account(cached.logged, cached.zone)
            if fault is Fault.NONE:
                return _Reply(wire[:2] + cached.body, self._delay + extra)
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return _Reply(_header_only_reply(wire, dns.rcode.FORMERR), self._delay)
        if query.flags & dns.flags.QR:
            return _Reply(None, 0.0)
        if query.opcode() != dns.opcode.QUERY:
            return _Reply(_header_only_reply(wire, dns.rcode.NOTIMP), self._delay)
        if len(query.question) != 1:
            return _Reply(_header_only_reply(wire, dns.rcode.FORMERR), self._delay)

        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        logged = LoggedQuery(_short(qname), dns.rdatatype.to_text(rdtype), transport)
        zone = None
        if query.edns <= 0 and question.rdclass == dns.rdataclass.IN:
            zone = self._find_zone(_key(qname))
            if rdtype == dns.rdatatype.DS and zone is not None and zone.key == _key(qname):
                # Answered by the parent (see _lookup): its faults and delays apply, not the
                # child's, as when a resolver asks the parent's servers.
                zone = self._find_zone(zone.key[1:]) if zone.key else zone
                zone = zone or self._find_zone(_key(qname))
        if cached is None:
            fault, extra = self._account(logged, zone.key if zone else None)
        if fault is Fault.DROP:
            return _Reply(None, 0.0)

        response = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)  # RFC 6891 section 6.1.3
        elif zone is None:
            response.set_rcode(dns.rcode.REFUSED)  # not ours (or not class IN)
        elif fault is not Fault.NONE:
            rcode = dns.rcode.SERVFAIL if fault is Fault.SERVFAIL else dns.rcode.REFUSED
            response.set_rcode(rcode)
        elif rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            response.set_rcode(dns.rcode.REFUSED)  # no zone transfers from the lab
        elif dns.rdatatype.is_metatype(rdtype) and rdtype != dns.rdatatype.ANY:
            response.set_rcode(dns.rcode.NOTIMP)
        else:
            dnssec = query.edns == 0 and bool(query.ednsflags & dns.flags.DO)
            if dnssec:
                response.want_dnssec(True)  # RFC 3225 section 3: the DO bit is copied back
            result = self._lookup(qname, rdtype, dnssec)
            response.flags |= dns.flags.AA
            response.set_rcode(result.rcode)
            response.answer = result.answer
            response.authority = result.authority
        reply = self._to_wire(response, query, transport)
        if fault is Fault.NONE and len(wire) <= _CACHEABLE_QUERY:
            if len(self._answers) >= _ANSWER_CACHE_SIZE:
                self._answers.clear()  # crude but bounded; benchmarks repeat few questions
            self._answers[cache_key] = _Cached(reply[2:], zone.key if zone else None, logged)
        return _Reply(reply, self._delay + extra)

    def _account(self, logged: LoggedQuery, zone: _Key | None) -> tuple[Fault, float]:
        """Count and log one query; return the fault and extra delay of its zone, if any."""
        with self._lock:
            self._queries_served += 1
            self._query_log.append(logged)
            if zone is None:
                return Fault.NONE, 0.0
            return self._faults.get(zone, Fault.NONE), self._slow.get(zone, 0.0)

    @staticmethod
    def _to_wire(
        response: dns.message.Message, query: dns.message.Message, transport: str
    ) -> bytes:
        """Render ``response``; if it does not fit the UDP limit, send TC with no records.

        The limit is 512 bytes without EDNS, else the client's advertised size capped at
        :data:`EDNS_PAYLOAD`. An empty TC answer (rather than a partial RRset) makes clients
        retry over TCP instead of trusting a cut-down SPF or DKIM record.
        """
        if transport == "tcp":
            limit = 65535
        elif query.edns >= 0:
            limit = min(max(query.payload, _CLASSIC_UDP_LIMIT), EDNS_PAYLOAD)
        else:
            limit = _CLASSIC_UDP_LIMIT
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer = []
            response.authority = []
            response.additional = []
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)

    def _served_origin(self, origin: str | dns.name.Name) -> _Key:
        key = _key(_to_name(origin))
        if key not in self._zones:
            raise ValueError(f"{origin} is not a zone origin served here: {list(self.zones)}")
        return key

    def _find_zone(self, key: _Key) -> _ServedZone | None:
        """The served zone with the longest origin that contains the name ``key``."""
        for start in range(len(key)):
            zone = self._zones.get(key[start:])
            if zone is not None:
                return zone
        return None

    def _lookup(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, dnssec: bool = False
    ) -> _Answer:
        """Authoritative resolution of ``qname``/``rdtype`` across the served zones.

        CNAMEs are chased while the target lies in a served zone; the rcode is that of the last
        name looked up (RFC 6604). A chain that loops or exceeds :data:`MAX_CNAME_CHAIN` ends
        with the CNAMEs found so far and NOERROR, which resolvers report as a failed chain.

        A DS question for a zone's apex is answered from its parent zone when the lab serves
        that too (RFC 4035 section 3.1.4.1: DS lives on the parent side of the cut). With
        ``dnssec`` (the DO bit), each RRset comes with its RRSIGs and a negative answer with the
        SOA's RRSIGs and the NSEC (or NSEC3, RFC 5155 section 7.2) records that prove it (RFC
        4035 section 3.1); an unsigned zone has none to add.
        """
        answer: list[dns.rrset.RRset] = []
        proofs: list[dns.rrset.RRset] = []  # for wildcard answers (RFC 4035 section 3.1.3.3)
        name = qname
        key = _key(qname)
        seen = {key}

        def negative(zone: _ServedZone, rcode: dns.rcode.Rcode) -> _Answer:
            authority = [zone.negative_soa]
            if dnssec:
                sigs = zone.signatures(zone.negative_soa, zone.origin)
                authority += [sigs] if sigs is not None else []
                authority += zone.nsec_proof(name, rcode == dns.rcode.NXDOMAIN)
            return _Answer(rcode, answer, authority)

        for _ in range(MAX_CNAME_CHAIN + 1):
            zone = self._find_zone(key)
            if zone is None:  # CNAME out of our zones: the resolver continues from here
                return _Answer(dns.rcode.NOERROR, answer, [])
            if rdtype == dns.rdatatype.DS and key == zone.key and key:
                zone = self._find_zone(key[1:]) or zone
            records = zone.records.get(key)
            synthesised = records is None and key not in zone.existing
            if synthesised:
                records = self._wildcard(zone, key)
                if records is None:
                    return negative(zone, dns.rcode.NXDOMAIN)
            if not records:  # empty non-terminal
                return negative(zone, dns.rcode.NOERROR)
            found: dns.rrset.RRset | None
            if rdtype == dns.rdatatype.ANY:
                found = records[min(records)]
            else:
                found = records.get(rdtype)
                if found is None:
                    found = records.get(dns.rdatatype.CNAME)
            if found is None:
                return negative(zone, dns.rcode.NOERROR)
            answer.append(self._owned_by(found, name) if synthesised else found)
            if dnssec:
                sigs = zone.signatures(found, name)
                if sigs is not None:
                    answer.append(sigs)
                    if synthesised:  # the proof that no closer name matched
                        proofs += [p for p in zone.nsec_proof(name, False) if p not in proofs]
            if found.rdtype != dns.rdatatype.CNAME or rdtype in (
                dns.rdatatype.CNAME,
                dns.rdatatype.ANY,
            ):
                return _Answer(dns.rcode.NOERROR, answer, proofs)
            name = found[0].target
            key = _key(name)
            if key in seen:
                break
            seen.add(key)
        return _Answer(dns.rcode.NOERROR, answer, proofs)

    @staticmethod
    def _owned_by(rrset: dns.rrset.RRset, name: dns.name.Name) -> dns.rrset.RRset:
        """A copy of the wildcard's ``rrset`` owned by the query name (RFC 4592 section 3.3.1)."""
        synthesised = copy.copy(rrset)
        synthesised.name = name
        return synthesised

    @staticmethod
    def _wildcard(zone: _ServedZone, key: _Key) -> _RRsets | None:
        """The records of the RFC 4592 source of synthesis for a missing name, if there is one.

        The closest encloser is the longest existing ancestor (empty non-terminals count); only
        ``*.<closest encloser>`` may match, so ``a.sub.example`` is NXDOMAIN when ``sub.example``
        exists without a wildcard below it, even if ``*.example`` exists.
        """
        start = 1
        while key[start:] not in zone.existing:  # the origin always exists: this terminates
            start += 1
        return zone.records.get((b"*", *key[start:]))
