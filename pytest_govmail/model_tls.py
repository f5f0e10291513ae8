"""What a scan of one MX address saw: the SMTP dialogue, TLS versions and suites, the certificate.

These are facts, never verdicts (the judges in ``judge/tls.py`` and ``judge/cert.py`` decide),
kept in the project's own terms so that the evidence file does not depend on sslyze's objects,
which change shape between major versions. One :class:`TlsScan` covers one address of one MX
host; a host test judges every address of its host and names the one that fails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pytest_govmail.model import ProbeError


class TlsVersion(enum.StrEnum):
    SSL_2_0 = "SSLv2"
    SSL_3_0 = "SSLv3"
    TLS_1_0 = "TLSv1.0"
    TLS_1_1 = "TLSv1.1"
    TLS_1_2 = "TLSv1.2"
    TLS_1_3 = "TLSv1.3"


@dataclass(frozen=True, slots=True)
class SmtpDialogue:
    """The plain-text part of the session, bounded (a hostile server can send megabytes).

    ``banner_code`` is the greeting's reply code (220, 421, 554...), ``ehlo`` the EHLO reply
    lines without their codes, ``starttls_reply`` the reply to STARTTLS (``220 ...`` or the
    refusal, such as ``454 TLS not available``), None when STARTTLS was not sent.
    """

    banner: str | None = None
    banner_code: int | None = None
    ehlo: tuple[str, ...] = ()
    starttls_offered: bool | None = None
    starttls_reply: str | None = None


@dataclass(frozen=True, slots=True)
class VersionProbe:
    """One protocol version: whether a handshake completed, and what the server accepted.

    ``accepted`` is None when the probe could not tell (the connection failed for a reason
    that is not a refusal); ``detail`` then says why. ``cipher_suites`` are IANA names of every
    suite found accepted at this version; ``preferred`` is the suite the server picked when the
    client offered all of them in the client's order (TLS-05).
    """

    version: TlsVersion
    accepted: bool | None
    detail: str = ""
    cipher_suites: tuple[str, ...] = ()
    preferred: str | None = None


@dataclass(frozen=True, slots=True)
class KeyExchange:
    """The key exchange of the preferred handshake: ``ECDHE`` with a group, ``DHE`` with bits."""

    kind: str
    group: str | None = None
    bits: int | None = None


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """Path validation of the served chain against one trust source (Mozilla, a user CA file)."""

    store: str
    verified: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TlsScan:
    """Everything seen at one address of one MX host (port 25 unless a lab says otherwise)."""

    host: str
    address: str
    port: int
    at: str = ""
    elapsed_ms: float = 0.0
    connections: int = 0
    handshakes: int = 0
    error: ProbeError | None = None
    smtp: SmtpDialogue | None = None
    versions: tuple[VersionProbe, ...] = ()
    key_exchange: KeyExchange | None = None
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    chain_pem: tuple[str, ...] = ()
    trust: tuple[TrustCheck, ...] = ()
    profile: str = ""

    def version(self, version: TlsVersion) -> VersionProbe | None:
        for probe in self.versions:
            if probe.version is version:
                return probe
        return None
