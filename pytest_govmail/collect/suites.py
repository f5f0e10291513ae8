"""The cipher suites each of nassl's two OpenSSL clients can offer, per TLS version.

nassl bundles a legacy OpenSSL (1.0.2: SSL 2.0 to TLS 1.2, with suites later OpenSSL dropped)
and a modern one (TLS 1.2 and 1.3): the version probes of :mod:`pytest_govmail.collect.tls_scan`
offer every suite a client has, so this catalogue asks each client once what that is. Suites
are named by the project's one OpenSSL-to-IANA map,
:func:`pytest_govmail.inputs.tls_profile.openssl_to_iana`.

The modern client runs at OpenSSL security level 0 (``@SECLEVEL=0`` in its cipher string, as
OpenSSL's ``ciphers`` manual describes): at level 1, OpenSSL 1.1.1 keeps anonymous suites
(``TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256`` and others the legacy client lacks) out of the
ClientHello although its cipher list names them, and refuses DH groups under 1024 bits, so a
probe could never see what TLS-06 and TLS-09 judge. The legacy client (OpenSSL 1.0.2) has no
security levels. What each client really puts in its ClientHello is checked once, offline
(:func:`offered_codes` writes the hello into memory and reads its suite list): a suite of a
pool that cannot be offered is named in :attr:`_Catalogue.unofferable`, and that version's
suite list is then recorded as incomplete (``VersionProbe.suites_complete`` False).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from typing import cast

from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import OpenSslVerifyEnum, OpenSslVersionEnum, SslClient

from pytest_govmail.inputs.tls_profile import openssl_to_iana
from pytest_govmail.model.tls import TlsVersion

__all__ = ["iana_name", "modern_cipher_string", "offered_codes"]

_ALL_SUITES = "ALL:COMPLEMENTOFALL:-PSK:-SRP"
_TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
#: Appended to the modern client's cipher strings: see the module docstring.
_SECURITY_LEVEL_0 = "@SECLEVEL=0"
#: Signalling values a ClientHello's suite list may hold that are not suites (RFC 5746's
#: renegotiation SCSV, RFC 7507's fallback SCSV).
_SIGNALLING = {0x00FF, 0x5600}
_NASSL_VERSION = {
    TlsVersion.SSL_2_0: OpenSslVersionEnum.SSLV2,
    TlsVersion.SSL_3_0: OpenSslVersionEnum.SSLV3,
    TlsVersion.TLS_1_0: OpenSslVersionEnum.TLSV1,
    TlsVersion.TLS_1_1: OpenSslVersionEnum.TLSV1_1,
    TlsVersion.TLS_1_2: OpenSslVersionEnum.TLSV1_2,
    TlsVersion.TLS_1_3: OpenSslVersionEnum.TLSV1_3,
}


def modern_cipher_string(suites: str) -> str:
    """An OpenSSL cipher string for the modern client: ``suites`` at security level 0."""
    return f"{suites}:{_SECURITY_LEVEL_0}" if suites else _SECURITY_LEVEL_0


class _HelloSink:
    """Where an offline handshake writes its ClientHello: kept in memory, and no answer."""

    def __init__(self) -> None:
        self.data = b""

    def send(self, data: bytes) -> int:
        self.data += data[: 65536 - len(self.data)]
        return len(data)

    def recv(self, size: int) -> bytes:
        return b""


def offered_codes(
    version: TlsVersion, legacy: bool, suites: Sequence[str], tls13: Sequence[str] = ()
) -> list[int] | None:
    """The suite codes one of our clients puts in its ClientHello when set to offer ``suites``
    (OpenSSL names; ``tls13`` for TLS 1.3), signalling values left out; None when it wrote no
    ClientHello it could read (it had no suite it could offer, or SSL 2.0's other format)."""
    sink = _HelloSink()
    sock = cast(socket.socket, sink)  # nassl only calls send and recv
    client: LegacySslClient | SslClient
    try:
        if legacy:
            client = LegacySslClient(
                underlying_socket=sock,
                ssl_version=_NASSL_VERSION[version],
                ssl_verify=OpenSslVerifyEnum.NONE,
            )
            client.set_cipher_list(":".join(suites))
        else:
            client = SslClient(
                underlying_socket=sock,
                ssl_version=_NASSL_VERSION[version],
                ssl_verify=OpenSslVerifyEnum.NONE,
            )
            client.set_cipher_list(modern_cipher_string(":".join(suites)))
            if tls13:
                client.set_ciphersuites(":".join(tls13))
    except Exception:  # OpenSSLError: no suite of the list is known to this client
        return None
    with contextlib.suppress(Exception):  # the sink never answers: the handshake stops
        client.do_handshake()
    return _hello_suites(sink.data)


def _hello_suites(data: bytes) -> list[int] | None:
    """The cipher suites of a TLS ClientHello record (RFC 8446 4.1.2; RFC 5246 7.4.1.2)."""
    if len(data) < 5 + 4 + 2 + 32 + 1 or data[0] != 0x16 or data[5] != 0x01:
        return None
    at = 5 + 4 + 2 + 32
    at += 1 + data[at]  # session id
    if len(data) < at + 2:
        return None
    size = int.from_bytes(data[at : at + 2], "big")
    body = data[at + 2 : at + 2 + size]
    codes = [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)]
    return [c for c in codes if c not in _SIGNALLING]


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
        #: Per version, the suites of its pools that our client cannot put in a ClientHello
        #: (checked offline, once). The versions below TLS 1.2 are not checked: the legacy
        #: client offers there every suite that exists at that version.
        self.unofferable: dict[TlsVersion, tuple[str, ...]] = {
            TlsVersion.TLS_1_2: (
                *self._unofferable(TlsVersion.TLS_1_2, True, self.legacy[TlsVersion.TLS_1_2]),
                *self._unofferable(TlsVersion.TLS_1_2, False, self.modern12_only),
            ),
            TlsVersion.TLS_1_3: self._unofferable(
                TlsVersion.TLS_1_3, False, (_ALL_SUITES,), _TLS13_SUITES
            ),
        }

    def _unofferable(
        self,
        version: TlsVersion,
        legacy: bool,
        suites: Sequence[str],
        tls13: Sequence[str] = (),
    ) -> tuple[str, ...]:
        """The suites of a pool the client leaves out of its ClientHello (one offline hello for
        the pool; one per suite only when some are missing, to name them)."""
        pool = tuple(tls13) or tuple(suites)
        if not pool:
            return ()
        codes = offered_codes(version, legacy, suites, tls13)
        if codes is not None and len(set(codes)) >= len(pool):
            return ()
        missing = []
        for suite in pool:
            one = offered_codes(version, legacy, *((suites, [suite]) if tls13 else ([suite], ())))
            if not one:
                missing.append(self.name(suite, version))
        return tuple(missing)

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
