"""What the user asked a run to do, once options, ini keys and the demo's defaults are combined."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from pytest_govmail.collect.scan_settings import DEFAULT_GREETING_TIMEOUT


@dataclass(frozen=True, slots=True)
class Settings:
    """What the user asked for, after options, ini keys and the demo's defaults are combined."""

    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0
    #: --govmail-greeting-timeout: how long a greeting that has begun ("220-") may take.
    greeting_timeout: float = DEFAULT_GREETING_TIMEOUT
    concurrency: int = 200
    smtp_port: int = 25
    https_port: int = 443
    ca_file: Path | None = None
    allow_private: bool = False
    ehlo_name: str | None = None
    connections_per_address: int = 2
    tls_profile: Path | None = None
    cert_expiry_days: int | None = None
    eml: tuple[Path, ...] = ()
    ip_version: str = "auto"  # --govmail-ip-version: auto, 4, 6 or both
    #: DNSSEC: the trust-anchor file (None: the packaged IANA root anchors), or a resolver
    #: whose AD bit is trusted instead (``IP[:PORT]``, one of ``nameservers``).
    trust_anchor: Path | None = None
    trusted_resolver: str | None = None


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address as (address, port)."""
    raw = text.strip()
    address, port = raw, 53
    if raw.startswith("["):
        address, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected [IPv6]:PORT")
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        address, _, port_text = raw.partition(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (give IP or IP:PORT)") from None
    return address, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: {text!r} is not a port number (1-65535)")
    return int(text)
