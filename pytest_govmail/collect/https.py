"""Fetch MTA-STS policies over HTTPS exactly as RFC 8461 section 3.3 asks, and record everything.

This is the only HTTPS code that touches the network. It is a deliberately small HTTP/1.1 client
on :mod:`socket` and :mod:`ssl`, so that every limit is ours:

* One GET of ``https://mta-sts.<domain>/.well-known/mta-sts.txt``, sent to an address the
  caller gives (from the run's own DNS answers for ``mta-sts.<domain>``), tried in order until a
  TCP connection is made; SNI and ``Host`` name the policy host (``Host`` adds ``:port`` when the
  port is not 443, as HTTP requires).
* Only public addresses unless ``allow_private``: a loopback, private, link-local, shared,
  multicast, reserved or unspecified address is never contacted, and the address a connection
  actually reached is checked again (an IPv4-mapped IPv6 address is judged as its IPv4 address).
* The TLS handshake does not stop at a bad certificate: the chain is recorded and validated
  afterwards with ``cryptography``'s X.509 verifier, for the policy host at the time of the
  fetch, against the public store (certifi's Mozilla bundle when installed, trust name
  ``mozilla``; else the system bundle, ``system``) and, separately, the user's ``ca_file``
  (``ca-file``), the names the certificate judges use for the MX hosts. A failure is data in
  the evidence, not an exception.
* No redirect is followed: a 3xx is recorded with its ``Location``. The body is read only for a
  200 and only up to :data:`~pytest_govmail.model.https.MAX_BODY_BYTES` (plus the one byte that
  proves it was longer); ``Content-Length``, chunked transfer coding and close-delimited bodies
  are handled. The status line and header section are bounded (:data:`MAX_HEADER_BYTES`,
  :data:`MAX_HEADERS`).
* One overall deadline (``timeout``) bounds the whole fetch (connect, handshake, headers, body):
  every socket operation gets only the time that is left, so headers or a body that never end,
  or arrive a byte a second, stop at the deadline rather than at a per-read timeout.

:func:`fetch_policy` never raises for a remote failure; :func:`fetch_policies` runs many at once
in a bounded thread pool.
"""

from __future__ import annotations

import _ssl
import codecs
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from pytest_govmail.collect.quiet import certificate_warnings_ignored
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.https import (
    MAX_BODY_BYTES,
    POLICY_PATH,
    CertificateCheck,
    PolicyFetch,
    policy_host,
    policy_url,
)
from pytest_govmail.model.tls import TrustCheck
from pytest_govmail.records.mtasts_policy import is_hostname, mx_pattern_matches

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "PolicyRequest",
    "address_problem",
    "check_certificate",
    "fetch_policies",
    "fetch_policy",
]

#: The status line plus header section, in bytes; beyond it the fetch stops (TOO_LARGE).
MAX_HEADER_BYTES = 32 * 1024
#: Header fields kept; beyond it the fetch stops (TOO_LARGE).
MAX_HEADERS = 100
#: Addresses tried for one policy host (a hostile zone could list thousands).
MAX_ADDRESSES = 16
#: Certificates kept from the served chain.
MAX_CHAIN = 10
#: subjectAltNames kept from the leaf.
MAX_NAMES = 100
#: Characters kept of a ``Location`` header and of a header value in messages.
MAX_LOCATION = 2048
#: 1xx interim responses skipped before the final response.
MAX_INTERIM = 5
_RECV = 16 * 1024
_CHUNK_LINE = 1024
_DEFAULT_WORKERS = 16

_STATUS = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?:[ \t](.*))?\Z", re.DOTALL)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")


class PolicyRequest(NamedTuple):
    """One fetch to make: the domain and the addresses found for ``mta-sts.<domain>``."""

    domain: str
    addresses: tuple[str, ...]


class _Stop(Exception):
    """Ends a fetch with a recorded reason."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.error = ProbeError(kind, detail)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _State:
    """What a fetch has seen so far; frozen into a PolicyFetch at the end."""

    address: str | None = None
    attempts: list[str] = field(default_factory=list)
    tls_version: str | None = None
    chain_pem: tuple[str, ...] = ()
    certificate: CertificateCheck | None = None
    http_version: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    body_truncated: bool = False
    body_bytes_read: int = 0


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def left(self, what: str) -> float:
        """The time left, or a TIMEOUT stop naming what was not done in time."""
        remaining = self.remaining()
        if remaining <= 0:
            raise _Stop(ErrorKind.TIMEOUT, f"{what} within the {self.timeout:g} s deadline")
        return remaining


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a public unicast address (None when it is one).

    An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private or special-purpose"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    for failed, why in checks:
        if failed:
            return why
    return None


def _connect(
    addresses: Sequence[str], port: int, deadline: _Deadline, allow_private: bool, st: _State
) -> socket.socket:
    # First decide which addresses may be contacted, then try them in the order given, noting
    # the skipped ones in place; each connect gets an even share of the time that is left.
    plan: list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None, str]] = []
    refused_private: list[str] = []
    for text in addresses[:MAX_ADDRESSES]:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            plan.append((text, None, f"{text[:80]!r}: not an IP address; not contacted"))
            continue
        problem = address_problem(str(ip))
        if problem is not None and not allow_private:
            plan.append((str(ip), None, f"{ip}: {problem} address; not contacted"))
            refused_private.append(f"{ip} ({problem})")
            continue
        plan.append((str(ip), ip, ""))
    candidates = sum(1 for _, ip, _ in plan if ip is not None)
    kinds: list[ErrorKind] = []
    tried = 0
    for text, target, note in plan:
        if target is None:
            st.attempts.append(note)
            continue
        left = deadline.left(f"no connection to {text} port {port}")
        budget = left / (candidates - tried)
        tried += 1
        family = socket.AF_INET6 if target.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(budget)
            sock.connect((text, port))
            peer = str(sock.getpeername()[0])
        except TimeoutError:
            sock.close()
            st.attempts.append(f"{text}: connect timed out after {budget:.2g} s")
            kinds.append(ErrorKind.TIMEOUT)
            continue
        except ConnectionRefusedError:
            sock.close()
            st.attempts.append(f"{text}: connection refused")
            kinds.append(ErrorKind.CONNECTION_REFUSED)
            continue
        except OSError as exc:
            sock.close()
            st.attempts.append(f"{text}: {exc.strerror or exc}")
            kinds.append(ErrorKind.OTHER)
            continue
        problem = address_problem(peer)
        if problem is not None and not allow_private:
            sock.close()
            st.attempts.append(f"{text}: connected to {peer}, a {problem} address; closed")
            raise _Stop(
                ErrorKind.PRIVATE_ADDRESS,
                f"the connection for {text} reached {peer}, a {problem} address",
            )
        st.address = peer
        st.attempts.append(f"{text}: connected")
        return sock
    if len(addresses) > MAX_ADDRESSES:
        st.attempts.append(f"{len(addresses) - MAX_ADDRESSES} more addresses not tried")
    if not candidates and refused_private:
        raise _Stop(
            ErrorKind.PRIVATE_ADDRESS,
            "only non-public addresses: "
            + ", ".join(refused_private)
            + " (not contacted; --govmail-allow-private allows them)",
        )
    if not candidates:
        raise _Stop(ErrorKind.OTHER, "no address to connect to")
    if ErrorKind.TIMEOUT in kinds:
        kind = ErrorKind.TIMEOUT
    elif all(k is ErrorKind.CONNECTION_REFUSED for k in kinds):
        kind = ErrorKind.CONNECTION_REFUSED
    else:
        kind = ErrorKind.OTHER
    raise _Stop(kind, f"no connection to port {port}: " + "; ".join(st.attempts))


# --------------------------------------------------------------------------------------------
# TLS and the certificate
# --------------------------------------------------------------------------------------------


def _client_context() -> ssl.SSLContext:
    # Verification is done afterwards, per trust source, so that a bad certificate is recorded
    # with its chain rather than ending the fetch; nothing is sent before the handshake ends.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return context


_CONTEXT = _client_context()


def _handshake(sock: socket.socket, host: str, deadline: _Deadline, st: _State) -> ssl.SSLSocket:
    tls = _CONTEXT.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    try:
        tls.settimeout(deadline.left("no TLS handshake"))
        tls.do_handshake()
    except TimeoutError:
        tls.close()
        raise _Stop(
            ErrorKind.TIMEOUT, f"TLS handshake not complete within {deadline.timeout:g} s"
        ) from None
    except ssl.SSLError as exc:
        tls.close()
        raise _Stop(ErrorKind.TLS_HANDSHAKE, f"TLS handshake failed: {_ssl_reason(exc)}") from None
    except OSError as exc:
        tls.close()
        raise _Stop(
            ErrorKind.TLS_HANDSHAKE, f"connection lost during the TLS handshake: {exc}"
        ) from None
    st.tls_version = tls.version()
    return tls


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    return f"{reason} ({exc.strerror or exc})" if reason else str(exc)


def _peer_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The chain as served (DER), leaf first; just the leaf where the runtime cannot say more."""
    sslobj: Any = getattr(tls, "_sslobj", None)
    getter = getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            return [bytes(c.public_bytes(_ssl.ENCODING_DER)) for c in chain[:MAX_CHAIN]]
        except (ssl.SSLError, ValueError, AttributeError):
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


_store_lock = threading.Lock()
_stores: dict[tuple[str, float], tuple[Store | None, str]] = {}


def _public_bundle() -> tuple[str, Path | None]:
    """The public store: ("mozilla", certifi's bundle) when installed, else ("system", ...)."""
    try:
        import certifi
    except ImportError:
        cafile = ssl.get_default_verify_paths().cafile
        return "system", Path(cafile) if cafile else None
    return "mozilla", Path(certifi.where())


def _load_store(path: Path) -> tuple[Store | None, str]:
    """A verifier store from a PEM bundle (cached per path and mtime), or why there is none."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    with _store_lock:
        cached = _stores.get(key)
        if cached is not None:
            return cached
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, f"cannot read {path}: {exc.strerror or exc}"
        certs: list[x509.Certificate] = []
        for block in re.findall(
            rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.DOTALL
        ):
            cert = _load_certificate(block, pem=True)
            if cert is not None:
                certs.append(cert)
        result: tuple[Store | None, str] = (
            (Store(certs), "") if certs else (None, f"no certificates in {path}")
        )
        _stores[key] = result
        return result


def _load_certificate(data: bytes, *, pem: bool = False) -> x509.Certificate | None:
    """A certificate, or None when it cannot be parsed.

    cryptography warns (CryptographyDeprecationWarning) about certificates that break RFC 5280
    in ways it still accepts, such as a negative serial number in some public roots; those
    warnings are about the remote data, not this code, so they are silenced here
    (:mod:`pytest_govmail.collect.quiet` says why through one lock).
    """
    with certificate_warnings_ignored():
        try:
            if pem:
                return x509.load_pem_x509_certificate(data)
            return x509.load_der_x509_certificate(data)
        except ValueError:
            return None


def _san_names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    except ValueError:
        return ()
    return tuple(str(n) for n in san.value.get_values_for_type(x509.DNSName)[:MAX_NAMES])


def check_certificate(
    chain_der: Sequence[bytes], host: str, ca_file: Path | None, at: datetime
) -> CertificateCheck:
    """Validate a served chain for ``host`` at time ``at`` against each trust source."""
    if not chain_der:
        return CertificateCheck(False, "the server presented no certificate")
    certs: list[x509.Certificate] = []
    for index, der in enumerate(chain_der):
        cert = _load_certificate(der)
        if cert is None:
            which = "leaf" if index == 0 else f"chain certificate {index + 1}"
            return CertificateCheck(False, f"the served {which} cannot be parsed")
        certs.append(cert)
    leaf, intermediates = certs[0], certs[1:]
    names = _san_names(leaf)
    name_matches = any(mx_pattern_matches(n, host) for n in names)
    sources: list[tuple[str, Path | None]] = [_public_bundle()]
    if ca_file is not None:
        sources.append(("ca-file", ca_file))
    trust: list[TrustCheck] = []
    for label, path in sources:
        if path is None:
            trust.append(TrustCheck(label, False, "no trust store found"))
            continue
        store, why = _load_store(path)
        if store is None:
            trust.append(TrustCheck(label, False, why))
            continue
        try:
            verifier = (
                PolicyBuilder()
                .store(store)
                .time(at.astimezone(UTC).replace(tzinfo=None))
                .build_server_verifier(x509.DNSName(host))
            )
            verifier.verify(leaf, intermediates)
        except VerificationError as exc:
            trust.append(TrustCheck(label, False, str(exc)))
        except (ValueError, TypeError) as exc:
            trust.append(TrustCheck(label, False, f"{type(exc).__name__}: {exc}"))
        else:
            trust.append(TrustCheck(label, True, ""))
    verified = any(t.verified for t in trust)
    detail = ""
    if not verified:
        reasons = []
        if not name_matches:
            shown = ", ".join(names[:10]) if names else "no DNS names"
            reasons.append(f"the certificate names {shown}, not {host}")
        now_utc = at.astimezone(UTC)
        if leaf.not_valid_after_utc < now_utc:
            reasons.append(f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
        elif leaf.not_valid_before_utc > now_utc:
            reasons.append(
                f"the certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
            )
        reasons.extend(f"{t.store}: {t.detail}" for t in trust)
        detail = "; ".join(reasons)
    return CertificateCheck(verified, detail, names, name_matches, tuple(trust))


# --------------------------------------------------------------------------------------------
# HTTP/1.1
# --------------------------------------------------------------------------------------------


class _Reader:
    """Buffered reads from the TLS socket, each bounded by the fetch's deadline."""

    def __init__(self, tls: ssl.SSLSocket, deadline: _Deadline) -> None:
        self.tls = tls
        self.deadline = deadline
        self.buffer = bytearray()
        self.eof = False

    def fill(self, what: str, size: int = _RECV) -> bool:
        """Read more into the buffer; False at end of stream."""
        if self.eof:
            return False
        self.tls.settimeout(self.deadline.left(what))
        try:
            data = self.tls.recv(max(1, min(size, _RECV)))
        except TimeoutError:
            raise _Stop(
                ErrorKind.TIMEOUT, f"{what} within the {self.deadline.timeout:g} s deadline"
            ) from None
        except ssl.SSLError as exc:
            raise _Stop(
                ErrorKind.PROTOCOL, f"TLS error while reading: {_ssl_reason(exc)}"
            ) from None
        except OSError as exc:
            raise _Stop(ErrorKind.PROTOCOL, f"connection lost while reading: {exc}") from None
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def line(self, limit: int, what: str) -> bytes | None:
        """One line without its LF/CRLF, at most ``limit`` bytes; None at end of stream."""
        while True:
            end = self.buffer.find(b"\n", 0, limit + 1)
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buffer) > limit:
                raise _Stop(ErrorKind.TOO_LARGE, f"{what} longer than {limit} bytes")
            if not self.fill(f"no complete {what}"):
                if self.buffer:
                    raise _Stop(ErrorKind.PROTOCOL, f"the connection closed inside {what}")
                return None

    def take(self, size: int, what: str) -> bytes:
        """Between 1 and ``size`` bytes, waiting only when none are buffered; b"" at the end."""
        if not self.buffer:
            self.fill(what, size)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


def _read_head(reader: _Reader, st: _State) -> None:
    """Status line and header fields of the final response (1xx responses are skipped)."""
    budget = MAX_HEADER_BYTES
    for _ in range(MAX_INTERIM + 1):
        raw = reader.line(budget, "status line")
        if raw is None:
            raise _Stop(ErrorKind.PROTOCOL, "the connection closed before any response")
        budget -= len(raw) + 2
        match = _STATUS.match(raw)
        if match is None:
            raise _Stop(ErrorKind.PROTOCOL, f"not an HTTP/1.x status line: {raw[:80]!r}")
        st.http_version = f"HTTP/{match.group(1).decode()}.{match.group(2).decode()}"
        st.status = int(match.group(3))
        st.reason = (match.group(4) or b"").decode("latin-1")[:200]
        st.headers = []
        while True:
            if budget <= 0:
                raise _Stop(ErrorKind.TOO_LARGE, f"response headers over {MAX_HEADER_BYTES} bytes")
            raw = reader.line(budget, "header section")
            if raw is None:
                raise _Stop(ErrorKind.PROTOCOL, "the connection closed inside the headers")
            budget -= len(raw) + 2
            if raw == b"":
                break
            if raw[:1] in (b" ", b"\t"):
                if not st.headers:
                    raise _Stop(ErrorKind.PROTOCOL, "a folded line before any header field")
                last_name, last_value = st.headers[-1]
                folded = raw.strip(b" \t").decode("latin-1")
                st.headers[-1] = (last_name, f"{last_value} {folded}")
                continue
            name, colon, value = raw.partition(b":")
            if not colon or _TOKEN.match(name) is None:
                raise _Stop(ErrorKind.PROTOCOL, f"not a header field: {raw[:80]!r}")
            if len(st.headers) >= MAX_HEADERS:
                raise _Stop(ErrorKind.TOO_LARGE, f"more than {MAX_HEADERS} header fields")
            st.headers.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))
        if st.status == 101:
            raise _Stop(ErrorKind.PROTOCOL, "the server switched protocols (101)")
        if not 100 <= st.status < 200:
            return
    raise _Stop(ErrorKind.PROTOCOL, f"more than {MAX_INTERIM} interim (1xx) responses")


def _header(st: _State, name: str) -> list[str]:
    return [v for k, v in st.headers if k.lower() == name]


def _add_body(st: _State, data: bytes) -> bool:
    """Keep ``data``; True once more than the limit has been seen (stop reading)."""
    st.body_bytes_read += len(data)
    room = MAX_BODY_BYTES - len(st.body)
    st.body += data[: max(room, 0)]
    if st.body_bytes_read > MAX_BODY_BYTES:
        st.body_truncated = True
        return True
    return False


def _read_body(reader: _Reader, st: _State) -> None:
    codings = [
        c.strip().lower()
        for v in _header(st, "transfer-encoding")
        for c in v.split(",")
        if c.strip()
    ]
    if codings:
        if codings[-1] == "chunked":
            _read_chunked(reader, st)
        else:
            _read_until_close(reader, st)
        return
    lengths = {part.strip() for value in _header(st, "content-length") for part in value.split(",")}
    if lengths:
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise _Stop(ErrorKind.PROTOCOL, f"invalid Content-Length: {sorted(lengths)[:3]}")
        length = int(next(iter(lengths)))
        if length > MAX_BODY_BYTES:
            st.body_truncated = True
        wanted = min(length, MAX_BODY_BYTES)
        while len(st.body) < wanted:
            data = reader.take(min(_RECV, wanted - len(st.body)), "no complete body")
            if not data:
                raise _Stop(
                    ErrorKind.PROTOCOL,
                    f"the body ended after {len(st.body)} of {length} bytes (Content-Length)",
                )
            _add_body(st, data)
        return
    _read_until_close(reader, st)


def _read_until_close(reader: _Reader, st: _State) -> None:
    while True:
        data = reader.take(min(_RECV, MAX_BODY_BYTES + 1 - st.body_bytes_read), "no end of body")
        if not data or _add_body(st, data):
            return


def _read_chunked(reader: _Reader, st: _State) -> None:
    while True:
        line = reader.line(_CHUNK_LINE, "chunk size line")
        if line is None:
            raise _Stop(ErrorKind.PROTOCOL, "the connection closed inside a chunked body")
        size_text = line.split(b";", 1)[0].strip(b" \t")
        if _HEX.match(size_text) is None:
            raise _Stop(ErrorKind.PROTOCOL, f"invalid chunk size line: {line[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            return  # trailers are not needed; the connection is closed
        remaining = size
        while remaining:
            data = reader.take(min(_RECV, remaining, MAX_BODY_BYTES + 1), "no complete chunk")
            if not data:
                raise _Stop(ErrorKind.PROTOCOL, "the connection closed inside a chunk")
            remaining -= len(data)
            if _add_body(st, data):
                return
        try:
            end = reader.line(2, "chunk end")
        except _Stop as stop:
            if stop.error.kind is not ErrorKind.TOO_LARGE:
                raise
            end = None
        if end != b"":
            raise _Stop(ErrorKind.PROTOCOL, "a chunk not followed by CRLF")


_version_cache: list[str] = []


def _user_agent() -> str:
    if not _version_cache:
        try:
            _version_cache.append(metadata.version("pytest-govmail"))
        except metadata.PackageNotFoundError:
            _version_cache.append("dev")
    return f"pytest-govmail/{_version_cache[0]} (MTA-STS policy check)"


def _request(host: str, port: int) -> bytes:
    authority = host if port == 443 else f"{host}:{port}"
    return (
        f"GET {POLICY_PATH} HTTP/1.1\r\n"
        f"Host: {authority}\r\n"
        f"User-Agent: {_user_agent()}\r\n"
        "Accept: text/plain\r\n"
        "Accept-Encoding: identity\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")


# --------------------------------------------------------------------------------------------
# The fetch
# --------------------------------------------------------------------------------------------


def fetch_policy(
    domain: str,
    addresses: Sequence[str],
    *,
    port: int = 443,
    timeout: float = 10.0,
    ca_file: Path | None = None,
    allow_private: bool = False,
) -> PolicyFetch:
    """GET the MTA-STS policy of ``domain`` from the first of ``addresses`` that connects.

    ``timeout`` bounds the whole fetch. Never raises for a remote failure: the result's ``error``
    says what stopped it, and everything seen before that is kept.
    """
    if isinstance(addresses, str):  # one address given bare, not a list of its characters
        addresses = (addresses,)
    host = policy_host(domain)
    started = _utc_now()
    clock = time.perf_counter()
    deadline = _Deadline(timeout)
    st = _State()
    error: ProbeError | None = None
    tls: ssl.SSLSocket | None = None
    try:
        if not is_hostname(host):
            raise _Stop(ErrorKind.OTHER, f"{host[:100]!r} is not a valid host name")
        sock = _connect(tuple(addresses), port, deadline, allow_private, st)
        tls = _handshake(sock, host, deadline, st)
        chain = _peer_chain(tls)
        st.chain_pem = tuple(ssl.DER_cert_to_PEM_cert(der) for der in chain)
        st.certificate = check_certificate(chain, host, ca_file, _utc_now())
        tls.settimeout(deadline.left("request not sent"))
        try:
            tls.sendall(_request(host, port))
        except TimeoutError:
            raise _Stop(ErrorKind.TIMEOUT, "the request could not be sent in time") from None
        except OSError as exc:
            raise _Stop(ErrorKind.PROTOCOL, f"connection lost sending the request: {exc}") from None
        reader = _Reader(tls, deadline)
        _read_head(reader, st)
        if st.status == 200:
            _read_body(reader, st)
    except _Stop as stop:
        error = stop.error
    except Exception as exc:  # never raise for what a server did; say what happened instead
        error = ProbeError(ErrorKind.OTHER, f"unexpected {type(exc).__name__}: {exc}")
    finally:
        if tls is not None:
            tls.close()
    return _result(domain, host, port, tuple(addresses), st, started, clock, error)


def _result(
    domain: str,
    host: str,
    port: int,
    addresses: tuple[str, ...],
    st: _State,
    started: datetime,
    clock: float,
    error: ProbeError | None,
) -> PolicyFetch:
    raw = bytes(st.body)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        # A body cut at the limit may end inside a character: that alone is not invalid UTF-8.
        decoder.decode(raw, final=not st.body_truncated)
        body_utf8 = True
    except UnicodeDecodeError:
        body_utf8 = False
    content_type = _header(st, "content-type")
    location = _header(st, "location")
    return PolicyFetch(
        domain=domain,
        url=policy_url(domain, port),
        host=host,
        port=port,
        addresses=tuple(a[:100] for a in addresses[: MAX_ADDRESSES * 4]),
        address=st.address,
        attempts=tuple(st.attempts),
        at=started.isoformat(timespec="milliseconds"),
        elapsed_ms=round((time.perf_counter() - clock) * 1000, 1),
        tls_version=st.tls_version,
        chain_pem=st.chain_pem,
        certificate=st.certificate,
        http_version=st.http_version,
        status=st.status,
        reason=st.reason,
        headers=tuple(st.headers),
        content_type=content_type[0] if content_type else None,
        redirect_location=location[0][:MAX_LOCATION] if location else None,
        body=raw.decode("utf-8", errors="replace"),
        body_utf8=body_utf8,
        body_truncated=st.body_truncated,
        body_bytes_read=st.body_bytes_read,
        error=error,
    )


def fetch_policies(
    requests: Iterable[PolicyRequest | tuple[str, Sequence[str]]],
    *,
    port: int = 443,
    timeout: float = 10.0,
    ca_file: Path | None = None,
    allow_private: bool = False,
    max_workers: int = _DEFAULT_WORKERS,
) -> dict[str, PolicyFetch]:
    """Fetch many policies at once (at most ``max_workers`` in flight); keyed by domain.

    A domain given twice is fetched once (its first addresses win). Never raises for a remote
    failure. Every fetch has its own ``timeout``, so the whole call ends within about
    ``ceil(len(requests) / max_workers) * timeout``.
    """
    wanted: dict[str, tuple[str, ...]] = {}
    for domain, addresses in requests:
        wanted.setdefault(domain, tuple(addresses))
    if not wanted:
        return {}
    workers = max(1, min(max_workers, len(wanted)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="govmail-https") as pool:
        futures = {
            domain: pool.submit(
                fetch_policy,
                domain,
                addresses,
                port=port,
                timeout=timeout,
                ca_file=ca_file,
                allow_private=allow_private,
            )
            for domain, addresses in wanted.items()
        }
        return {domain: future.result() for domain, future in futures.items()}
