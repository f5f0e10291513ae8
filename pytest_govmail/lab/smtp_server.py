"""SMTP servers with STARTTLS for the demo lab, the collector's tests and the TLS benchmark.

Each :class:`LabSmtpServer` plays one sample MX host on its own loopback address (all of
127.0.0.0/8 reaches loopback on Linux) and a port of the caller's choosing, behaving the way one
:class:`SmtpProfile` says: compliant, old TLS versions enabled, weak suites, a bad certificate,
no STARTTLS, a 554 greeting, silence, 421 throttling, or STARTTLS answered with 454; and the
fault lab's hostile behaviours (issue 5): a greeting dripped one byte a second and never ended,
a connection dropped on EHLO, non-TLS data instead of a ServerHello after STARTTLS's 220, reply
lines of 2 MiB (in the greeting or in the EHLO reply), 421 on every other connection, and (kept
out of :data:`PROFILES`, it costs a timeout per handshake) a handshake dripped a byte a second.

Design, and why:

* Plain blocking sockets, one daemon thread per connection (bounded in number). asyncio's SSL
  transport drops the TLS alert OpenSSL produces when a server-side handshake fails, so a client
  would see "unexpected EOF" instead of ``protocol_version``; ``SSLSocket.do_handshake`` on a
  blocking socket writes the alert before it raises. After a failed handshake the server stops
  sending, drains what the client still sends (briefly) and closes, so the alert is not lost to
  a TCP reset.
* One accept thread multiplexes the listener and a wake-up socket with :mod:`selectors`, so
  :meth:`LabSmtpServer.stop` is immediate; connections are woken by ``shutdown``.
* Lines are bounded (:data:`MAX_LINE`), every read has the idle timeout, and a client that
  trickles bytes is cut off at the idle deadline per line.
* The hostile behaviours stay cheap for the lab itself: the 2 MiB line is streamed from one
  shared 64 KiB buffer (so a memory measurement of the client is not the server's), the drip
  notices at once when the client hangs up, and both stop at :meth:`LabSmtpServer.stop`.
* It speaks just enough SMTP for sslyze's STARTTLS helper (smtplib), the project's collector and
  a basic client: the greeting, EHLO/HELO, STARTTLS, NOOP, RSET, QUIT; anything else is 502.
  Plaintext buffered when STARTTLS is accepted is discarded (no command injection).
* Counters and a bounded per-connection log (:class:`ConnectionRecord`) let tests and the bench
  count connections and handshakes as the server saw them.
* The shared-provider shape (:func:`shared_provider`): many tenant MX names on one address, as
  Microsoft 365 and Proofpoint give their customers. The server routes each handshake by the
  ClientHello's SNI, read with ``MSG_PEEK`` before OpenSSL sees it (as an SNI-routing front end
  does): a name in ``sni_contexts`` gets that context (its own certificate, or a different TLS
  server behind the same address, with other versions and suites), or, mapped to None, a TCP
  reset (a router with no backend for it); any other name the default.

What this machine's OpenSSL (3.0) can serve, and so what the profiles use: TLS 1.0 to 1.3
(TLS 1.0/1.1 only at ``@SECLEVEL=0``), static-RSA suites, CBC-SHA1 suites, NULL and anonymous
suites; it cannot serve 3DES, RC4, DES, EXPORT suites, SSL 2.0 or SSL 3.0, and TLS 1.3 suites
cannot be restricted from Python (all three defaults are served). The weak-suites profile
therefore offers static RSA and CBC-SHA1 but no 3DES. OpenSSL has no per-version cipher list,
so the TLS 1.0/1.1 profile's CBC-SHA1 suites are accepted at TLS 1.2 as well.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import enum
import errno
import logging
import selectors
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from pytest_govmail.lab.lifecycle import LabServerLifecycle, StartStop, tcp_listener
from pytest_govmail.lab.pki import KeySpec, LabPki, SignatureHash

__all__ = [
    "BANNER_554",
    "COMPLIANT",
    "COMPLIANT_SUITES",
    "DROP_AFTER_EHLO",
    "EXPIRED_CERT",
    "GARBAGE_AFTER_STARTTLS",
    "HUGE_EHLO_LINE",
    "HUGE_GREETING_LINE",
    "LAB_ADDRESSES",
    "LEGACY_TLS",
    "MAX_LINE",
    "MISSING_INTERMEDIATE",
    "NO_STARTTLS",
    "POSTSCREEN",
    "PROFILES",
    "SELF_SIGNED",
    "SHARED_PROVIDER_ADDRESS",
    "SHARED_PROVIDER_HOST",
    "SHARED_PROVIDER_OTHER_SERVER",
    "SHARED_PROVIDER_OWN_CERT",
    "SILENT",
    "SLOW_BANNER",
    "SLOW_HANDSHAKE",
    "STARTTLS_454",
    "STARTTLS_GARBAGE",
    "THROTTLED",
    "THROTTLING",
    "THROTTLING_ALTERNATE",
    "WEAK_SUITES",
    "WRONG_HOSTNAME",
    "ConnectionRecord",
    "EhloReply",
    "Greeting",
    "LabMx",
    "LabSmtpFleet",
    "LabSmtpServer",
    "LeafSpec",
    "SmtpProfile",
    "SniRoute",
    "StartTls",
    "shared_provider",
    "shared_provider_tenants",
    "shared_provider_zones",
]

_log = logging.getLogger(__name__)

#: Longest command line accepted (RFC 5321 section 4.5.3.1.4 says 512 octets with CRLF).
MAX_LINE = 1000
_RECV = 4096
_DRAIN_SECONDS = 1.0
_DRAIN_BYTES = 65536
_BIND_ATTEMPTS = 50
#: What the 2 MiB lines are made of: one buffer, sent again and again (never copied).
_FILLER = b"x" * 65536
#: What a :attr:`StartTls.GARBAGE` server sends instead of a ServerHello: a web server's answer,
#: with an escape sequence and a NUL in it (the evidence must show them escaped).
GARBAGE_AFTER_STARTTLS = (
    b"HTTP/1.1 400 Bad Request\r\nServer: lab\x1b[31m\x00\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)


class Greeting(enum.Enum):
    """What the server does when a client connects."""

    NORMAL = "normal"
    """``220 <host> ESMTP``."""
    REJECT_554 = "554"
    """``554`` (no service here); then only QUIT is answered properly (RFC 5321 3.1)."""
    SILENT = "silent"
    """Accept the TCP connection and never send a byte (a tarpit, a broken filter)."""
    DRIP = "drip"
    """Send ``220 `` and then one byte every ``drip_interval`` seconds, forever, never a line
    end (a tarpit that keeps the client waiting on a greeting that never completes)."""
    HUGE_LINE = "huge-line"
    """A ``220-`` continuation line of ``huge_line_bytes`` bytes, then the normal greeting."""
    PREGREET = "pregreet"
    """Postfix postscreen's pregreet test: ``220-<host> ESMTP`` at once, the rest of the
    greeting only after ``greet_wait`` seconds (``postscreen_greet_wait``, 6 s by default). A
    client that speaks before then is answered ``521`` and dropped, as postscreen's ``drop``
    action does; one that waits is remembered (postscreen's cache of passed clients), and its
    later connections are handed straight to the server (a plain ``220`` at once)."""


class StartTls(enum.Enum):
    """Whether STARTTLS is advertised in EHLO and what the STARTTLS command gets."""

    OFFERED = "offered"
    NOT_OFFERED = "not-offered"
    """Not in EHLO; the command gets 502."""
    REFUSED_454 = "454"
    """Advertised, but the command gets ``454 4.7.0 TLS not available``."""
    GARBAGE = "garbage"
    """Advertised and answered ``220``, but the client's ClientHello is answered with
    ``garbage`` (non-TLS bytes: by default a web server's ``HTTP/1.1 400``), then the server
    closes."""
    DRIP = "drip"
    """Advertised and answered ``220``; the ClientHello is answered with the header of a 4 KiB
    TLS handshake record and then one byte every ``drip_interval`` seconds, forever (a
    handshake that never completes, though every read gets data)."""


class EhloReply(enum.Enum):
    """What the server does with EHLO."""

    NORMAL = "normal"
    """The capabilities (STARTTLS as :class:`StartTls` says)."""
    DROP = "drop"
    """Read the EHLO and close the connection without a reply."""
    HUGE_LINE = "huge-line"
    """A ``250-`` line of ``huge_line_bytes`` bytes, then the normal reply."""


@dataclass(frozen=True, slots=True)
class LeafSpec:
    """The certificate a server presents, relative to the time the server is built.

    ``names`` empty means the server's own host name. Days are relative to now: the default is
    valid from yesterday for 90 days (so CERT-04's 30-day warning does not fire).
    """

    names: tuple[str, ...] = ()
    key: KeySpec = KeySpec.RSA_2048
    signature_hash: SignatureHash = SignatureHash.SHA256
    valid_from_days: float = -1.0
    valid_until_days: float = 90.0
    self_signed: bool = False
    include_intermediate: bool = True


#: TLS 1.2 suites of the compliant profile, in server preference order (OpenSSL names; all are
#: NCSC-recommended ECDHE with AEAD). With an RSA certificate these are exactly the suites served.
COMPLIANT_SUITES: tuple[str, ...] = (
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
)


@dataclass(frozen=True, slots=True)
class SmtpProfile:
    """How one lab MX behaves. ``ciphers`` are OpenSSL names for TLS 1.2 and below, in server
    preference order (the server enforces its own order); TLS 1.3 always serves OpenSSL's three
    default suites when ``maximum_version`` allows it. ``throttle_every`` = N answers every Nth
    connection (1 = every connection) with ``421`` and closes it. ``ehlo`` says how EHLO is
    answered; ``drip_interval`` (seconds per byte of a :attr:`Greeting.DRIP` greeting),
    ``huge_line_bytes`` (the length of a ``HUGE_LINE`` line) and ``garbage`` (what a
    :attr:`StartTls.GARBAGE` server sends) tune the hostile behaviours; ``greet_wait`` is a
    :attr:`Greeting.PREGREET` server's wait before it completes its greeting; ``dh_bits`` loads
    DH parameters of that size (DHE and anonymous DH suites need them)."""

    name: str
    description: str = ""
    greeting: Greeting = Greeting.NORMAL
    starttls: StartTls = StartTls.OFFERED
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    ciphers: tuple[str, ...] = COMPLIANT_SUITES
    leaf: LeafSpec = LeafSpec()
    throttle_every: int = 0
    allow_client_renegotiation: bool = False
    ehlo: EhloReply = EhloReply.NORMAL
    drip_interval: float = 1.0
    huge_line_bytes: int = 2 * 1024 * 1024
    garbage: bytes = GARBAGE_AFTER_STARTTLS
    greet_wait: float = 6.0
    dh_bits: int | None = None

    @property
    def needs_tls(self) -> bool:
        """Whether a session can ever reach a TLS handshake (so a certificate is needed)."""
        return (
            self.greeting in (Greeting.NORMAL, Greeting.HUGE_LINE, Greeting.PREGREET)
            and self.ehlo is not EhloReply.DROP
            and self.starttls is StartTls.OFFERED
            and self.throttle_every != 1
        )


COMPLIANT = SmtpProfile("compliant", "TLS 1.2 and 1.3, NCSC-recommended suites, valid chain")
LEGACY_TLS = SmtpProfile(
    "legacy-tls",
    "TLS 1.0 and 1.1 enabled as well (with the CBC-SHA1 suites they need)",
    minimum_version=ssl.TLSVersion.TLSv1,
    ciphers=(*COMPLIANT_SUITES, "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA"),
)
WEAK_SUITES = SmtpProfile(
    "weak-suites",
    "TLS 1.2 also accepts static-RSA and CBC-SHA1 suites (no 3DES: this OpenSSL lacks it)",
    ciphers=(
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-SHA",
        "AES256-GCM-SHA384",
        "AES128-SHA",
    ),
)
EXPIRED_CERT = SmtpProfile(
    "expired-cert",
    "certificate expired ten days ago",
    leaf=LeafSpec(valid_from_days=-100.0, valid_until_days=-10.0),
)
WRONG_HOSTNAME = SmtpProfile(
    "wrong-hostname",
    "certificate names another host",
    leaf=LeafSpec(names=("smtp.unrelated-host.example",)),
)
SELF_SIGNED = SmtpProfile("self-signed", "self-signed certificate", leaf=LeafSpec(self_signed=True))
MISSING_INTERMEDIATE = SmtpProfile(
    "missing-intermediate",
    "serves the leaf without its intermediate",
    leaf=LeafSpec(include_intermediate=False),
)
NO_STARTTLS = SmtpProfile(
    "no-starttls", "STARTTLS is not advertised", starttls=StartTls.NOT_OFFERED
)
BANNER_554 = SmtpProfile("banner-554", "greets with 554", greeting=Greeting.REJECT_554)
SILENT = SmtpProfile("silent", "accepts TCP, never sends a banner", greeting=Greeting.SILENT)
THROTTLED = SmtpProfile("throttled", "answers every connection with 421", throttle_every=1)
THROTTLING = SmtpProfile("throttling", "answers every third connection with 421", throttle_every=3)
STARTTLS_454 = SmtpProfile(
    "starttls-454", "advertises STARTTLS, answers it with 454", starttls=StartTls.REFUSED_454
)
# The fault lab (issue 5). A silent server, 454 to STARTTLS, a 554 greeting and 421 on every
# connection are above.
SLOW_BANNER = SmtpProfile(
    "slow-banner",
    "sends '220 ' then one byte a second, forever, never a line end",
    greeting=Greeting.DRIP,
)
DROP_AFTER_EHLO = SmtpProfile(
    "drop-after-ehlo", "closes the connection on EHLO without a reply", ehlo=EhloReply.DROP
)
STARTTLS_GARBAGE = SmtpProfile(
    "starttls-garbage",
    "answers STARTTLS with 220, then the ClientHello with HTTP text instead of a ServerHello",
    starttls=StartTls.GARBAGE,
)
HUGE_GREETING_LINE = SmtpProfile(
    "huge-greeting-line",
    "a 2 MiB '220-' greeting line before the real greeting",
    greeting=Greeting.HUGE_LINE,
)
HUGE_EHLO_LINE = SmtpProfile(
    "huge-ehlo-line", "a 2 MiB '250-' line in the EHLO reply", ehlo=EhloReply.HUGE_LINE
)
THROTTLING_ALTERNATE = SmtpProfile(
    "throttling-alternate", "answers every other connection with 421", throttle_every=2
)
#: Not in :data:`PROFILES` (so not in the demo, the bench or the all-profiles scans): every
#: version probe against it costs a whole handshake timeout.
SLOW_HANDSHAKE = SmtpProfile(
    "slow-handshake",
    "answers the ClientHello with a TLS record header, then one byte a second, forever",
    starttls=StartTls.DRIP,
)
#: Postfix's postscreen in front of the server (issue 19): ``220-`` at once, the greeting
#: completed after 6 s (``postscreen_greet_wait``'s default). Not in :data:`PROFILES`: its first
#: connection costs the wait.
POSTSCREEN = SmtpProfile(
    "postscreen",
    "postscreen-like: '220-' at once, the greeting completed after a 6 s pregreet wait",
    greeting=Greeting.PREGREET,
)

PROFILES: Mapping[str, SmtpProfile] = {
    p.name: p
    for p in (
        COMPLIANT,
        LEGACY_TLS,
        WEAK_SUITES,
        EXPIRED_CERT,
        WRONG_HOSTNAME,
        SELF_SIGNED,
        MISSING_INTERMEDIATE,
        NO_STARTTLS,
        BANNER_554,
        SILENT,
        THROTTLED,
        THROTTLING,
        STARTTLS_454,
        SLOW_BANNER,
        DROP_AFTER_EHLO,
        STARTTLS_GARBAGE,
        HUGE_GREETING_LINE,
        HUGE_EHLO_LINE,
        THROTTLING_ALTERNATE,
    )
}

#: A loopback address per profile (127.0.4.0/24 is unused by the lab's zones so far), for the
#: demo and the tests; any 127.x.y.z works.
LAB_ADDRESSES: Mapping[str, str] = {
    name: f"127.0.4.{10 + index}" for index, name in enumerate(PROFILES)
}


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """What happened on one connection, logged when it ends."""

    number: int
    peer: tuple[str, int]
    greeting: int | None
    commands: tuple[str, ...]
    handshake_attempted: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    tls_error: str | None = None
    seconds: float = 0.0
    sni: str | None = None


class _Closed(Exception):
    """The client went away, timed out, or the server is stopping."""


class _Channel:
    """Bounded line reading over a socket that may be swapped for its TLS wrapper."""

    __slots__ = ("_buffer", "_idle", "sock")

    def __init__(self, sock: socket.socket, idle: float) -> None:
        self.sock = sock
        self._idle = idle
        self._buffer = b""

    def discard_buffer(self) -> int:
        dropped = len(self._buffer)
        self._buffer = b""
        return dropped

    def readline(self) -> bytes:
        """One line without CRLF; ``_Closed`` on EOF/timeout, ``ValueError`` if too long."""
        deadline = time.monotonic() + self._idle
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ValueError("line too long")
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Closed("idle timeout")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(_RECV)
            except (TimeoutError, OSError) as exc:
                raise _Closed(str(exc)) from exc
            if not chunk:
                raise _Closed("EOF")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        return line.rstrip(b"\r")

    def send(self, text: str) -> None:
        self.send_bytes(text.encode("ascii", "replace"))

    def send_bytes(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _Closed(str(exc)) from exc

    def wait_quiet(self, seconds: float) -> bool | None:
        """Wait ``seconds`` for the client to say nothing: False if it stayed quiet, True if it
        sent something (kept for the dialogue), None if it hung up."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(_RECV)
            except TimeoutError:
                return False
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
            return True
        return False

    def closed_within(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the client to hang up (what it sends is discarded)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(_RECV)
            except TimeoutError:
                return False
            except OSError:
                return True
            if not chunk:
                return True


class LabSmtpServer(LabServerLifecycle[_Channel]):
    """An SMTP server with STARTTLS on one loopback address, behaving as ``profile`` says.

    Use as a context manager (or call :meth:`start` and :meth:`stop`)::

        pki = LabPki()
        with LabSmtpServer(COMPLIANT, hostname="mx.example-dept.gov.uk", pki=pki,
                           host="127.0.4.10") as server:
            address, port = server.address

    The certificate is issued from ``pki`` for ``hostname`` as ``profile.leaf`` says, unless a
    ready ``context`` is given. ``port=0`` picks a free port. ``idle_timeout`` bounds every wait
    for the client (per line, per handshake); at most ``max_connections`` are served at once
    (more get ``421`` and are closed).
    """

    _name: ClassVar[str] = "LabSmtpServer"

    def __init__(
        self,
        profile: SmtpProfile,
        *,
        hostname: str,
        pki: LabPki | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        context: ssl.SSLContext | None = None,
        idle_timeout: float = 10.0,
        max_connections: int = 64,
        log_size: int = 10_000,
        sni_contexts: Mapping[str, ssl.SSLContext | None] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        if profile.throttle_every < 0:
            raise ValueError("throttle_every must be >= 0")
        if profile.drip_interval <= 0 or profile.huge_line_bytes < 0:
            raise ValueError("drip_interval must be > 0 and huge_line_bytes >= 0")
        self.profile = profile
        self.hostname = hostname
        self._host = host
        self._requested_port = port
        self._port = 0
        self._idle = idle_timeout
        self._max_connections = max_connections
        self._context = context
        #: Lower-case SNI name -> the TLS server behind the address for that name.
        self._sni_contexts = {k.lower(): v for k, v in (sni_contexts or {}).items()}
        if self._context is None and profile.needs_tls:
            if pki is None:
                raise ValueError(f"profile {profile.name!r} serves TLS: pass pki= or context=")
            self._context = _context_for(profile, hostname, pki)

        self._lock = threading.Lock()  # counters and log
        self._connections = 0
        self._handshakes = 0
        self._handshakes_completed = 0
        self._peak = 0
        self._log: collections.deque[ConnectionRecord] = collections.deque(maxlen=log_size)
        self._passed: set[str] = set()  # clients that passed a PREGREET test

        super().__init__()
        self._listener: socket.socket | None = None
        self._conns: dict[int, tuple[_Channel, threading.Thread]] = {}
        self._conns_lock = threading.Lock()
        self._idle_cond = threading.Condition(self._conns_lock)

    # ----------------------------------------------------------------- public API

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (or the last :meth:`reset_stats`)."""
        with self._lock:
            return self._connections

    @property
    def handshakes(self) -> int:
        """TLS handshakes started after STARTTLS (completed or not; renegotiations excluded)."""
        with self._lock:
            return self._handshakes

    @property
    def handshakes_completed(self) -> int:
        with self._lock:
            return self._handshakes_completed

    @property
    def peak_connections(self) -> int:
        """The most connections served at the same time (politeness checks)."""
        with self._lock:
            return self._peak

    @property
    def connection_log(self) -> list[ConnectionRecord]:
        """The most recent finished connections, oldest first (see :meth:`wait_idle`)."""
        with self._lock:
            return list(self._log)

    def reset_stats(self) -> None:
        with self._lock:
            self._connections = 0
            self._handshakes = 0
            self._handshakes_completed = 0
            self._peak = 0
            self._log.clear()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is being served (so the log is complete); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle_cond:
            while self._conns:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle_cond.wait(left)
        return True

    def __repr__(self) -> str:
        port = self._port or self._requested_port
        return (
            f"<LabSmtpServer {self.profile.name} {self.hostname} {self._host}:{port} {self._state}>"
        )

    # ----------------------------------------------------------------- sockets and threads

    def _open_sockets(self) -> list[socket.socket]:
        self._listener = tcp_listener(self._host, self._requested_port)
        self._port = self._listener.getsockname()[1]
        return [self._listener]

    def _serving_threads(self) -> list[threading.Thread]:
        name = f"lab-smtp-{self._host}:{self._port}"
        return [threading.Thread(target=self._accept_loop, name=name, daemon=True)]

    def _open_connections(self) -> list[tuple[_Channel, threading.Thread]]:
        with self._conns_lock:
            return list(self._conns.values())

    def _interrupt(self, conn: _Channel) -> None:
        """Shut down the channel's socket as it is now: after STARTTLS, its TLS wrapper."""
        conn.sock.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stop_event.is_set():
                for key, _ in selector.select():
                    if key.data == "accept":
                        try:
                            self._accept(self._listener)
                        except Exception:
                            _log.debug("lab SMTP: accept failed", exc_info=True)

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, peer = listener.accept()
        except OSError:
            return
        conn.setblocking(True)
        with self._lock:
            self._connections += 1
            number = self._connections
        with self._conns_lock:
            if self._stop_event.is_set() or len(self._conns) >= self._max_connections:
                with contextlib.suppress(OSError):
                    conn.sendall(f"421 4.7.0 {self.hostname} too many connections\r\n".encode())
                conn.close()
                return
            channel = _Channel(conn, self._idle)
            thread = threading.Thread(
                target=self._serve,
                args=(channel, number, (str(peer[0]), int(peer[1]))),
                name=f"lab-smtp-{self._host}:{self._port}-conn",
                daemon=True,
            )
            self._conns[number] = (channel, thread)
            active = len(self._conns)
        with self._lock:
            self._peak = max(self._peak, active)
        try:
            thread.start()
        except RuntimeError:
            with self._conns_lock:
                self._conns.pop(number, None)
            conn.close()
            raise

    def _serve(self, channel: _Channel, number: int, peer: tuple[str, int]) -> None:
        started = time.monotonic()
        session = _Session(number=number, peer=peer)
        conn = channel.sock
        try:
            self._converse(channel, session)
        except (_Closed, OSError):
            pass
        except Exception:  # a bug must cost one connection, not the server
            _log.debug("lab SMTP: connection %d failed", number, exc_info=True)
        finally:
            with contextlib.suppress(OSError):
                channel.sock.close()
            with contextlib.suppress(OSError):
                conn.close()
            record = session.record(time.monotonic() - started)
            with self._lock:
                self._log.append(record)
            with self._idle_cond:
                self._conns.pop(number, None)
                self._idle_cond.notify_all()

    # ----------------------------------------------------------------- the SMTP dialogue

    def _converse(self, channel: _Channel, session: _Session) -> None:
        profile = self.profile
        host = self.hostname
        if profile.throttle_every and session.number % profile.throttle_every == 0:
            session.greeting = 421
            channel.send(f"421 4.7.0 {host} too many connections, try again later\r\n")
            return
        if profile.greeting is Greeting.SILENT:
            self._drain(channel.sock, self._idle)
            return
        if profile.greeting is Greeting.REJECT_554:
            session.greeting = 554
            channel.send(f"554 5.3.2 {host} no SMTP service here\r\n")
            while True:
                verb = self._next_verb(channel, session)
                if verb == "QUIT":
                    channel.send(f"221 2.0.0 {host} closing connection\r\n")
                    return
                channel.send("503 5.5.1 no SMTP service here\r\n")
        if profile.greeting is Greeting.DRIP:
            self._drip(channel)
            return
        if profile.greeting is Greeting.HUGE_LINE:
            self._send_huge_line(channel, "220-")
        if profile.greeting is Greeting.PREGREET and not self._pregreet(channel, session):
            return
        session.greeting = 220
        channel.send(f"220 {host} ESMTP govmail lab\r\n")
        in_tls = False
        while True:
            verb = self._next_verb(channel, session)
            if verb == "EHLO":
                if profile.ehlo is EhloReply.DROP:
                    return  # close without a reply
                if profile.ehlo is EhloReply.HUGE_LINE:
                    self._send_huge_line(channel, "250-")
                lines = [f"{host} greets you", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"]
                if not in_tls and profile.starttls is not StartTls.NOT_OFFERED:
                    lines.append("STARTTLS")
                text = "".join(f"250-{line}\r\n" for line in lines[:-1])
                channel.send(f"{text}250 {lines[-1]}\r\n")
            elif verb == "HELO":
                channel.send(f"250 {host}\r\n")
            elif verb in ("NOOP", "RSET"):
                channel.send("250 2.0.0 OK\r\n")
            elif verb == "QUIT":
                channel.send(f"221 2.0.0 {host} closing connection\r\n")
                return
            elif verb == "STARTTLS" and not in_tls:
                if profile.starttls is StartTls.NOT_OFFERED:
                    channel.send("502 5.5.1 STARTTLS not supported\r\n")
                elif profile.starttls is StartTls.REFUSED_454:
                    channel.send("454 4.7.0 TLS not available due to temporary reason\r\n")
                elif profile.starttls in (StartTls.GARBAGE, StartTls.DRIP):
                    channel.send("220 2.0.0 Ready to start TLS\r\n")
                    channel.discard_buffer()
                    self._answer_hello_badly(channel, session)
                    return
                else:
                    channel.send("220 2.0.0 Ready to start TLS\r\n")
                    channel.discard_buffer()  # plaintext sent before the handshake is dropped
                    self._handshake(channel, session)
                    in_tls = True
            elif verb == "STARTTLS":
                channel.send("503 5.5.1 TLS already active\r\n")
            else:
                channel.send("502 5.5.2 command not implemented\r\n")

    def _pregreet(self, channel: _Channel, session: _Session) -> bool:
        """postscreen's pregreet test: ``220-`` now, silence for ``greet_wait``; whether the
        client passed (it said nothing). Passed clients skip the test on later connections."""
        peer = session.peer[0]
        with self._lock:
            if peer in self._passed:
                return True
        channel.send(f"220-{self.hostname} ESMTP govmail lab (postscreen-like)\r\n")
        early = channel.wait_quiet(self.profile.greet_wait)
        if early is None:
            raise _Closed("client left during the pregreet wait")
        if early:
            session.greeting = 521
            channel.send("521 5.5.1 Protocol error: client talked before its turn\r\n")
            return False
        with self._lock:
            self._passed.add(peer)
        return True

    def forget_clients(self) -> None:
        """Forget the clients that passed the pregreet test (each is tested again)."""
        with self._lock:
            self._passed.clear()

    def _drip(self, channel: _Channel, text: bytes | None = None) -> None:
        """``220 `` and then one byte of ``text`` (by default one without a line end) per
        ``drip_interval``, until the client or the server gives up."""
        if text is None:
            channel.send("220 ")
            text = f"{self.hostname} ESMTP govmail lab, one byte at a time ".encode(
                "ascii", "replace"
            )
        index = 0
        while not channel.closed_within(self.profile.drip_interval):
            if self._stop_event.is_set():
                return
            channel.send_bytes(text[index : index + 1])
            index = (index + 1) % len(text)

    def _send_huge_line(self, channel: _Channel, prefix: str) -> None:
        """``prefix`` and ``huge_line_bytes`` filler bytes, then CRLF, streamed in 64 KiB chunks."""
        channel.sock.settimeout(self._idle)  # a client that stops reading costs one idle wait
        channel.send(prefix)
        left = self.profile.huge_line_bytes
        while left > 0:
            if self._stop_event.is_set():
                raise _Closed("stopping")
            chunk = _FILLER if left >= len(_FILLER) else _FILLER[:left]
            channel.send_bytes(chunk)
            left -= len(chunk)
        channel.send("\r\n")

    def _answer_hello_badly(self, channel: _Channel, session: _Session) -> None:
        """After STARTTLS's 220: wait for the ClientHello, then answer it with non-TLS bytes and
        close (``GARBAGE``), or drip a TLS record that never ends (``DRIP``)."""
        sock = channel.sock
        sock.settimeout(self._idle)
        try:
            hello = sock.recv(_RECV)
        except OSError as exc:
            raise _Closed(str(exc)) from exc
        if not hello:
            raise _Closed("EOF")
        with self._lock:
            self._handshakes += 1  # the client started one; the server's answer ends it
        session.handshake_attempted = True
        if self.profile.starttls is StartTls.DRIP:
            session.tls_error = "answered the ClientHello with a record that never ends"
            channel.send_bytes(b"\x16\x03\x03\x10\x00")  # a 4 KiB handshake record follows...
            self._drip(channel, b"\x02")  # ...a byte at a time
            return
        session.tls_error = "answered the ClientHello with non-TLS data"
        channel.send_bytes(self.profile.garbage)
        # As after a failed handshake: stop sending, let the client read, then close.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        self._drain(sock, _DRAIN_SECONDS)

    def _next_verb(self, channel: _Channel, session: _Session) -> str:
        try:
            line = channel.readline()
        except ValueError:
            channel.send("500 5.5.2 line too long\r\n")
            raise _Closed("line too long") from None
        verb = line.split(b" ", 1)[0].decode("ascii", "replace").upper()[:16]
        if len(session.commands) < 64:
            session.commands.append(verb)
        return verb

    def _handshake(self, channel: _Channel, session: _Session) -> None:
        assert self._context is not None
        with self._lock:
            self._handshakes += 1
        session.handshake_attempted = True
        context = self._context
        if self._sni_contexts:
            session.sni = _peek_server_name(channel.sock, self._idle)
            routed = self._sni_contexts.get(session.sni or "", context)
            if routed is None:  # no backend for this name: reset the connection
                channel.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                session.tls_error = "reset by the SNI router"
                raise _Closed("reset by the SNI router")
            context = routed
        tls = context.wrap_socket(channel.sock, server_side=True, do_handshake_on_connect=False)
        channel.sock = tls
        tls.settimeout(self._idle)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            # OpenSSL has already written its alert to the socket: stop sending, let the
            # client read it, and close only once the client has gone (or after a moment).
            session.tls_error = str(exc)[:200]
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_WR)
            self._drain(tls, _DRAIN_SECONDS)
            raise _Closed("handshake failed") from exc
        with self._lock:
            self._handshakes_completed += 1
        session.tls_version = tls.version()
        cipher = tls.cipher()
        session.cipher = cipher[0] if cipher else None

    def _drain(self, sock: socket.socket, seconds: float) -> None:
        """Read and discard until EOF, ``seconds`` or :data:`_DRAIN_BYTES`, whichever is first."""
        deadline = time.monotonic() + seconds
        received = 0
        while received < _DRAIN_BYTES and not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                sock.settimeout(min(left, 0.5))
                chunk = socket.socket.recv(sock, _RECV)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            received += len(chunk)


@dataclass(slots=True)
class _Session:
    number: int
    peer: tuple[str, int]
    greeting: int | None = None
    commands: list[str] = dataclasses.field(default_factory=list)
    handshake_attempted: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    tls_error: str | None = None
    sni: str | None = None

    def record(self, seconds: float) -> ConnectionRecord:
        return ConnectionRecord(
            number=self.number,
            peer=self.peer,
            greeting=self.greeting,
            commands=tuple(self.commands),
            handshake_attempted=self.handshake_attempted,
            tls_version=self.tls_version,
            cipher=self.cipher,
            tls_error=self.tls_error,
            seconds=round(seconds, 4),
            sni=self.sni,
        )


#: The largest ClientHello record read ahead for its SNI (a TLS record is at most 16 KiB).
_HELLO_MAX = 5 + 16384


def _peek_server_name(sock: socket.socket, timeout: float) -> str | None:
    """The SNI host name of the ClientHello waiting on ``sock``, read without consuming it
    (``MSG_PEEK``), or None (no SNI, not a TLS ClientHello, or not complete in ``timeout``)."""
    deadline = time.monotonic() + timeout
    want = 5
    data = b""
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            sock.settimeout(left)
            data = sock.recv(want, socket.MSG_PEEK)
        except OSError:
            return None
        if not data:
            return None
        if len(data) >= 5:
            if data[0] != 22:
                return None
            want = min(5 + int.from_bytes(data[3:5], "big"), _HELLO_MAX)
            if len(data) < want:
                time.sleep(0.005)  # the rest of the record is on its way
    return _server_name(data[5:want])


def _server_name(hello: bytes) -> str | None:
    """The host_name of a ClientHello's server_name extension (RFC 6066 section 3)."""

    def take(at: int, size: int) -> tuple[bytes, int]:
        if at + size > len(hello):
            raise IndexError
        return hello[at : at + size], at + size

    try:
        if hello[0] != 1:  # client_hello
            return None
        at = 4 + 2 + 32  # handshake header, client_version, random
        for width in (1, 2, 1):  # session_id, cipher_suites, compression_methods
            size, at = take(at, width)
            _, at = take(at, int.from_bytes(size, "big"))
        size, at = take(at, 2)
        end = at + int.from_bytes(size, "big")
        while at + 4 <= end:
            kind, at = take(at, 2)
            size, at = take(at, 2)
            body, at = take(at, int.from_bytes(size, "big"))
            if kind == b"\x00\x00" and len(body) > 5 and body[2] == 0:
                length = int.from_bytes(body[3:5], "big")
                return body[5 : 5 + length].decode("ascii", "replace").lower().rstrip(".")
    except IndexError:
        return None
    return None


def _context_for(profile: SmtpProfile, hostname: str, pki: LabPki) -> ssl.SSLContext:
    spec = profile.leaf
    now = datetime.datetime.now(datetime.UTC)
    leaf = pki.issue_leaf(
        spec.names or (hostname,),
        key=spec.key,
        signature_hash=spec.signature_hash,
        not_before=now + datetime.timedelta(days=spec.valid_from_days),
        not_after=now + datetime.timedelta(days=spec.valid_until_days),
        self_signed=spec.self_signed,
    )
    return pki.server_context(
        leaf,
        include_intermediate=spec.include_intermediate and not spec.self_signed,
        minimum_version=profile.minimum_version,
        maximum_version=profile.maximum_version,
        ciphers=":".join(profile.ciphers),
        allow_client_renegotiation=profile.allow_client_renegotiation,
        dh_bits=profile.dh_bits,
    )


@dataclass(frozen=True, slots=True)
class SniRoute:
    """A name a shared address answers for with another TLS server: ``profile`` gives its
    versions, suites and certificate (issued for ``name`` unless the profile's leaf names);
    None resets every handshake with that name (an SNI router with no backend for it)."""

    name: str
    profile: SmtpProfile | None


@dataclass(frozen=True, slots=True)
class LabMx:
    """One sample MX of the lab: its name, its loopback address and how it behaves.

    ``sni_routes`` make it a shared provider's address: those names, when sent as SNI, reach
    another TLS server behind it (:class:`SniRoute`); every other name gets ``profile``'s.
    """

    hostname: str
    address: str
    profile: SmtpProfile
    sni_routes: tuple[SniRoute, ...] = ()


#: The shared-provider shape: one address, a provider certificate for
#: ``*.mail.sharedprovider.example`` (Microsoft 365 serves ``*.mail.protection.outlook.com`` to
#: every ``<tenant>.mail.protection.outlook.com`` the same way), tenant names under it, a
#: tenant whose own vanity MX name gets its own certificate by SNI, and a name that an SNI
#: router sends to a different, older server behind the same address.
SHARED_PROVIDER_ADDRESS = "127.0.6.10"
SHARED_PROVIDER_HOST = "mail.sharedprovider.example"
SHARED_PROVIDER_OWN_CERT = "mx.own-cert-council.gov.uk"
SHARED_PROVIDER_OTHER_SERVER = "gateway.old-council.gov.uk"
_PROVIDER = dataclasses.replace(
    COMPLIANT,
    name="shared-provider",
    description="a shared provider's address: one wildcard certificate for its tenants",
    leaf=LeafSpec(names=("*.mail.sharedprovider.example", SHARED_PROVIDER_HOST)),
)
#: The different server behind the provider's address: TLS 1.2 at most, its own suites.
_OLD_GATEWAY = SmtpProfile(
    "old-gateway",
    "an older gateway behind the provider's SNI router: TLS 1.2 at most, CBC-SHA1 first",
    maximum_version=ssl.TLSVersion.TLSv1_2,
    ciphers=("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-GCM-SHA384"),
)


def shared_provider_tenants(count: int) -> tuple[str, ...]:
    """``count`` tenant MX names under the provider's wildcard."""
    return tuple(f"tenant{n}.mail.sharedprovider.example" for n in range(1, count + 1))


def shared_provider_zones(tenants: int, address: str = SHARED_PROVIDER_ADDRESS) -> dict[str, str]:
    """Zones for the shape: ``tenant<N>-council.gov.uk`` each with MX
    ``tenant<N>.mail.sharedprovider.example`` (a wildcard A record, as the provider's tenant
    names all resolve into its pool), and the two councils whose own MX names point there."""
    soa = (
        "@ 300 IN SOA ns1.lab-dns.example. hostmaster.lab-dns.example. 1 3600 600 604800 300\n"
        "@ 300 IN NS ns1.lab-dns.example.\n"
    )
    zones = {"sharedprovider.example": f"{soa}mail 300 IN A {address}\n*.mail 300 IN A {address}\n"}
    for index in range(1, tenants + 1):
        zones[f"tenant{index}-council.gov.uk"] = (
            f"{soa}@ 300 IN MX 10 tenant{index}.mail.sharedprovider.example.\n"
        )
    for name in (SHARED_PROVIDER_OWN_CERT, SHARED_PROVIDER_OTHER_SERVER):
        label, domain = name.split(".", 1)
        zones[domain] = f"{soa}@ 300 IN MX 10 {name}.\n{label} 300 IN A {address}\n"
    return zones


def shared_provider(address: str = SHARED_PROVIDER_ADDRESS) -> LabMx:
    """The shared provider's server (see :data:`SHARED_PROVIDER_ADDRESS`)."""
    return LabMx(
        SHARED_PROVIDER_HOST,
        address,
        _PROVIDER,
        sni_routes=(
            SniRoute(SHARED_PROVIDER_OWN_CERT, dataclasses.replace(COMPLIANT, name="own-cert")),
            SniRoute(SHARED_PROVIDER_OTHER_SERVER, _OLD_GATEWAY),
        ),
    )


class LabSmtpFleet(StartStop):
    """Several :class:`LabSmtpServer` on different addresses sharing one port number.

    A checker takes one SMTP port for every host (``--govmail-smtp-port``), so the lab's MX
    servers must share it. With ``port=0`` the first server picks a free port and the others
    bind the same number; if it is taken on another address, all are closed and another port
    is tried.
    """

    def __init__(
        self,
        hosts: Sequence[LabMx],
        *,
        pki: LabPki,
        port: int = 0,
        idle_timeout: float = 10.0,
    ) -> None:
        if not hosts:
            raise ValueError("LabSmtpFleet needs at least one host")
        names = [mx.hostname for mx in hosts]
        if len(set(names)) != len(names):
            raise ValueError("LabSmtpFleet host names must be unique")
        self.hosts = tuple(hosts)
        self._pki = pki
        self._requested_port = port
        self._idle = idle_timeout
        self.servers: dict[str, LabSmtpServer] = {}
        self.port = 0

    def start(self) -> Self:
        attempts = 1 if self._requested_port else _BIND_ATTEMPTS
        contexts = {
            mx.hostname: _context_for(mx.profile, mx.hostname, self._pki)
            for mx in self.hosts
            if mx.profile.needs_tls
        }
        routes = {
            mx.hostname: {
                r.name: None if r.profile is None else _context_for(r.profile, r.name, self._pki)
                for r in mx.sni_routes
            }
            for mx in self.hosts
        }
        last: OSError | None = None
        for _ in range(attempts):
            started: list[LabSmtpServer] = []
            port = self._requested_port
            try:
                for mx in self.hosts:
                    server = LabSmtpServer(
                        mx.profile,
                        hostname=mx.hostname,
                        host=mx.address,
                        port=port,
                        context=contexts.get(mx.hostname),
                        idle_timeout=self._idle,
                        sni_contexts=routes[mx.hostname],
                    ).start()
                    started.append(server)
                    port = server.address[1]
            except OSError as exc:
                for server in started:
                    server.stop()
                if exc.errno != errno.EADDRINUSE or self._requested_port:
                    raise
                last = exc
                continue
            self.servers = {s.hostname: s for s in started}
            self.port = port
            return self
        assert last is not None
        raise last

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __iter__(self) -> Iterator[LabSmtpServer]:
        return iter(self.servers.values())

    def __getitem__(self, hostname: str) -> LabSmtpServer:
        return self.servers[hostname]
