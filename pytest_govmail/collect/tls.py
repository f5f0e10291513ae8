"""Scan MX addresses over SMTP STARTTLS: the dialogue, TLS versions and suites, the certificate.

This is the only TLS-scanning network code. It turns what it sees into the project's own
evidence (:class:`~pytest_govmail.model.tls.TlsScan`, one per address) and never raises for a
remote failure: a timeout, a refusal, a 421, a 554 or a failed handshake is recorded as data.

How, and why:

* Every connection goes to the address the run's own resolver found (never a name), and the
  MX host name is only sent as SNI and checked against the certificate. Private, loopback,
  link-local and other non-global addresses are refused (``PRIVATE_ADDRESS``) unless allowed.
* The SMTP dialogue (greeting, EHLO, STARTTLS) is spoken here on a plain socket with bounded
  reads, so MX-04 gets the greeting code and TLS-01 the EHLO and STARTTLS replies. A 421
  greeting (or a connection dropped before the greeting) is retried with exponential backoff a
  bounded number of times, then recorded as ``THROTTLED`` (or ``PROTOCOL``). A greeting other
  than 220 ends the scan with ``PROTOCOL`` (the code is in ``smtp.banner_code``). STARTTLS not
  advertised, or refused (454), is an observation, not an error: ``smtp`` says so and no TLS
  version is probed. The first connection's STARTTLS is reused for the first handshake.
* Handshakes use nassl (sslyze's OpenSSL bindings) directly, because sslyze's own cipher-suite
  scan opens one SMTP connection per suite in its catalogue (about 540 per address whatever the
  server accepts). For each version the client offers every suite it has, records the server's
  choice, removes it and repeats until the server refuses: accepted + 1 handshakes per version.
  TLS 1.0/1.1, SSL 3.0 and SSL 2.0 use nassl's legacy OpenSSL (1.0.2) client; TLS 1.3 the
  modern one with ``set_ciphersuites``; TLS 1.2 needs both (each knows suites the other lacks):
  a legacy pass, then a modern pass whose first handshake offers every modern suite in the
  client's order, which is the ``preferred`` choice (TLS-05), then the modern-only suites left.
  That is ``accepted + 9`` handshakes per address (see :data:`HANDSHAKE_OVERHEAD`).
* Compression and secure renegotiation are read from the first legacy-client handshake at the
  highest legacy version; client-initiated renegotiation is tried once on that same connection
  (it counts as a handshake). A server that speaks only TLS 1.3 has neither compression nor
  renegotiation: recorded as no compression, secure renegotiation, renegotiation refused.
* The chain, the key exchange and the preferred suite come from the preferred handshake of the
  highest accepted version. Trust is judged here without the host name: the chain is validated
  with ``cryptography``'s X.509 verifier against a DNS name taken from the leaf's own SAN, once
  against sslyze's Mozilla store (:data:`MOZILLA`) and once against ``--govmail-ca-file``
  (:data:`CA_FILE`), so CERT-01 (trust) and CERT-02 (name match, judged from the PEM) stay
  separate facts. Validation is at the current time, so an expired chain is not verified.
* Per address at most ``connections_per_address`` connections are open at once (version probes
  run side by side on that many workers); addresses are scanned in parallel. Once a server has
  throttled (a 421, or a drop before the greeting, that was retried), the rest of its version
  probes open one connection at a time, so a server that refuses every other connection still
  gets a complete scan; retries are noted in the detail of the version whose probe needed them.
* Hostile servers are bounded in time and memory. Each SMTP reply must be complete within
  ``timeout`` (however the bytes trickle in: a greeting dripped a byte a second ends at the
  timeout, with the bytes received in the detail), each TLS handshake too (the socket nassl
  reads through enforces it, not just each read), and every connection ends within
  ``connection_timeout`` (3 x ``timeout`` by default) from the connect. No more than
  ``_MAX_LINE + _RECV`` bytes of one reply are ever buffered: a longer line ends the scan with
  ``TOO_LARGE`` ("greeting line over 2048 bytes ..."). A server that answers the ClientHello with
  something that is not TLS (a web server's ``HTTP/1.1 400``, SMTP text) ends the scan with
  ``TLS_HANDSHAKE`` "server sent non-TLS data after STARTTLS 220: b'...'" and no version probes
  (the remaining probes are not tried: nothing about versions can be learnt from it). Bytes
  from the network reach details only through ``repr`` (escaped) and bounded.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store
from nassl._nassl import OpenSSLError
from nassl.ephemeral_key_info import DhEphemeralKeyInfo, EcDhEphemeralKeyInfo, EphemeralKeyInfo
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import (
    BaseSslClient,
    ClientCertificateRequested,
    OpenSslVerifyEnum,
    OpenSslVersionEnum,
    SslClient,
)
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

from pytest_govmail.collect.quiet import certificate_warnings_ignored
from pytest_govmail.inputs.tls_profile import openssl_to_iana
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.tls import (
    KeyExchange,
    SmtpDialogue,
    TlsScan,
    TlsVersion,
    TrustCheck,
    VersionProbe,
)

__all__ = [
    "CA_FILE",
    "DEFAULT_EHLO_NAME",
    "HANDSHAKE_OVERHEAD",
    "MOZILLA",
    "ScanRequest",
    "TlsScanSettings",
    "check_chain",
    "default_ehlo_name",
    "iana_name",
    "scan_address",
    "scan_addresses",
]

_log = logging.getLogger(__name__)

#: ``TrustCheck.store`` of the public store (sslyze's copy of Mozilla NSS's roots).
MOZILLA = "mozilla"
#: ``TrustCheck.store`` of the user's ``--govmail-ca-file``.
CA_FILE = "ca-file"
#: The EHLO name used when the host has no dotted fully-qualified name. A real name (the
#: scanning host's, or one the user sets) is politer; ``.invalid`` never resolves, honestly.
DEFAULT_EHLO_NAME = "govmail-probe.invalid"
#: Handshakes per address beyond the number of suites accepted: one refusal per version (6),
#: the TLS 1.2 modern pass's refusal and its first "preferred" handshake (2), and one
#: client-initiated renegotiation attempt (1). Only a server whose legacy-client suites are all
#: below TLS 1.2 costs more: one extra session for the renegotiation facts (2 handshakes).
HANDSHAKE_OVERHEAD = 9

#: Bounds on what a server may send before TLS.
_MAX_REPLY_LINES = 64
_MAX_LINE = 2048
_MAX_EVIDENCE_LINE = 512
_RECV = 4096
#: Bytes of unexpected data shown in a detail (escaped with ``repr``).
_PREVIEW = 40
#: ``connection_timeout`` when it is not set: this many times ``timeout``.
_CONNECTION_TIMEOUT_FACTOR = 3.0

_ALL_SUITES = "ALL:COMPLEMENTOFALL:-PSK:-SRP"
_TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
_NASSL_VERSION = {
    TlsVersion.SSL_2_0: OpenSslVersionEnum.SSLV2,
    TlsVersion.SSL_3_0: OpenSslVersionEnum.SSLV3,
    TlsVersion.TLS_1_0: OpenSslVersionEnum.TLSV1,
    TlsVersion.TLS_1_1: OpenSslVersionEnum.TLSV1_1,
    TlsVersion.TLS_1_2: OpenSslVersionEnum.TLSV1_2,
    TlsVersion.TLS_1_3: OpenSslVersionEnum.TLSV1_3,
}
_ORDER = tuple(TlsVersion)
_GROUPS = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def default_ehlo_name() -> str:
    """This machine's fully-qualified name if it has a dotted one, else :data:`DEFAULT_EHLO_NAME`.

    RFC 5321 wants the client's own name in EHLO; some receivers refuse names that do not look
    like one. Users scanning from CI should set the name of a host they own.
    """
    with contextlib.suppress(OSError, UnicodeError):
        name = socket.getfqdn().strip().rstrip(".").lower()
        if "." in name and not name.endswith((".localdomain", ".local", "localhost")):
            name.encode("ascii")
            return name
    return DEFAULT_EHLO_NAME


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """One address of one MX host: ``host`` is the MX name (SNI), ``address`` where to connect."""

    host: str
    address: str
    port: int = 25


@dataclass(frozen=True, slots=True)
class TlsScanSettings:
    """How to scan. ``timeout`` bounds each network wait (connect, each SMTP reply, each TLS
    handshake, however slowly the bytes arrive). ``connection_timeout`` bounds one connection
    from connect to close (None: 3 x ``timeout``). ``max_retries`` and ``retry_backoff``
    (seconds, doubled per retry) apply to 421 greetings and connections dropped before the
    greeting. ``max_parallel_addresses`` bounds how many addresses are scanned at once."""

    timeout: float = 10.0
    ehlo_name: str = field(default_factory=default_ehlo_name)
    ca_file: Path | None = None
    connections_per_address: int = 2
    allow_private: bool = False
    profile_name: str = "ncsc-2026.1"
    max_retries: int = 2
    retry_backoff: float = 2.0
    max_parallel_addresses: int = 32
    connection_timeout: float | None = None

    @property
    def connection_seconds(self) -> float:
        """How long one connection may last in all (``connection_timeout`` or its default)."""
        if self.connection_timeout is not None:
            return self.connection_timeout
        return _CONNECTION_TIMEOUT_FACTOR * self.timeout


# --------------------------------------------------------------------------- cipher catalogue


class _Catalogue:
    """The suites each nassl client can offer per version; their IANA names come from the one
    OpenSSL-to-IANA map, :func:`pytest_govmail.inputs.tls_profile.openssl_to_iana`."""

    def __init__(self) -> None:
        self.legacy: dict[TlsVersion, tuple[str, ...]] = {}
        for version in (
            TlsVersion.SSL_2_0,
            TlsVersion.SSL_3_0,
            TlsVersion.TLS_1_0,
            TlsVersion.TLS_1_1,
            TlsVersion.TLS_1_2,
        ):
            client = LegacySslClient(
                ssl_version=_NASSL_VERSION[version], ssl_verify=OpenSslVerifyEnum.NONE
            )
            client.set_cipher_list(_ALL_SUITES)
            self.legacy[version] = tuple(client.get_cipher_list())
        modern = SslClient(
            ssl_version=OpenSslVersionEnum.TLSV1_2, ssl_verify=OpenSslVerifyEnum.NONE
        )
        modern.set_cipher_list(_ALL_SUITES)
        self.modern12 = tuple(n for n in modern.get_cipher_list() if n not in _TLS13_SUITES)
        legacy12 = {self.name(n) for n in self.legacy[TlsVersion.TLS_1_2]}
        self.modern12_only = tuple(n for n in self.modern12 if self.name(n) not in legacy12)

    def name(self, openssl_name: str, version: TlsVersion | None = None) -> str:
        # SSL 2.0 suites have names of their own (RC4-MD5 is SSL_CK_RC4_128_WITH_MD5 there).
        ssl2 = version is TlsVersion.SSL_2_0
        return openssl_to_iana(openssl_name, ssl2=ssl2) or openssl_name


_catalogue: _Catalogue | None = None
_catalogue_lock = threading.Lock()


def _suites() -> _Catalogue:
    global _catalogue
    with _catalogue_lock:
        if _catalogue is None:
            _catalogue = _Catalogue()
        return _catalogue


def iana_name(openssl_name: str, version: TlsVersion | None = None) -> str:
    """The IANA (RFC) name of an OpenSSL cipher suite name; unknown names come back unchanged.

    ``version`` matters only for SSL 2.0, whose suites have names of their own.
    """
    return _suites().name(openssl_name, version)


# --------------------------------------------------------------------------- trust


@dataclass(frozen=True, slots=True)
class _Anchors:
    store: str
    certs: Store
    label: str


_mozilla: _Anchors | None = None
_mozilla_lock = threading.Lock()


def _mozilla_anchors() -> _Anchors:
    global _mozilla
    with _mozilla_lock:
        if _mozilla is None:
            # sslyze's bundled stores hold a few roots with non-positive serial numbers, which
            # cryptography warns about when parsing: expected here, not the user's problem.
            with certificate_warnings_ignored():
                main = TrustStoresRepository.get_default().get_main_store()
                certs = x509.load_pem_x509_certificates(main.path.read_bytes())
            _mozilla = _Anchors(MOZILLA, Store(certs), f"{main.name} {main.version}")
        return _mozilla


def _file_anchors(path: Path) -> _Anchors:
    """The user's CA file; a local misconfiguration raises ``ValueError`` (not evidence)."""
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read CA certificates from {path}: {exc}") from exc
    return _Anchors(CA_FILE, Store(certs), str(path))


def _subject_text(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if names:
        return str(names[0].value)
    return cert.subject.rfc4514_string() or "(empty subject)"


def _name_from_san(leaf: x509.Certificate) -> DNSName | IPAddress | None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for dns_name in san.get_values_for_type(x509.DNSName):
        name = dns_name.lower()
        if name.startswith("*."):
            name = "govmail-wildcard" + name[1:]
        with contextlib.suppress(ValueError):
            return DNSName(name)
    for address in san.get_values_for_type(x509.IPAddress):
        return IPAddress(address)
    return None


def check_chain(
    chain_pem: Sequence[str],
    anchors: Sequence[tuple[str, Store, str]] | None = None,
    now: datetime | None = None,
    ca_file: Path | None = None,
) -> tuple[TrustCheck, ...]:
    """Validate a served chain (leaf first) against each trust source, without the host name.

    ``anchors`` are ``(store name, Store, label)``; by default the Mozilla store and, when
    ``ca_file`` is given, that file. The name used is the leaf's own first SAN DNS name (a
    wildcard stands for one label), so the result says whether the chain is trusted, not
    whether it matches the MX host.
    """
    sources: list[_Anchors]
    if anchors is not None:
        sources = [_Anchors(s, c, label) for s, c, label in anchors]
    else:
        sources = [_mozilla_anchors()]
        if ca_file is not None:
            sources.append(_file_anchors(ca_file))
    return _check_chain(chain_pem, sources, now or datetime.now(UTC))


def _check_chain(
    chain_pem: Sequence[str], sources: Sequence[_Anchors], now: datetime
) -> tuple[TrustCheck, ...]:
    if not chain_pem:
        return tuple(TrustCheck(s.store, False, "no certificate was served") for s in sources)
    try:
        certs = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in chain_pem]
    except ValueError as exc:
        return tuple(TrustCheck(s.store, False, f"unparseable certificate: {exc}") for s in sources)
    leaf, intermediates = certs[0], certs[1:]
    subject = _name_from_san(leaf)
    if subject is None:
        why = "the leaf has no subjectAltName DNS name or address to validate it for"
        return tuple(TrustCheck(s.store, False, why) for s in sources)
    # Trust is judged apart from time (CERT-01/07 versus CERT-03): a leaf outside its validity
    # is validated as of the nearest moment inside it, and the detail says so.
    at, note = _validation_time(leaf, now)
    checks: list[TrustCheck] = []
    for source in sources:
        verifier = PolicyBuilder().store(source.certs).time(at).build_server_verifier(subject)
        try:
            path = verifier.verify(leaf, intermediates)
        except Exception as exc:  # VerificationError, or a malformed extension
            checks.append(TrustCheck(source.store, False, f"{source.label}: {exc}"[:500]))
            continue
        route = " <- ".join(_subject_text(c) for c in path)
        checks.append(TrustCheck(source.store, True, f"{source.label}: {route}{note}"[:500]))
    return tuple(checks)


def _validation_time(leaf: x509.Certificate, now: datetime) -> tuple[datetime, str]:
    """``now``, or the nearest instant inside the leaf's validity when ``now`` is outside it."""
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now > end:
        return end - timedelta(
            seconds=1
        ), f" (validated as of {end:%Y-%m-%d}: expired, see CERT-03)"
    if now < start:
        return start + timedelta(seconds=1), f" (validated as of {start:%Y-%m-%d}: not yet valid)"
    return now, ""


# --------------------------------------------------------------------------- SMTP


class _SmtpFailure(Exception):
    """The SMTP exchange failed; ``retry`` says whether another connection may help."""

    def __init__(self, error: ProbeError, retry: bool = False) -> None:
        super().__init__(error.describe())
        self.error = error
        self.retry = retry


def _clean(raw: bytes) -> str:
    text = _CONTROL.sub("?", raw.decode("utf-8", "replace"))
    return text if len(text) <= _MAX_EVIDENCE_LINE else text[:_MAX_EVIDENCE_LINE] + "..."


def _preview(head: bytes, received: int) -> str:
    """The first bytes of unexpected data (``received`` bytes in all) for a detail: bounded, and
    escaped by ``repr`` (control characters, quotes and non-ASCII bytes become escapes)."""
    shown = repr(bytes(head[:_PREVIEW]))
    return shown + "..." if received > len(head[:_PREVIEW]) else shown


def _looks_like_tls(head: bytes) -> bool:
    """Whether the first bytes a server sent after STARTTLS can start a TLS (or SSL 2.0) answer:
    a TLS record (content type 20..24, major version 3) or an SSL 2.0 record (length with the
    top bit set, then ERROR or SERVER-HELLO). SMTP or HTTP text cannot."""
    if not head:
        return True
    if 20 <= head[0] <= 24:
        return len(head) < 2 or head[1] == 3
    if head[0] & 0x80:
        return len(head) < 3 or head[2] in (0, 4)
    return False


@dataclass(frozen=True, slots=True)
class _Clock:
    """The time limits of one connection: each step (an SMTP reply, a handshake) within
    ``step`` seconds, and the whole connection by ``end`` (``total`` seconds after connect)."""

    step: float
    total: float
    end: float

    @classmethod
    def start(cls, settings: TlsScanSettings) -> _Clock:
        total = settings.connection_seconds
        return cls(settings.timeout, total, time.monotonic() + total)

    def step_deadline(self) -> tuple[float, bool]:
        """The deadline of a step starting now, and whether the connection's limit sets it."""
        own = time.monotonic() + self.step
        return (self.end, True) if self.end < own else (own, False)

    def late(self, what: str, limited: bool, received: int, head: bytes) -> str:
        """The detail of a step that did not complete in time."""
        if limited:
            text = f"connection time limit of {self.total:g} s reached before the {what} ended"
        elif received:
            text = f"no complete {what} within {self.step:g} s"
        else:
            text = f"no {what} within {self.step:g} s"
        if received:
            text += f" ({received} bytes received: {_preview(head, received)})"
        return text


class _SmtpReader:
    """Reads SMTP replies from a plain socket, each by a deadline and bounded in size: no more
    than ``_MAX_LINE + _RECV`` bytes are ever buffered. ``received`` and ``head`` are the size
    and the first bytes of the reply being read, for the detail of a failure."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self.received = 0
        self.head = b""

    def leftover(self) -> bytes:
        """What the server sent beyond the last reply (handed to the TLS client)."""
        data, self._buffer = self._buffer, b""
        return data

    def reply(self, what: str, deadline: float) -> tuple[int, list[str], str]:
        """``(code, texts without codes, raw lines joined by newlines)``."""
        self.received = len(self._buffer)
        self.head = self._buffer[:_PREVIEW]
        texts: list[str] = []
        raw: list[str] = []
        while True:
            line = self._line(deadline, what)
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise _SmtpFailure(
                    ProbeError(ErrorKind.PROTOCOL, f"malformed {what} line: {_clean(line)!r}")
                )
            texts.append(_clean(line[4:]))
            raw.append(_clean(line))
            if line[3:4] != b"-":
                return int(line[:3]), texts, "\n".join(raw)
            if len(texts) >= _MAX_REPLY_LINES:
                raise _SmtpFailure(
                    ProbeError(ErrorKind.TOO_LARGE, f"{what} longer than {_MAX_REPLY_LINES} lines")
                )

    def _too_long(self, what: str) -> _SmtpFailure:
        return _SmtpFailure(
            ProbeError(
                ErrorKind.TOO_LARGE,
                f"{what} line over {_MAX_LINE} bytes (RFC 5321 allows 512): stopped reading "
                f"after {self.received} bytes: {_preview(self.head, self.received)}",
            )
        )

    def _line(self, deadline: float, what: str) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > _MAX_LINE:
                raise self._too_long(what)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            chunk = self._sock.recv(_RECV)
            if not chunk:
                raise EOFError
            if len(self.head) < _PREVIEW:
                self.head += chunk[: _PREVIEW - len(self.head)]
            self.received += len(chunk)
            self._buffer += chunk
        if end > _MAX_LINE:
            raise self._too_long(what)
        line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
        return line.rstrip(b"\r")


class _TimedSocket:
    """The socket a TLS client reads and writes through after STARTTLS, with deadlines.

    nassl waits on its socket read by read, each with the socket's timeout, so a server that
    dribbles its handshake a byte at a time would hold the client for ever. Here every wait is
    bounded by the current step's deadline (:meth:`begin`: ``timeout``) and the connection's.
    ``pending`` (what the SMTP reader had buffered beyond STARTTLS's 220) is read first;
    ``head`` keeps the first bytes received, to tell a TLS answer from non-TLS data.
    """

    def __init__(self, sock: socket.socket, clock: _Clock, pending: bytes = b"") -> None:
        self.sock = sock
        self._clock = clock
        self._pending = pending
        self._deadline = clock.end
        self._limited = True
        self.head = pending[:_PREVIEW]
        self.received = len(pending)

    def begin(self) -> None:
        """A new step (a handshake, a renegotiation, the goodbye) starts now."""
        self._deadline, self._limited = self._clock.step_deadline()

    def late(self, what: str) -> str:
        return self._clock.late(what, self._limited, self.received, self.head)

    def _wait(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        self.sock.settimeout(left)

    def recv(self, size: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        self._wait()
        data = self.sock.recv(size)
        if len(self.head) < _PREVIEW:
            self.head += data[: _PREVIEW - len(self.head)]
        self.received += len(data)
        return data

    def send(self, data: bytes) -> int:
        self._wait()
        self.sock.sendall(data)  # nassl ignores short writes: never make one
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass(slots=True)
class _Opened:
    """The outcome of one SMTP session up to STARTTLS: a socket ready for TLS, or why not."""

    dialogue: SmtpDialogue | None
    sock: socket.socket | None = None
    error: ProbeError | None = None
    pending: bytes = b""
    clock: _Clock | None = None
    retries: int = 0
    retried: str = ""


_HandshakeStatus = Literal["ok", "refused", "unknown"]


@dataclass(slots=True)
class _Handshake:
    status: _HandshakeStatus
    cipher: str | None = None
    detail: str = ""
    chain: tuple[str, ...] = ()
    key: EphemeralKeyInfo | None = None
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    retries: int = 0
    retried: str = ""


@dataclass(slots=True)
class _Pass:
    """What one client's elimination pass over one version found."""

    found: list[str] = field(default_factory=list)
    first: _Handshake | None = None
    refusal: str = ""
    unknown: str = ""
    retries: int = 0
    retried: str = ""


@dataclass(slots=True)
class _VersionResult:
    probe: VersionProbe
    preferred: _Handshake | None = None
    legacy_first: _Handshake | None = None


#: Where the connection was when a reply did not come.
_WHERE = {
    "greeting": "before the greeting",
    "EHLO reply": "after EHLO, before its reply",
    "STARTTLS reply": "after STARTTLS, before its reply",
}


class _SmtpSession:
    """The plain-text part of one connection: greeting, EHLO, STARTTLS. ``dialogue`` grows as
    replies arrive, so a failure half-way still leaves what was seen."""

    def __init__(self, sock: socket.socket, settings: TlsScanSettings, clock: _Clock) -> None:
        self.sock = sock
        self.settings = settings
        self.clock = clock
        self.dialogue = SmtpDialogue()
        self._reader = _SmtpReader(sock)

    def _read(self, what: str) -> tuple[int, list[str], str]:
        deadline, limited = self.clock.step_deadline()
        reader = self._reader
        try:
            return reader.reply(what, deadline)
        except TimeoutError:
            detail = self.clock.late(what, limited, reader.received, reader.head)
            raise _SmtpFailure(ProbeError(ErrorKind.TIMEOUT, detail)) from None
        except (EOFError, OSError) as exc:
            where = _WHERE.get(what, f"before the {what}")
            if isinstance(exc, EOFError):
                detail = f"connection closed {where}"
            else:
                detail = f"connection lost {where}: {exc.strerror or exc}"
            if reader.received:
                shown = _preview(reader.head, reader.received)
                detail += f" ({reader.received} bytes of it received: {shown})"
            raise _SmtpFailure(
                ProbeError(ErrorKind.PROTOCOL, detail), retry=what == "greeting"
            ) from None

    def _send(self, command: str) -> None:
        verb = command.split(" ", 1)[0]
        left = self.clock.end - time.monotonic()
        if left <= 0:
            detail = f"connection time limit of {self.clock.total:g} s reached before {verb}"
            raise _SmtpFailure(ProbeError(ErrorKind.TIMEOUT, detail))
        try:
            self.sock.settimeout(min(left, self.settings.timeout))
            self.sock.sendall(command.encode("ascii") + b"\r\n")
        except OSError as exc:
            raise _SmtpFailure(
                ProbeError(ErrorKind.PROTOCOL, f"connection lost sending {verb}: {exc}")
            ) from None

    def _quit(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.settimeout(min(self.settings.timeout, 1.0))
            self.sock.sendall(b"QUIT\r\n")

    def converse(self) -> tuple[_Opened, bool]:
        """Up to STARTTLS's 220: ``(outcome, worth retrying)``."""
        code, _, raw = self._read("greeting")
        first = raw.splitlines()[0]
        self.dialogue = SmtpDialogue(banner=raw, banner_code=code)
        if code == 421:
            self._quit()
            error = ProbeError(ErrorKind.THROTTLED, f"greeting: {first}")
            return _Opened(self.dialogue, error=error), True
        if code != 220:
            self._quit()
            error = ProbeError(ErrorKind.PROTOCOL, f"greeting {code}, not 220: {first}")
            return _Opened(self.dialogue, error=error), False
        self._send(f"EHLO {self.settings.ehlo_name}")
        code, texts, raw = self._read("EHLO reply")
        if code != 250:
            self._quit()
            self.dialogue = replace(self.dialogue, ehlo=tuple(texts))
            kind = ErrorKind.THROTTLED if code == 421 else ErrorKind.PROTOCOL
            error = ProbeError(kind, f"EHLO answered {raw.splitlines()[0]}")
            return _Opened(self.dialogue, error=error), code == 421
        offered = any(t.split(" ", 1)[0].upper() == "STARTTLS" for t in texts[1:])
        self.dialogue = replace(self.dialogue, ehlo=tuple(texts), starttls_offered=offered)
        if not offered:
            self._quit()
            return _Opened(self.dialogue), False
        self._send("STARTTLS")
        code, _, raw = self._read("STARTTLS reply")
        self.dialogue = replace(self.dialogue, starttls_reply=raw)
        if code == 220:
            pending = self._reader.leftover()
            return _Opened(self.dialogue, self.sock, pending=pending, clock=self.clock), False
        self._quit()
        if code == 421:
            error = ProbeError(ErrorKind.THROTTLED, f"STARTTLS answered {raw.splitlines()[0]}")
            return _Opened(self.dialogue, error=error), True
        return _Opened(self.dialogue), False


class _AddressScan:
    """One address: the dialogue, then the version probes on a few workers."""

    def __init__(self, request: ScanRequest, settings: TlsScanSettings, sources: list[_Anchors]):
        self.request = request
        self.settings = settings
        self.sources = sources
        self._lock = threading.Lock()
        self.connections = 0
        self.handshakes = 0
        self._spare: _Opened | None = None  # the dialogue's session, after STARTTLS
        self._throttled = threading.Event()  # a retry was needed: open one at a time
        self._serial = threading.Lock()
        self._non_tls: str | None = None  # the server answered a ClientHello with non-TLS data
        self._sni: str | None = None
        host = request.host.strip().rstrip(".")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            self._sni = host or None

    # ----------------------------------------------------------------- accounting

    def _count(self, connections: int = 0, handshakes: int = 0) -> None:
        with self._lock:
            self.connections += connections
            self.handshakes += handshakes

    # ----------------------------------------------------------------- SMTP

    def open(self) -> _Opened:
        """An SMTP session up to STARTTLS's 220, retrying 421s and early drops with backoff."""
        settings = self.settings
        attempts = max(0, settings.max_retries) + 1
        result = _Opened(None)
        retried: list[ProbeError] = []
        for attempt in range(attempts):
            if attempt:
                self._throttled.set()
                time.sleep(settings.retry_backoff * 2 ** (attempt - 1))
            result, retry = self._open_once()
            if not retry:
                if retried:
                    result.retries = len(retried)
                    result.retried = retried[0].describe()[:100]
                return result
            if result.error is not None:
                retried.append(result.error)
        assert result.error is not None
        detail = f"{result.error.detail} ({attempts} attempts)"
        return _Opened(result.dialogue, None, ProbeError(result.error.kind, detail))

    def _open_once(self) -> tuple[_Opened, bool]:
        """One connection; ``(outcome, worth retrying)``. No TCP session: ``dialogue`` is None."""
        request, timeout = self.request, self.settings.timeout
        where = f"{_display(request.address)}:{request.port}"
        clock = _Clock.start(self.settings)
        timeout = min(timeout, clock.total)
        try:
            sock = socket.create_connection((request.address, request.port), timeout=timeout)
        except TimeoutError:
            error = ProbeError(
                ErrorKind.TIMEOUT, f"TCP connect to {where}: no answer in {timeout:g} s"
            )
            return _Opened(None, error=error), False
        except ConnectionRefusedError:
            error = ProbeError(ErrorKind.CONNECTION_REFUSED, f"TCP connect to {where} refused")
            return _Opened(None, error=error), False
        except OSError as exc:
            error = ProbeError(ErrorKind.OTHER, f"TCP connect to {where}: {exc.strerror or exc}")
            return _Opened(None, error=error), False
        self._count(connections=1)
        session = _SmtpSession(sock, self.settings, clock)
        try:
            opened, retry = session.converse()
        except _SmtpFailure as failure:
            opened, retry = _Opened(session.dialogue, error=failure.error), failure.retry
        if opened.sock is None:
            with contextlib.suppress(OSError):
                sock.close()
        return opened, retry

    # ----------------------------------------------------------------- TLS

    def handshake(
        self,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool = False,
        renegotiate: bool = False,
    ) -> _Handshake:
        """One connection and one handshake offering ``offer`` (OpenSSL names, in order).

        ``extras`` reads compression and secure renegotiation (legacy client only, no cost);
        ``renegotiate`` then tries one client-initiated renegotiation on the same connection.
        """
        with self._lock:
            opened, self._spare = self._spare, None
        if opened is not None:
            return self._handshake_on(opened, version, legacy, offer, extras, renegotiate)
        # After a throttling retry, one connection at a time (it is the server's wish, and it
        # keeps a server that refuses every other connection from starving one worker).
        gate: contextlib.AbstractContextManager[Any] = (
            self._serial if self._throttled.is_set() else contextlib.nullcontext()
        )
        with gate:
            if self._non_tls is not None:
                return _Handshake("unknown", detail=f"not tried: {self._non_tls}")
            opened = self.open()
            if opened.sock is None:
                why = opened.error.describe() if opened.error else _no_tls_reason(opened.dialogue)
                return _Handshake("unknown", detail=f"no STARTTLS session: {why}")
            return self._handshake_on(opened, version, legacy, offer, extras, renegotiate)

    def _handshake_on(
        self,
        opened: _Opened,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool,
        renegotiate: bool,
    ) -> _Handshake:
        """One handshake on a session that STARTTLS's 220 has just opened."""
        assert opened.sock is not None and opened.clock is not None
        timed = _TimedSocket(opened.sock, opened.clock, opened.pending)
        try:
            client = self._client(version, legacy, offer, timed)
        except (OpenSSLError, OSError, ValueError) as exc:
            timed.close()
            return _Handshake("unknown", detail=f"could not set up the TLS client: {exc}")
        self._count(handshakes=1)
        try:
            timed.begin()
            outcome = self._do_handshake(client, timed)
            if outcome.status == "ok":
                # An anonymous suite (aNULL, which TLS-06 must see) presents no certificate.
                with contextlib.suppress(ValueError):
                    outcome.chain = tuple(client.get_received_chain())
                outcome.key = client.get_ephemeral_key()
                if extras and isinstance(client, LegacySslClient):
                    outcome.compression = bool(client.get_current_compression_method())
                    outcome.secure_renegotiation = client.get_secure_renegotiation_support()
                    if renegotiate:
                        timed.begin()
                        outcome.client_renegotiation = self._renegotiate(client)
            elif not _looks_like_tls(timed.head):
                shown = _preview(timed.head, timed.received)
                detail = f"server sent non-TLS data after STARTTLS 220: {shown}"
                with self._lock:
                    self._non_tls = self._non_tls or detail
                outcome = _Handshake("unknown", detail=detail)
        except (OpenSSLError, OSError) as exc:  # reading facts off a session that just died
            outcome = _Handshake("unknown", detail=f"session failed after the handshake: {exc}")
        finally:
            timed.begin()
            _close(client, timed, outcome_ok=client.is_handshake_completed())
        outcome.retries, outcome.retried = opened.retries, opened.retried
        return outcome

    def _client(
        self, version: TlsVersion, legacy: bool, offer: Sequence[str], timed: _TimedSocket
    ) -> BaseSslClient:
        nassl_version = _NASSL_VERSION[version]
        sock = cast(socket.socket, timed)  # nassl only calls recv, send and close
        client: BaseSslClient
        if legacy:
            client = LegacySslClient(
                underlying_socket=sock,
                ssl_version=nassl_version,
                ssl_verify=OpenSslVerifyEnum.NONE,
                ignore_client_authentication_requests=True,
            )
            client.set_cipher_list(":".join(offer))
        else:
            modern = SslClient(
                underlying_socket=sock,
                ssl_version=nassl_version,
                ssl_verify=OpenSslVerifyEnum.NONE,
                ignore_client_authentication_requests=True,
            )
            if version is TlsVersion.TLS_1_3:
                modern.set_ciphersuites(":".join(offer))
            else:
                modern.set_cipher_list(":".join(offer))
            client = modern
        if self._sni is not None and version is not TlsVersion.SSL_2_0:
            client.set_tlsext_host_name(self._sni)
        return client

    def _do_handshake(self, client: BaseSslClient, timed: _TimedSocket) -> _Handshake:
        try:
            client.do_handshake()
        except ClientCertificateRequested:
            cipher = _current_cipher(client)
            if cipher:
                return _Handshake("ok", cipher=cipher, detail="server asked for a client cert")
            return _Handshake("unknown", detail="server requires a client certificate")
        except TimeoutError:
            return _Handshake("unknown", detail=timed.late("handshake answer"))
        except OpenSSLError as exc:
            message = _openssl_message(exc)
            if "dh key too small" in message:
                cipher = _current_cipher(client)
                if cipher:  # the server chose the suite; our OpenSSL refused its DH group
                    return _Handshake("ok", cipher=cipher, detail="DH group too small")
            if "no ciphers available" in message or "no cipher match" in message:
                return _Handshake("unknown", detail=f"client could not offer the suites: {message}")
            return _Handshake("refused", detail=message)
        except (ConnectionResetError, BrokenPipeError):
            return _Handshake("refused", detail="connection reset during the handshake")
        except OSError as exc:
            if "peer did not send data back" in str(exc):
                return _Handshake("refused", detail="server closed the connection in the handshake")
            return _Handshake("unknown", detail=f"handshake failed: {exc}")
        cipher = _current_cipher(client)
        if not cipher:
            return _Handshake("unknown", detail="handshake completed without a cipher suite")
        return _Handshake("ok", cipher=cipher)

    def _renegotiate(self, client: LegacySslClient) -> bool | None:
        """Try one client-initiated renegotiation on an established connection."""
        self._count(handshakes=1)
        try:
            client.do_renegotiate()
        except TimeoutError:
            return False  # some servers ignore the request (sslyze reads this as refused)
        except (OpenSSLError, OSError, ClientCertificateRequested):
            return False
        return True

    # ----------------------------------------------------------------- versions

    def eliminate(
        self,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool = False,
        renegotiate: bool = False,
        first_offer: Sequence[str] | None = None,
    ) -> _Pass:
        """Offer, record the choice, remove it, repeat until refused: accepted + 1 handshakes."""
        result = _Pass()
        remaining = list(offer)
        next_offer: Sequence[str] | None = first_offer
        while remaining or next_offer:
            attempt = next_offer if next_offer is not None else remaining
            next_offer = None
            first = not result.found
            shake = self.handshake(
                version, legacy, attempt, extras=extras and first, renegotiate=renegotiate and first
            )
            if result.first is None:
                result.first = shake
            result.retries += shake.retries
            result.retried = result.retried or shake.retried
            if shake.status == "refused":
                result.refusal = shake.detail
                break
            if shake.status == "unknown" or shake.cipher is None:
                result.unknown = shake.detail
                break
            if shake.cipher not in attempt:
                result.unknown = f"server chose {shake.cipher}, which was not offered"
                break
            if shake.cipher not in result.found:
                result.found.append(shake.cipher)
            if shake.cipher in remaining:
                remaining.remove(shake.cipher)
        return result

    def probe(self, version: TlsVersion) -> _VersionResult:
        catalogue = _suites()
        if version is TlsVersion.TLS_1_3:
            passes = [self.eliminate(version, False, _TLS13_SUITES)]
            preferred = passes[0].first
            legacy_first = None
        elif version is TlsVersion.TLS_1_2:
            legacy_pass = self.eliminate(
                version, True, catalogue.legacy[version], extras=True, renegotiate=True
            )
            known = {catalogue.name(c) for c in legacy_pass.found}
            # A legacy pass that ended early proves nothing about the suites it did not reach.
            pool = catalogue.modern12_only if not legacy_pass.unknown else catalogue.modern12
            rest = [c for c in pool if catalogue.name(c) not in known]
            modern_pass = self.eliminate(version, False, rest, first_offer=catalogue.modern12)
            passes = [legacy_pass, modern_pass]
            modern_first = modern_pass.first
            preferred = modern_first if _ok(modern_first) else legacy_pass.first
            legacy_first = legacy_pass.first
        else:
            passes = [self.eliminate(version, True, catalogue.legacy[version], extras=True)]
            preferred = legacy_first = passes[0].first
        found: list[str] = []
        for one in passes:
            for cipher in one.found:
                name = catalogue.name(cipher, version)
                if name not in found:
                    found.append(name)
        unknown = "; ".join(p.unknown for p in passes if p.unknown)
        if found:
            accepted: bool | None = True
            detail = f"enumeration incomplete: {unknown}" if unknown else ""
        elif unknown:
            accepted, detail = None, unknown
        else:
            accepted = False
            detail = next((p.refusal for p in passes if p.refusal), "refused")
        retries = sum(p.retries for p in passes)
        if retries:
            reason = next(p.retried for p in passes if p.retried)
            note = f"{retries} connection{'s' if retries > 1 else ''} retried after {reason}"
            detail = f"{detail}; {note}" if detail else note
        preferred_name = None
        if preferred is not None and preferred.status == "ok" and preferred.cipher:
            preferred_name = catalogue.name(preferred.cipher, version)
        probe = VersionProbe(
            version=version,
            accepted=accepted,
            detail=detail,
            cipher_suites=tuple(found),
            preferred=preferred_name,
            suites_complete=not (found and unknown),
        )
        return _VersionResult(
            probe,
            preferred if _ok(preferred) else None,
            legacy_first if _ok(legacy_first) else None,
        )

    def renegotiation_followup(
        self, version: TlsVersion, cipher_names: Sequence[str]
    ) -> _Handshake:
        """A legacy handshake just for the renegotiation facts (when TLS 1.2 gave none)."""
        catalogue = _suites()
        offer = [c for c in catalogue.legacy[version] if catalogue.name(c, version) in cipher_names]
        return self.handshake(
            version, True, offer or catalogue.legacy[version], extras=True, renegotiate=True
        )

    # ----------------------------------------------------------------- the whole address

    def run(self) -> TlsScan:
        at = datetime.now(UTC)
        started = time.perf_counter()
        base = TlsScan(
            host=self.request.host,
            address=self.request.address,
            port=self.request.port,
            at=at.isoformat(timespec="milliseconds"),
            profile=self.settings.profile_name,
        )

        def finish(**fields: Any) -> TlsScan:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return replace(
                base,
                elapsed_ms=elapsed,
                connections=self.connections,
                handshakes=self.handshakes,
                **fields,
            )

        refusal = _address_refusal(self.request.address, self.settings.allow_private)
        if refusal is not None:
            return finish(error=refusal)
        opened = self.open()
        if opened.sock is None:
            return finish(smtp=opened.dialogue, error=opened.error)
        self._spare = opened
        try:
            results = self._probe_versions()
        finally:
            with self._lock:
                spare, self._spare = self._spare, None
            if spare is not None and spare.sock is not None:
                spare.sock.close()
        return finish(smtp=opened.dialogue, **self._facts(results, at))

    def _probe_versions(self) -> dict[TlsVersion, _VersionResult]:
        # TLS 1.3 first: it takes over the dialogue's open connection, so even with one worker
        # no more than connections_per_address connections are ever open at once.
        order = (
            TlsVersion.TLS_1_3,
            TlsVersion.TLS_1_2,
            TlsVersion.TLS_1_1,
            TlsVersion.TLS_1_0,
            TlsVersion.SSL_3_0,
            TlsVersion.SSL_2_0,
        )
        workers = max(1, self.settings.connections_per_address)
        with ThreadPoolExecutor(workers, thread_name_prefix="govmail-tls-version") as pool:
            futures = {v: pool.submit(self.probe, v) for v in order}
            return {v: futures[v].result() for v in order}

    def _facts(self, results: dict[TlsVersion, _VersionResult], now: datetime) -> dict[str, Any]:
        accepted = [v for v in reversed(_ORDER) if results[v].probe.accepted]
        facts: dict[str, Any] = {"versions": tuple(results[v].probe for v in _ORDER)}
        if not accepted:
            if self._non_tls is not None:
                # No version can be judged on a server that does not speak TLS after STARTTLS:
                # no probes are recorded, and the error says what came instead.
                return {"versions": (), "error": ProbeError(ErrorKind.TLS_HANDSHAKE, self._non_tls)}
            unknown = [results[v].probe for v in _ORDER if results[v].probe.accepted is None]
            if unknown:
                detail = "; ".join(f"{p.version.value}: {p.detail}" for p in unknown)
                facts["error"] = ProbeError(
                    ErrorKind.TLS_HANDSHAKE, f"no handshake completed ({detail})"[:1000]
                )
            return facts
        top = results[accepted[0]].preferred
        if top is not None:
            facts["chain_pem"] = top.chain
            facts["key_exchange"] = _key_exchange(top)
            facts["trust"] = _check_chain(top.chain, self.sources, now)
        legacy = [v for v in accepted if v is not TlsVersion.TLS_1_3 and results[v].legacy_first]
        if legacy:
            first = results[legacy[0]].legacy_first
            assert first is not None
            renegotiation = first.client_renegotiation
            if renegotiation is None:  # not tried on that connection: one more, on purpose
                again = self.renegotiation_followup(
                    legacy[0], results[legacy[0]].probe.cipher_suites
                )
                renegotiation = again.client_renegotiation if _ok(again) else None
            facts.update(
                compression=first.compression,
                secure_renegotiation=first.secure_renegotiation,
                client_renegotiation=renegotiation,
            )
        elif accepted == [TlsVersion.TLS_1_3]:
            # TLS 1.3 has neither compression nor renegotiation (RFC 8446 sections 4.1.2, 4.2).
            facts.update(compression=False, secure_renegotiation=True, client_renegotiation=False)
        return facts


# --------------------------------------------------------------------------- helpers


def _ok(shake: _Handshake | None) -> bool:
    return shake is not None and shake.status == "ok"


def _display(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _no_tls_reason(dialogue: SmtpDialogue | None) -> str:
    if dialogue is None:
        return "no connection"
    if dialogue.starttls_offered is False:
        return "STARTTLS no longer advertised"
    if dialogue.starttls_reply:
        return f"STARTTLS answered {dialogue.starttls_reply.splitlines()[0]}"
    return "no STARTTLS"


def _current_cipher(client: BaseSslClient) -> str | None:
    try:
        name = client.get_current_cipher_name()
    except Exception:
        return None
    return name or None


def _openssl_message(exc: OpenSSLError) -> str:
    text = str(exc.args[0] if exc.args else exc).strip()
    # "error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version" -> the reason
    return text.rsplit(":", 1)[-1].strip() or text


def _close(client: BaseSslClient, timed: _TimedSocket, outcome_ok: bool) -> None:
    """End the session politely: QUIT over TLS when it is up, then close; never raise."""
    if outcome_ok:
        with contextlib.suppress(Exception):
            client.write(b"QUIT\r\n")
        with contextlib.suppress(Exception):
            client.shutdown()
    timed.close()


def _key_exchange(shake: _Handshake) -> KeyExchange | None:
    key = shake.key
    if isinstance(key, EcDhEphemeralKeyInfo):
        return KeyExchange("ECDHE", group=_GROUPS.get(key.curve_name, key.curve_name))
    if isinstance(key, DhEphemeralKeyInfo):
        return KeyExchange("DHE", bits=key.size)
    name = iana_name(shake.cipher or "")
    for prefix, kind in (
        ("TLS_ECDHE_", "ECDHE"),
        ("TLS_DHE_", "DHE"),
        ("TLS_ECDH_anon_", "ECDH_anon"),
        ("TLS_DH_anon_", "DH_anon"),
        ("TLS_ECDH_", "ECDH"),
        ("TLS_DH_", "DH"),
        ("TLS_RSA_", "RSA"),
    ):
        if name.startswith(prefix):
            return KeyExchange(kind)
    return None


def _address_refusal(address: str, allow_private: bool) -> ProbeError | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ProbeError(ErrorKind.MALFORMED, f"{address!r} is not an IP address")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private or (ip.is_global and not ip.is_multicast):
        return None
    if ip.is_loopback:
        what = "loopback"
    elif ip.is_link_local:
        what = "link-local"
    elif ip.is_private:
        what = "private"
    else:
        what = "not globally routable"
    return ProbeError(
        ErrorKind.PRIVATE_ADDRESS,
        f"{address} is {what}; not probed without --govmail-allow-private",
    )


# --------------------------------------------------------------------------- entry points


def scan_address(request: ScanRequest, settings: TlsScanSettings | None = None) -> TlsScan:
    """Scan one address; see :func:`scan_addresses`."""
    settings = settings or TlsScanSettings()
    return scan_addresses([request], settings)[(request.host, request.address)]


def scan_addresses(
    requests: Sequence[ScanRequest], settings: TlsScanSettings
) -> dict[tuple[str, str], TlsScan]:
    """Scan every ``(host, address)`` once, in parallel, and return the scans keyed by it.

    Remote failures are recorded in each :class:`TlsScan`; only a local misconfiguration (an
    unreadable ``ca_file``) raises ``ValueError``, before any connection is made.
    """
    scanner = AddressScanner(settings)
    scanner.submit(requests)
    return scanner.results()


class AddressScanner:
    """Scans ``(host, address)`` pairs as they are submitted, each once, in a bounded pool.

    :func:`scan_addresses` submits a whole list; the engine submits each domain's MX addresses
    as soon as DNS has found them, so that the scans (and a mute server's timeout) run while
    the rest of DNS is still answering. :meth:`results` waits for every scan submitted.
    """

    def __init__(self, settings: TlsScanSettings) -> None:
        self.settings = settings
        self._sources = [_mozilla_anchors()]
        if settings.ca_file is not None:
            self._sources.append(_file_anchors(settings.ca_file))
        _suites()  # build the catalogue once, outside the worker threads
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[tuple[str, str], Future[TlsScan]] = {}
        self._lock = threading.Lock()  # submit() may be called from another thread

    def submit(self, requests: Sequence[ScanRequest]) -> int:
        """Start scanning the requests not yet submitted; how many were new."""
        new = 0
        with self._lock:
            for request in requests:
                key = (request.host, request.address)
                if key in self._futures:
                    continue
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        max(1, self.settings.max_parallel_addresses),
                        thread_name_prefix="govmail-tls",
                    )
                self._futures[key] = self._pool.submit(self._one, request)
                new += 1
        return new

    def results(self) -> dict[tuple[str, str], TlsScan]:
        """Every submitted scan, once all are done; the pool's threads are then let go."""
        with self._lock:
            futures = dict(self._futures)
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        return {key: future.result() for key, future in futures.items()}

    def _one(self, request: ScanRequest) -> TlsScan:
        try:
            return _AddressScan(request, self.settings, self._sources).run()
        except Exception as exc:  # a bug must cost one address, not the run
            _log.warning("TLS scan of %s failed", request, exc_info=True)
            return TlsScan(
                host=request.host,
                address=request.address,
                port=request.port,
                error=ProbeError(ErrorKind.OTHER, f"scanner error: {exc!r}"[:500]),
                profile=self.settings.profile_name,
            )
