"""Fetch MTA-STS policies over HTTPS exactly as RFC 8461 section 3.3 asks, and record everything.

This is the only HTTPS code that touches the network: h11 frames HTTP/1.1 (RFC 9112) over our
own :mod:`socket` and :mod:`ssl`, so that every limit stays ours:

* One GET of ``https://mta-sts.<domain>/.well-known/mta-sts.txt``, sent to an address the
  caller gives (from the run's own DNS answers for ``mta-sts.<domain>``), tried in order until a
  TCP connection is made; SNI and ``Host`` name the policy host (``Host`` adds ``:port`` when the
  port is not 443, as HTTP requires).
* Only public addresses unless ``allow_private``: :mod:`pytest_govmail.collect.netsafety`
  judges each address before it is contacted, and the address a connection actually reached
  again, with the same policy as the SMTP scans.
* The TLS handshake does not stop at a bad certificate: the chain is recorded and validated
  afterwards with ``cryptography``'s X.509 verifier, for the policy host at the time of the
  fetch, against the stores of :mod:`pytest_govmail.collect.trust` (sslyze's Mozilla store,
  ``mozilla``, and separately the user's ``ca_file``, ``ca-file``), the ones the MX hosts are
  judged with. A failure is data in the evidence, not an exception.
* No redirect is followed: a 3xx is recorded with its ``Location``. The body is read only for a
  200 and only up to :data:`~pytest_govmail.model.https.MAX_BODY_BYTES` (plus what proves it
  was longer). The status line and header section are bounded (:data:`MAX_HEADER_BYTES`, h11's
  ``max_incomplete_event_size``; :data:`MAX_HEADERS`). A response with both Content-Length and
  Transfer-Encoding fails (RFC 9112 section 6.3: it "ought to be handled as an error", a sign of
  response splitting), and so does a 200 with a Content-Encoding other than identity, which the
  request did not accept (RFC 9110 section 12.5.3).
* One overall deadline (``timeout``) bounds the whole fetch (connect, handshake, headers, body):
  every socket operation gets only the time that is left, so headers or a body that never end,
  or arrive a byte a second, stop at the deadline rather than at a per-read timeout.

:func:`fetch_policy` never raises for a remote failure; :func:`fetch_policies` runs many at once
in a bounded thread pool.
"""

from __future__ import annotations

import codecs
import re
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import h11

from pytest_govmail.collect import netsafety
from pytest_govmail.collect.trust import check_certificate
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.https import (
    MAX_BODY_BYTES,
    POLICY_PATH,
    CertificateCheck,
    PolicyFetch,
    policy_host,
    policy_url,
)
from pytest_govmail.records.mtasts_policy import is_hostname

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "PolicyRequest",
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
#: Characters kept of a ``Location`` header and of a header value in messages.
MAX_LOCATION = 2048
#: 1xx interim responses skipped before the final response.
MAX_INTERIM = 5
_RECV = 16 * 1024
_STATUS = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?:[ \t]([^\r\n]{0,200}))?\Z")
_DEFAULT_WORKERS = 16


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

    def left(self, what: str) -> float:
        """The time left, or a TIMEOUT stop naming what was not done in time."""
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise _Stop(ErrorKind.TIMEOUT, f"{what} within the {self.timeout:g} s deadline")
        return remaining


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
    """The chain as served (DER), leaf first; just the leaf where the runtime cannot say more.

    Python 3.13 has ``SSLSocket.get_unverified_chain()`` (DER); 3.10 to 3.12 have it only on
    the underlying ``_sslobj``, returning certificate objects whose ``public_bytes()`` is PEM.
    """
    public: Any = getattr(tls, "get_unverified_chain", None)
    sslobj: Any = getattr(tls, "_sslobj", None)
    private: Any = getattr(sslobj, "get_unverified_chain", None)
    try:
        if public is not None:
            return [bytes(der) for der in (public() or [])[:MAX_CHAIN]]
        if private is not None:
            chain = private() or []
            return [ssl.PEM_cert_to_DER_cert(c.public_bytes()) for c in chain[:MAX_CHAIN]]
    except (ssl.SSLError, ValueError, AttributeError, TypeError):
        pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


# --------------------------------------------------------------------------------------------
# HTTP/1.1, framed by h11
# --------------------------------------------------------------------------------------------

#: h11's complaint (its message's start) -> our kind and wording, which the evidence keeps.
_H11_ERRORS: tuple[tuple[str, ErrorKind, str], ...] = (
    ("Receive buffer too long", ErrorKind.TOO_LARGE, f"a line over {MAX_HEADER_BYTES} bytes"),
    ("illegal status line", ErrorKind.PROTOCOL, "not an HTTP/1.x status line"),
    ("illegal request line", ErrorKind.PROTOCOL, "not an HTTP/1.x status line"),
    ("no response line", ErrorKind.PROTOCOL, "not an HTTP/1.x status line"),
    ("illegal header line", ErrorKind.PROTOCOL, "not a header field"),
    ("continuation line at start", ErrorKind.PROTOCOL, "a folded line before any header field"),
    ("conflicting Content-Length", ErrorKind.PROTOCOL, "invalid Content-Length"),
    ("bad Content-Length", ErrorKind.PROTOCOL, "invalid Content-Length"),
    ("Only Transfer-Encoding: chunked", ErrorKind.PROTOCOL, "unsupported Transfer-Encoding"),
    ("multiple Transfer-Encoding", ErrorKind.PROTOCOL, "unsupported Transfer-Encoding"),
    ("malformed chunk footer", ErrorKind.PROTOCOL, "a chunk not followed by CRLF"),
    ("illegal chunk header", ErrorKind.PROTOCOL, "invalid chunk size line"),
    ("Received server _SWITCH", ErrorKind.PROTOCOL, "the server switched protocols (101)"),
)


def _h11_stop(exc: h11.RemoteProtocolError, st: _State, eof: bool, first: bytes) -> _Stop:
    """Our recorded reason for what h11 refused (its own words kept, bounded, in brackets)."""
    message = str(exc)
    if st.http_version is None and eof and not first:
        return _Stop(ErrorKind.PROTOCOL, "the connection closed before any response")
    if eof and message.startswith("peer closed connection"):
        lengths = [v for k, v in st.headers if k.lower() == "content-length"]
        if lengths and lengths[0].isdigit():
            return _Stop(
                ErrorKind.PROTOCOL,
                f"the body ended after {st.body_bytes_read} of {lengths[0]} bytes (Content-Length)",
            )
        return _Stop(ErrorKind.PROTOCOL, "the connection closed inside a chunked body")
    for prefix, kind, ours in _H11_ERRORS:
        if message.startswith(prefix):
            if st.http_version is None and ours.startswith("not an HTTP"):
                return _Stop(kind, f"{ours}: {first[:80]!r}")
            if kind is ErrorKind.TOO_LARGE and st.http_version is None:
                ours = f"response headers over {MAX_HEADER_BYTES} bytes"
            return _Stop(kind, f"{ours} ({message[:200]})")
    if eof:
        where = "the headers" if st.http_version is None else "the body"
        return _Stop(ErrorKind.PROTOCOL, f"the connection closed inside {where}")
    return _Stop(ErrorKind.PROTOCOL, f"HTTP/1.1 framing error: {message[:200]}")


_version_cache: list[str] = []


def _user_agent() -> str:
    if not _version_cache:
        try:
            _version_cache.append(metadata.version("pytest-govmail"))
        except metadata.PackageNotFoundError:
            _version_cache.append("dev")
    return f"pytest-govmail/{_version_cache[0]} (MTA-STS policy check)"


def _request(host: str, port: int) -> tuple[h11.Connection, bytes]:
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
    headers = [
        ("Host", host if port == 443 else f"{host}:{port}"),
        ("User-Agent", _user_agent()),
        ("Accept", "text/plain"),
        ("Accept-Encoding", "identity"),
        ("Connection", "close"),
    ]
    data = conn.send(h11.Request(method="GET", target=POLICY_PATH, headers=headers))
    return conn, data + conn.send(h11.EndOfMessage())


def _record_head(event: h11.Response, st: _State) -> None:
    """Keep the final response's status and headers; refuse ambiguous framing and codings."""
    st.http_version = f"HTTP/{event.http_version.decode('ascii')}"
    st.status = event.status_code
    st.reason = event.reason.decode("latin-1")[:200]
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
    st.headers = raw[:MAX_HEADERS]
    if len(raw) > MAX_HEADERS:
        raise _Stop(ErrorKind.TOO_LARGE, f"more than {MAX_HEADERS} header fields")
    names = {name.lower() for name, _ in raw}
    if {"content-length", "transfer-encoding"} <= names:
        raise _Stop(
            ErrorKind.PROTOCOL,
            "both Content-Length and Transfer-Encoding: chunked "
            "(RFC 9112 section 6.3: ambiguous framing, handled as an error)",
        )
    codings = [
        c.strip().lower()
        for name, value in raw
        if name.lower() == "content-encoding"
        for c in value.split(",")
        if c.strip()
    ]
    if st.status == 200 and any(c != "identity" for c in codings):
        raise _Stop(
            ErrorKind.PROTOCOL,
            f"Content-Encoding: {', '.join(codings)[:100]} although the request asked for "
            "identity (Accept-Encoding: identity, RFC 9110 section 12.5.3)",
        )
    lengths = [v for k, v in raw if k.lower() == "content-length"]
    if st.status == 200 and lengths and lengths[0].isdigit():
        st.body_truncated = int(lengths[0]) > MAX_BODY_BYTES


def _header(st: _State, name: str) -> list[str]:
    return [v for k, v in st.headers if k.lower() == name]


def _add_body(st: _State, data: bytes) -> bool:
    """Keep ``data``; True once the limit has been reached (stop reading)."""
    st.body_bytes_read += len(data)
    room = MAX_BODY_BYTES - len(st.body)
    st.body += data[: max(room, 0)]
    if st.body_bytes_read > MAX_BODY_BYTES:
        st.body_truncated = True
    return st.body_truncated and len(st.body) >= MAX_BODY_BYTES


class _Wire:
    """Reads from the TLS socket into h11, each read bounded by the fetch's deadline."""

    def __init__(self, tls: ssl.SSLSocket, deadline: _Deadline) -> None:
        self.tls, self.deadline = tls, deadline
        self.first = b""  # the start of the response, for messages and a failed head's status
        self.eof = False

    def receive(self, conn: h11.Connection, st: _State) -> None:
        what = "no complete response head" if st.http_version is None else "no end of body"
        size = _RECV if st.http_version is None else MAX_BODY_BYTES + 1 - st.body_bytes_read
        self.tls.settimeout(self.deadline.left(what))
        try:
            data = self.tls.recv(max(1, min(_RECV, size)))
        except TimeoutError:
            detail = f"{what} within the {self.deadline.timeout:g} s deadline"
            raise _Stop(ErrorKind.TIMEOUT, detail) from None
        except ssl.SSLError as exc:
            detail = f"TLS error while reading: {_ssl_reason(exc)}"
            raise _Stop(ErrorKind.PROTOCOL, detail) from None
        except OSError as exc:
            raise _Stop(ErrorKind.PROTOCOL, f"connection lost while reading: {exc}") from None
        self.eof = not data
        self.first = self.first or data[:1024]
        conn.receive_data(data)


def _exchange(tls: ssl.SSLSocket, host: str, port: int, deadline: _Deadline, st: _State) -> None:
    """Send the GET and read the final response: its head, and for a 200 the body."""
    conn, request = _request(host, port)
    tls.settimeout(deadline.left("request not sent"))
    try:
        tls.sendall(request)
    except TimeoutError:
        raise _Stop(ErrorKind.TIMEOUT, "the request could not be sent in time") from None
    except OSError as exc:
        raise _Stop(ErrorKind.PROTOCOL, f"connection lost sending the request: {exc}") from None
    wire = _Wire(tls, deadline)
    try:
        _read_response(conn, wire, st)
    except _Stop:
        # A head that never completed (too large, too slow, malformed) still had a status line
        # worth keeping as evidence, as h11 delivers a head only whole.
        status = _STATUS.match(wire.first.split(b"\n", 1)[0].rstrip(b"\r"))
        if st.http_version is None and status is not None:
            st.http_version = f"HTTP/{status.group(1).decode()}"
            st.status, st.reason = int(status.group(2)), (status.group(3) or b"").decode("latin-1")
        raise


def _read_response(conn: h11.Connection, wire: _Wire, st: _State) -> None:
    interim = 0
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise _h11_stop(exc, st, wire.eof, wire.first) from None
        if event is h11.NEED_DATA:
            wire.receive(conn, st)
        elif isinstance(event, h11.InformationalResponse):
            interim += 1
            if interim > MAX_INTERIM:
                raise _Stop(ErrorKind.PROTOCOL, f"more than {MAX_INTERIM} interim (1xx) responses")
        elif isinstance(event, h11.Response):
            _record_head(event, st)
            if st.status != 200:
                return  # no redirect is followed and no other body is needed
        elif isinstance(event, h11.Data):
            if _add_body(st, bytes(event.data)):
                return
        else:  # EndOfMessage, ConnectionClosed
            return


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
        if len(addresses) > MAX_ADDRESSES:
            st.attempts.append(f"{len(addresses) - MAX_ADDRESSES} more addresses not tried")
        sock, st.address = netsafety.connect(
            tuple(addresses[:MAX_ADDRESSES]),
            port,
            end=deadline.end,
            timeout=timeout,
            allow_private=allow_private,
            attempts=st.attempts,
        )
        tls = _handshake(sock, host, deadline, st)
        chain = _peer_chain(tls)
        st.chain_pem = tuple(ssl.DER_cert_to_PEM_cert(der) for der in chain)
        st.certificate = check_certificate(chain, host, ca_file, _utc_now())
        _exchange(tls, host, port, deadline, st)
    except (_Stop, netsafety.NoConnection) as stop:
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
