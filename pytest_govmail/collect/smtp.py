"""The SMTP dialogue before TLS (RFC 5321 sections 3.1, 4.2 and 4.5.3; RFC 3207 STARTTLS).

The greeting, EHLO and STARTTLS are spoken on a plain socket with bounded reads, so MX-04 gets the
greeting code and TLS-01 the EHLO and STARTTLS replies; :class:`_TimedSocket` then carries the
TLS handshake on the same connection with the same deadlines. Hostile servers are bounded in
time (each reply within ``timeout``, each connection within ``connection_timeout``) and memory
(no more than ``_MAX_LINE + _RECV`` bytes of one reply are buffered). One exception, bounded too:
a greeting whose first ``220-`` line has come may take ``greeting_timeout`` (30 s by default)
to complete, not counted against the connection's limit, because Postfix's postscreen sends
``220-`` at once and the rest only after its pregreet wait (6 s by default), and RFC 5321
section 4.5.3.2 gives the initial 220 five minutes. A client that hangs up sooner is never
let through, on any rerun. Used by
:mod:`pytest_govmail.collect.tls_scan`; see :mod:`pytest_govmail.collect.tls` for the whole scan.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.tls import SmtpDialogue

if TYPE_CHECKING:
    from pytest_govmail.collect.scan_settings import TlsScanSettings

#: Bounds on what a server may send before TLS.
_MAX_REPLY_LINES = 64
_MAX_LINE = 2048
_MAX_EVIDENCE_LINE = 512
_RECV = 4096
#: Bytes of unexpected data shown in a detail (escaped with ``repr``).
_PREVIEW = 40
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _SmtpFailure(Exception):
    """The SMTP exchange failed; ``retry`` says whether another connection may help, and
    ``line`` is the (cleaned) line that was not an SMTP reply, when that was the failure."""

    def __init__(self, error: ProbeError, retry: bool = False, line: str | None = None) -> None:
        super().__init__(error.describe())
        self.error = error
        self.retry = retry
        self.line = line


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

    def extended(self, seconds: float) -> _Clock:
        """This clock with the connection's limit moved ``seconds`` later (the time spent
        waiting for a greeting that had begun is not counted against it)."""
        return replace(self, end=self.end + max(0.0, seconds))

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
        self.begun_at: float | None = None

    def leftover(self) -> bytes:
        """What the server sent beyond the last reply (handed to the TLS client)."""
        data, self._buffer = self._buffer, b""
        return data

    def reply(
        self, what: str, deadline: float, begun: float | None = None
    ) -> tuple[int, list[str], str]:
        """``(code, texts without codes, raw lines joined by newlines)``.

        ``begun`` (seconds): once a first complete continuation line (``220-``) has come, the
        rest of the reply is waited for until that many seconds after it (:attr:`begun_at`
        records when), whatever ``deadline`` said.
        """
        self.received = len(self._buffer)
        self.head = self._buffer[:_PREVIEW]
        self.begun_at = None
        texts: list[str] = []
        raw: list[str] = []
        while True:
            line = self._line(deadline, what)
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise _SmtpFailure(
                    ProbeError(ErrorKind.PROTOCOL, f"malformed {what} line: {_clean(line)!r}"),
                    line=_clean(line),
                )
            texts.append(_clean(line[4:]))
            raw.append(_clean(line))
            if line[3:4] != b"-":
                return int(line[:3]), texts, "\n".join(raw)
            if begun is not None and self.begun_at is None:
                self.begun_at = time.monotonic()
                deadline = max(deadline, self.begun_at + begun)
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
        # A greeting that has begun (a "220-" line, as postscreen sends before its pregreet
        # wait) is given the longer greeting wait: RFC 5321 section 4.5.3.2 gives the whole
        # initial 220 five minutes, and a client that hangs up early is never let through.
        begun = self.settings.greeting_timeout if what == "greeting" else None
        try:
            reply = reader.reply(what, deadline, begun)
        except TimeoutError:
            if reader.begun_at is not None and begun is not None:
                detail = f"greeting begun but not complete within {begun:g} s of its first line"
                shown = _preview(reader.head, reader.received)
                detail += f" ({reader.received} bytes received: {shown})"
            else:
                detail = self.clock.late(what, limited, reader.received, reader.head)
            raise _SmtpFailure(ProbeError(ErrorKind.TIMEOUT, detail)) from None
        except _SmtpFailure as failure:
            if what == "greeting" and failure.line is not None:
                self.dialogue = SmtpDialogue(banner=failure.line)
            raise
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
        finally:
            if reader.begun_at is not None:
                self.clock = self.clock.extended(time.monotonic() - reader.begun_at)
        return reply

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
