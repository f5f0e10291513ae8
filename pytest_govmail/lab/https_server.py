"""A small HTTPS server for the lab's MTA-STS policy hosts (``mta-sts.<domain>``), good and bad.

The policy fetcher (:mod:`pytest_govmail.collect.https`) must be exercised against what real
policy hosts do wrong: redirects, 404s, HTML served instead of text, huge or endless bodies,
headers that never end, and certificates for the wrong name. This server does each on demand, on
loopback, with nothing but :mod:`socket`, :mod:`ssl` and :mod:`threading`.

Design, and why:

* Plain blocking sockets, one daemon thread per connection (bounded by ``max_connections``; a
  connection over the bound is closed at once), and one accept thread that multiplexes the
  listener with a wake-up socket, so :meth:`LabHttpsServer.stop` is immediate. TLS on plain
  sockets in threads sends the alerts OpenSSL produces (see the lab pitfalls note on asyncio).
* Every site (a host name) has a :class:`Site`: what to answer, with which behaviour, and which
  name its certificate carries. The site is chosen by SNI, since the certificate must be chosen
  before any HTTP is read (a client that sends no SNI gets an ``unrecognized_name`` alert); the
  ``Host`` header is logged beside it. A name with no site gets a certificate from a factory
  and then a 404 (from a mapping without that name: the alert); other paths get a 404.
* Certificates come from a mapping of host name to server :class:`ssl.SSLContext`, or from a
  factory called with the name the certificate must carry (``Site.cert_name`` or the host), e.g.
  one built on :class:`pytest_govmail.lab.pki.LabPki`, the lab's one certificate authority.
* Everything is bounded: request heads (16 KiB), generated bodies are streamed in 16 KiB pieces
  (a 10 MB body costs no memory), and endless behaviours stop when the client goes away, the
  server stops, or after ``max_stream_seconds``.
"""

from __future__ import annotations

import enum
import itertools
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, NamedTuple

from pytest_govmail.lab.lifecycle import LabServerLifecycle, tcp_listener

__all__ = [
    "POLICY_PATH",
    "Behaviour",
    "LabHttpsServer",
    "LoggedRequest",
    "Site",
    "policy_text",
]

_log = logging.getLogger(__name__)

POLICY_PATH = "/.well-known/mta-sts.txt"
_MAX_REQUEST_HEAD = 16 * 1024
_PIECE = 16 * 1024

ContextSource = Mapping[str, ssl.SSLContext] | Callable[[str], ssl.SSLContext]


class Behaviour(enum.Enum):
    """How a site answers a request for its policy path."""

    RESPOND = "respond"
    """Send ``status``, headers and the body (or a generated body of ``body_size`` bytes)."""
    REDIRECT_LOOP = "redirect_loop"
    """A 301 whose ``Location`` is the very URL requested: a client that follows loops."""
    DRIP_BODY = "drip_body"
    """A 200 ``text/plain`` whose body starts with ``body`` then never ends: one byte per
    ``drip_interval`` seconds."""
    ENDLESS_HEADERS = "endless_headers"
    """A status line, then header fields forever (one per ``drip_interval``; 0 = flat out)."""
    RAW = "raw"
    """Send ``body`` as the whole response, status line and all, then close (broken HTTP)."""


def policy_text(
    mode: str = "enforce",
    mx: Sequence[str] = (),
    max_age: int | str = 1209600,
    *,
    line_ending: str = "\n",
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """A policy file: ``version``, ``mode``, one ``mx`` line per pattern, ``max_age``."""
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    lines.extend(f"{k}: {v}" for k, v in extra)
    return line_ending.join(lines) + line_ending


@dataclass(frozen=True, slots=True)
class Site:
    """What one host name serves at :data:`POLICY_PATH` (other paths get a 404).

    ``body_size`` streams a generated body of that many bytes: ``body``, then ``x-pad`` extension
    lines (so a truncated copy still looks like a policy). ``cert_name`` is the name the
    certificate carries (the wrong-name fault); None means the site's own host name.
    ``content_type`` None sends no Content-Type at all.
    """

    body: bytes = b""
    status: int = 200
    reason: str = ""
    content_type: str | None = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()
    behaviour: Behaviour = Behaviour.RESPOND
    body_size: int | None = None
    chunked: bool = False
    cert_name: str | None = None
    drip_interval: float = 0.2

    @classmethod
    def policy(
        cls,
        mode: str = "enforce",
        mx: Sequence[str] = (),
        max_age: int | str = 1209600,
        *,
        line_ending: str = "\n",
        **options: object,
    ) -> Site:
        """A 200 ``text/plain`` policy (``options`` are any other :class:`Site` fields)."""
        text = policy_text(mode, mx, max_age, line_ending=line_ending)
        return replace(cls(body=text.encode()), **options)  # type: ignore[arg-type]

    @classmethod
    def text(cls, text: str | bytes, **options: object) -> Site:
        body = text.encode() if isinstance(text, str) else text
        return replace(cls(body=body), **options)  # type: ignore[arg-type]

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Site:
        return cls(
            b"moved\n", status=status, content_type="text/html", headers=(("Location", location),)
        )

    @classmethod
    def redirect_loop(cls) -> Site:
        return cls(
            b"moved\n", status=301, content_type="text/html", behaviour=Behaviour.REDIRECT_LOOP
        )

    @classmethod
    def not_found(cls) -> Site:
        return cls(b"<h1>Not Found</h1>\n", status=404, content_type="text/html")

    @classmethod
    def drip(cls, body: bytes = b"version: STSv1\n", interval: float = 0.2) -> Site:
        return cls(body, behaviour=Behaviour.DRIP_BODY, drip_interval=interval)

    @classmethod
    def raw(cls, response: bytes) -> Site:
        return cls(response, behaviour=Behaviour.RAW)

    @classmethod
    def endless_headers(cls, interval: float = 0.0) -> Site:
        return cls(behaviour=Behaviour.ENDLESS_HEADERS, drip_interval=interval)


class LoggedRequest(NamedTuple):
    """One connection the server saw: SNI, Host header, path ('' when no request was read)."""

    peer: str
    sni: str | None
    host: str | None
    path: str
    handshake_ok: bool


_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    500: "Internal Server Error",
}


class _Gone(Exception):
    """The client went away or the server is stopping."""


class LabHttpsServer(LabServerLifecycle[socket.socket]):
    """Serve :class:`Site` behaviours over HTTPS on loopback, chosen by SNI (or ``Host``)."""

    _name: ClassVar[str] = "LabHttpsServer"

    def __init__(
        self,
        sites: Mapping[str, Site],
        certificates: ContextSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = 64,
        idle_timeout: float = 5.0,
        max_stream_seconds: float = 30.0,
    ) -> None:
        self._sites = {name.lower().rstrip("."): site for name, site in sites.items()}
        self._certificates = certificates
        self._host = host
        self._requested_port = port
        self._idle_timeout = idle_timeout
        self._max_stream = max_stream_seconds
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__()
        self._listener: socket.socket | None = None
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        self._sni: dict[int, str | None] = {}
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._connections = 0
        self._bytes_sent = 0
        self._base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._base.sni_callback = self._on_sni

    # ------------------------------------------------------------------------- public API

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the server listens on; the port is known once started.

        Overrides the shared property: this one asks the listener, so its message, and what it
        does once stopped (the closed listener raises ``OSError``), are this server's own.
        """
        if self._listener is None:
            raise RuntimeError("the server is not started")
        return self._host, self._listener.getsockname()[1]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (a refused private address adds none)."""
        return self._connections

    @property
    def bytes_sent(self) -> int:
        """Response bytes the server wrote (before TLS), over all connections."""
        return self._bytes_sent

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def set_site(self, name: str, site: Site) -> None:
        """Add or replace a site while running (its certificate is made on first use)."""
        key = name.lower().rstrip(".")
        self._sites[key] = site
        with self._contexts_lock:
            self._contexts.pop(key, None)

    def __repr__(self) -> str:
        return f"<LabHttpsServer {self._host} {self._state} sites={sorted(self._sites)}>"

    # ------------------------------------------------------------------------- TLS

    def _context_for(self, name: str) -> ssl.SSLContext | None:
        site = self._sites.get(name)
        cert_name = site.cert_name if site is not None and site.cert_name else name
        with self._contexts_lock:
            context = self._contexts.get(name)
            if context is not None:
                return context
            source = self._certificates
            if callable(source):
                context = source(cert_name)
            else:
                context = source.get(name)
                if context is None:
                    return None
            self._contexts[name] = context
            return context

    def _on_sni(
        self, sslsock: ssl.SSLSocket | ssl.SSLObject, name: str | None, _: ssl.SSLContext
    ) -> int | None:
        self._sni[id(sslsock)] = name
        if name is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        try:
            context = self._context_for(name.lower().rstrip("."))
        except Exception:  # a broken certificate factory must not kill the handshake thread
            _log.exception("certificate for %s could not be made", name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if context is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslsock.context = context
        return None

    # ------------------------------------------------------------------------- threads

    def _open_sockets(self) -> list[socket.socket]:
        self._listener = tcp_listener(self._host, self._requested_port)
        return [self._listener]

    def _serving_threads(self) -> list[threading.Thread]:
        return [
            threading.Thread(target=self._accept_loop, name=f"lab-https-{self.port}", daemon=True)
        ]

    def _open_connections(self) -> list[tuple[socket.socket, threading.Thread]]:
        with self._conns_lock:
            return list(self._conns.items())

    def _interrupt(self, conn: socket.socket) -> None:
        """Shut down with the base class's method, which wakes a thread blocked in send or recv.

        ``SSLSocket.shutdown`` would also drop the TLS object under the connection thread.
        """
        socket.socket.shutdown(conn, socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop_event.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, peer = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        if self._stop_event.is_set():
                            return
                        continue
                    self._connections += 1
                    if not self._slots.acquire(blocking=False):
                        conn.close()  # bounded: over the limit, refuse at once
                        continue
                    conn.setblocking(True)
                    thread = threading.Thread(
                        target=self._serve, args=(conn, str(peer[0])), daemon=True
                    )
                    with self._conns_lock:
                        self._conns[conn] = thread
                    thread.start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        tls: ssl.SSLSocket | None = None
        try:
            conn.settimeout(self._idle_timeout)
            tls = self._base.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            with self._conns_lock:  # the TLS socket now owns the descriptor
                thread = self._conns.pop(conn, None)
                if thread is not None:
                    self._conns[tls] = thread
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError):
                self._record(LoggedRequest(peer, self._sni.pop(id(tls), None), None, "", False))
                return
            if self._stop_event.is_set():
                return
            sni = self._sni.pop(id(tls), None)
            head = self._read_head(tls)
            if head is None:
                self._record(LoggedRequest(peer, sni, None, "", True))
                return
            path, host = head
            self._record(LoggedRequest(peer, sni, host, path, True))
            name = sni or host or ""
            site = self._sites.get(name.lower().rstrip("."))
            if site is None or path.split("?", 1)[0] != POLICY_PATH:
                site = Site.not_found()
            self._respond(tls, site, host or name, path)
        except _Gone:
            pass
        except Exception:  # a lab thread must never die noisily in a test run
            _log.exception("lab HTTPS connection from %s failed", peer)
        finally:
            if tls is not None:
                self._sni.pop(id(tls), None)
            with self._conns_lock:
                self._conns.pop(conn, None)
                if tls is not None:
                    self._conns.pop(tls, None)
            for sock in (tls, conn):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
            self._slots.release()

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            if len(self._log) < 10_000:
                self._log.append(entry)

    def _read_head(self, tls: ssl.SSLSocket) -> tuple[str, str | None] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > _MAX_REQUEST_HEAD:
                return None
            try:
                chunk = tls.recv(4096)
            except (OSError, ssl.SSLError):
                return None
            if not chunk:
                return None
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        host = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "host":
                host = value.strip().lower()
                if host.startswith("["):
                    host = host[1 : host.find("]")]
                else:
                    host = host.split(":", 1)[0]
        return parts[1], host

    # ------------------------------------------------------------------------- responses

    def _send(self, tls: ssl.SSLSocket, data: bytes) -> None:
        if self._stop_event.is_set():
            raise _Gone
        try:
            tls.sendall(data)
        except (OSError, ssl.SSLError):
            raise _Gone from None
        with self._log_lock:
            self._bytes_sent += len(data)

    def _respond(self, tls: ssl.SSLSocket, site: Site, host: str, path: str) -> None:
        if site.behaviour is Behaviour.RAW:
            self._send(tls, site.body)
            return
        reason = site.reason or _REASONS.get(site.status, "Status")
        head = [f"HTTP/1.1 {site.status} {reason}"]
        if site.behaviour is Behaviour.ENDLESS_HEADERS:
            self._send(tls, (head[0] + "\r\n").encode("latin-1"))
            self._endless_headers(tls, site)
            return
        if site.content_type is not None:
            head.append(f"Content-Type: {site.content_type}")
        head.extend(f"{k}: {v}" for k, v in site.headers)
        if site.behaviour is Behaviour.REDIRECT_LOOP:
            port = tls.getsockname()[1]
            authority = host if port == 443 else f"{host}:{port}"
            head.append(f"Location: https://{authority}{path}")
        head.append("Connection: close")
        if site.behaviour is Behaviour.DRIP_BODY:
            self._send(tls, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            self._drip(tls, site)
            return
        size = site.body_size if site.body_size is not None else len(site.body)
        if site.chunked:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {size}")
        self._send(tls, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for piece in _body_pieces(site.body, size):
            if site.chunked:
                piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            self._send(tls, piece)
        if site.chunked:
            self._send(tls, b"0\r\n\r\n")

    def _drip(self, tls: ssl.SSLSocket, site: Site) -> None:
        self._send(tls, site.body)
        end = time.monotonic() + self._max_stream
        filler = itertools.cycle(b"x-drip: " + b"d" * 40 + b"\n")
        while time.monotonic() < end:
            self._send(tls, bytes([next(filler)]))
            if self._stop_event.wait(site.drip_interval):
                return

    def _endless_headers(self, tls: ssl.SSLSocket, site: Site) -> None:
        end = time.monotonic() + self._max_stream
        for number in itertools.count():
            if time.monotonic() >= end:
                return
            self._send(tls, f"X-Endless-{number}: {'h' * 64}\r\n".encode())
            if site.drip_interval and self._stop_event.wait(site.drip_interval):
                return


def _body_pieces(body: bytes, size: int) -> Iterator[bytes]:
    """``size`` bytes: ``body`` then ``x-pad`` lines, in pieces of at most 16 KiB."""
    sent = 0
    head = body[:size]
    for start in range(0, len(head), _PIECE):
        piece = head[start : start + _PIECE]
        sent += len(piece)
        yield piece
    pad = (b"x-pad: " + b"p" * 56 + b"\n") * (_PIECE // 64)
    while sent < size:
        piece = pad[: min(len(pad), size - sent)]
        sent += len(piece)
        yield piece


# ---------------------------------------------------------------------------------------------
# Certificates for tests and the lab
# ---------------------------------------------------------------------------------------------
