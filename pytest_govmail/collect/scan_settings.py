"""What one TLS scan is asked to do: the address to scan and the settings to scan it with.

Shared by the SMTP session (:mod:`.smtp`), the handshakes (:mod:`.tls_scan`) and the scanner
that drives them (:mod:`.tls`), so that none of them imports another for its types.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from pathlib import Path

#: The EHLO name used when the host has no dotted fully-qualified name. A real name (the
#: scanning host's, or one the user sets) is politer; ``.invalid`` never resolves, honestly.
DEFAULT_EHLO_NAME = "govmail-probe.invalid"
#: ``connection_timeout`` when it is not set: this many times ``timeout``.
_CONNECTION_TIMEOUT_FACTOR = 3.0
#: How long a greeting that has begun (``220-`` received) may take to complete, in seconds.
#: Postfix's postscreen sends ``220-`` at once and completes the greeting only after its
#: pregreet wait (``postscreen_greet_wait``: 6 s by default, 2 s under stress); RFC 5321
#: section 4.5.3.2 gives the initial 220 five minutes. 30 s is five times postscreen's default
#: and bounds what a server that never completes its greeting costs.
DEFAULT_GREETING_TIMEOUT = 30.0


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
    greeting. ``max_parallel_addresses`` bounds how many addresses are scanned at once.
    ``greeting_timeout`` replaces ``timeout`` for the rest of a greeting once its first
    ``220-`` line has come (and that wait does not count against ``connection_timeout``)."""

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
    greeting_timeout: float = DEFAULT_GREETING_TIMEOUT

    @property
    def connection_seconds(self) -> float:
        """How long one connection may last in all (``connection_timeout`` or its default)."""
        if self.connection_timeout is not None:
            return self.connection_timeout
        return _CONNECTION_TIMEOUT_FACTOR * self.timeout
