"""What a scan of one MX address saw: the SMTP dialogue, TLS versions and suites, the certificate.

These are facts, never verdicts (the judges in ``judge/tls.py`` and ``judge/cert.py`` decide),
kept in the project's own terms so that the evidence file does not depend on sslyze's objects,
which change shape between major versions. One :class:`TlsScan` covers one address of one MX
host; a host test judges every address of its host and names the one that fails.

The TLS facts of a server belong to its address, the certificate to the name it is asked for:
shared providers give every customer its own MX name on a few addresses, so a run enumerates
versions, suites, key exchange, compression and renegotiation once per (address, port) and, for
each further name on that address, makes one handshake with that name as SNI for the chain it
serves. Such a scan says whose full scan its server facts come from (``shared_with``) and how
it was made (``sharing``); :func:`address_loads` sums what each address was asked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.text import inert


class TlsVersion(enum.StrEnum):
    SSL_2_0 = "SSLv2"
    SSL_3_0 = "SSLv3"
    TLS_1_0 = "TLSv1.0"
    TLS_1_1 = "TLSv1.1"
    TLS_1_2 = "TLSv1.2"
    TLS_1_3 = "TLSv1.3"


#: Versions from the newest down: the order scans probe them and judges show them.
NEWEST_FIRST = tuple(reversed(TlsVersion))


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
    client offered all of them in the client's order (TLS-05). ``suites_complete`` is False
    when the enumeration stopped early (a connection failed half way), or when the probe's
    clients could not offer every suite they know at this version: the list is then a lower
    bound (a refusal too), and a judge may fail on what it holds but never pass on it.
    """

    version: TlsVersion
    accepted: bool | None
    detail: str = ""
    cipher_suites: tuple[str, ...] = ()
    preferred: str | None = None
    suites_complete: bool = True
    #: The key exchange seen on each accepted suite's own handshake (``KeyExchange.suite``
    #: names it), in the order of ``cipher_suites``: TLS-09 judges every one, not only the
    #: negotiated one. Empty in evidence collected before it was recorded.
    key_exchanges: tuple[KeyExchange, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyExchange:
    """A handshake's key exchange: ``ECDHE`` with a group, ``DHE`` with bits, or a kind read
    from the suite's name (static ``RSA``, ``ECDH``, ``DH``; anonymous ``DH_anon``, ``ECDH_anon``).
    ``suite`` is the IANA name of the suite it was seen on ("" for the preferred handshake's)."""

    kind: str
    group: str | None = None
    bits: int | None = None
    suite: str = ""


#: In a failed ``TrustCheck.detail``: the words before the certificates that were outside their
#: validity at the instant of validation ("outside its validity at 2026-01-02: CA (valid ...)").
OUTSIDE_VALIDITY = "outside its validity at"


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """Path validation of the served chain against one trust source (Mozilla, a user CA file)."""

    store: str
    verified: bool
    detail: str = ""
    #: The anchor of this store that the served chain's last certificate links to by name and
    #: signature, dates aside (its common name), or "" when none does: CERT-07 judges a chain
    #: complete by it when validation failed for dates alone.
    anchored_by: str = ""


@dataclass(frozen=True, slots=True)
class TlsScan:
    """Everything seen at one address of one MX host (port 25 unless a lab says otherwise).

    ``connections``, ``handshakes`` and ``retries`` (connections made again after a 421, a
    reset or a refusal) are what this name's scan cost the server. ``shared_with`` is empty
    when this scan enumerated the server itself; otherwise it names the MX host whose scan of
    the same address gave ``versions``, ``key_exchange``, ``compression`` and the renegotiation
    facts, while ``smtp``, ``chain_pem`` and ``trust`` are this name's own (one connection, one
    handshake with this name as SNI). ``sharing`` says in words which it was, and why a name
    was scanned in full after all (its SNI showed a different server).
    """

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
    retries: int = 0
    shared_with: str = ""
    sharing: str = ""

    def version(self, version: TlsVersion) -> VersionProbe | None:
        for probe in self.versions:
            if probe.version is version:
                return probe
        return None


def _error_to_json(error: ProbeError | None) -> dict[str, str] | None:
    return None if error is None else {"kind": error.kind.value, "detail": error.detail}


def _error_from_json(data: Mapping[str, Any] | None) -> ProbeError | None:
    return None if data is None else ProbeError(ErrorKind(data["kind"]), str(data["detail"]))


def to_json(scan: TlsScan) -> dict[str, Any]:
    """A scan as plain JSON data (the evidence file's ``tls`` entries); exact round trip."""
    smtp = scan.smtp
    return {
        "host": scan.host,
        "address": scan.address,
        "port": scan.port,
        "at": scan.at,
        "elapsed_ms": scan.elapsed_ms,
        "connections": scan.connections,
        "handshakes": scan.handshakes,
        "error": _error_to_json(scan.error),
        "smtp": None
        if smtp is None
        else {
            "banner": smtp.banner,
            "banner_code": smtp.banner_code,
            "ehlo": list(smtp.ehlo),
            "starttls_offered": smtp.starttls_offered,
            "starttls_reply": smtp.starttls_reply,
        },
        "versions": [
            {
                "version": v.version.value,
                "accepted": v.accepted,
                "detail": v.detail,
                "cipher_suites": list(v.cipher_suites),
                "preferred": v.preferred,
                "suites_complete": v.suites_complete,
                **(
                    {"key_exchanges": [_kex_to_json(k) for k in v.key_exchanges]}
                    if v.key_exchanges
                    else {}
                ),
            }
            for v in scan.versions
        ],
        "key_exchange": None
        if scan.key_exchange is None
        else {
            "kind": scan.key_exchange.kind,
            "group": scan.key_exchange.group,
            "bits": scan.key_exchange.bits,
        },
        "compression": scan.compression,
        "secure_renegotiation": scan.secure_renegotiation,
        "client_renegotiation": scan.client_renegotiation,
        "chain_pem": list(scan.chain_pem),
        "trust": [
            {
                "store": t.store,
                "verified": t.verified,
                "detail": t.detail,
                **({"anchored_by": t.anchored_by} if t.anchored_by else {}),
            }
            for t in scan.trust
        ],
        "profile": scan.profile,
        "retries": scan.retries,
        "shared_with": scan.shared_with,
        "sharing": scan.sharing,
    }


def _kex_to_json(kex: KeyExchange) -> dict[str, Any]:
    return {"kind": kex.kind, "group": kex.group, "bits": kex.bits, "suite": kex.suite}


def _kex_from_json(data: Mapping[str, Any]) -> KeyExchange:
    return KeyExchange(
        kind=str(data["kind"]),
        group=data.get("group"),
        bits=data.get("bits"),
        suite=str(data.get("suite", "")),
    )


def from_json(data: Mapping[str, Any]) -> TlsScan:
    smtp = data.get("smtp")
    kex = data.get("key_exchange")
    return TlsScan(
        host=str(data["host"]),
        address=str(data["address"]),
        port=int(data["port"]),
        at=str(data.get("at", "")),
        elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        connections=int(data.get("connections", 0)),
        handshakes=int(data.get("handshakes", 0)),
        error=_error_from_json(data.get("error")),
        smtp=None
        if smtp is None
        else SmtpDialogue(
            banner=smtp.get("banner"),
            banner_code=smtp.get("banner_code"),
            ehlo=tuple(str(x) for x in smtp.get("ehlo", ())),
            starttls_offered=smtp.get("starttls_offered"),
            starttls_reply=smtp.get("starttls_reply"),
        ),
        versions=tuple(
            VersionProbe(
                version=TlsVersion(v["version"]),
                accepted=v.get("accepted"),
                detail=str(v.get("detail", "")),
                cipher_suites=tuple(str(x) for x in v.get("cipher_suites", ())),
                preferred=v.get("preferred"),
                suites_complete=bool(v.get("suites_complete", True)),
                key_exchanges=tuple(_kex_from_json(k) for k in v.get("key_exchanges", ())),
            )
            for v in data.get("versions", ())
        ),
        key_exchange=None
        if kex is None
        else KeyExchange(kind=str(kex["kind"]), group=kex.get("group"), bits=kex.get("bits")),
        compression=data.get("compression"),
        secure_renegotiation=data.get("secure_renegotiation"),
        client_renegotiation=data.get("client_renegotiation"),
        chain_pem=tuple(str(x) for x in data.get("chain_pem", ())),
        trust=tuple(
            TrustCheck(
                store=str(t["store"]),
                verified=bool(t["verified"]),
                detail=str(t["detail"]),
                anchored_by=str(t.get("anchored_by", "")),
            )
            for t in data.get("trust", ())
        ),
        profile=str(data.get("profile", "")),
        retries=int(data.get("retries", 0)),
        shared_with=str(data.get("shared_with", "")),
        sharing=str(data.get("sharing", "")),
    )


@dataclass(frozen=True, slots=True)
class AddressLoad:
    """What one run asked of one server address (politeness per provider).

    ``names`` are the MX host names served on it, ``full_scans`` those whose scan enumerated
    the server (one, unless a name's SNI showed a different server behind the address).
    """

    address: str
    port: int
    connections: int = 0
    handshakes: int = 0
    retries: int = 0
    names: tuple[str, ...] = ()
    full_scans: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "port": self.port,
            "connections": self.connections,
            "handshakes": self.handshakes,
            "retries": self.retries,
            "names": list(self.names),
            "full_scans": list(self.full_scans),
        }


def address_loads(scans: Iterable[TlsScan]) -> list[AddressLoad]:
    """Per (address, port): connections, handshakes, retries and names served, busiest first
    (most handshakes, then most connections)."""
    loads: dict[tuple[str, int], AddressLoad] = {}
    for scan in scans:
        key = (scan.address, scan.port)
        load = loads.get(key) or AddressLoad(scan.address, scan.port)
        full = () if scan.shared_with else (scan.host,)
        loads[key] = AddressLoad(
            scan.address,
            scan.port,
            load.connections + scan.connections,
            load.handshakes + scan.handshakes,
            load.retries + scan.retries,
            (*load.names, scan.host),
            (*load.full_scans, *full),
        )
    return sorted(loads.values(), key=lambda x: (-x.handshakes, -x.connections, x.address, x.port))


def busiest_address(scans: Iterable[TlsScan]) -> list[str]:
    """The address a run asked most of (most handshakes, then connections), as one line for
    the terminal summary; no line when nothing was scanned. It is what a shared provider saw
    of the run, the figure its throttling answers to."""
    loads = address_loads(scans)
    if not loads:
        return []
    top = loads[0]
    # Shown inert: a replayed file's address is anybody's text.
    where = inert(f"[{top.address}]" if ":" in top.address else top.address)[:64]
    where += f":{top.port}"
    full = f" ({len(top.full_scans)} full scans)" if len(top.full_scans) > 1 else ""
    return [
        f"busiest MX address {where}: {top.handshakes} handshake(s), {top.connections} "
        f"connection(s), {len(top.names)} MX name(s) served{full}, {top.retries} retried"
    ]
