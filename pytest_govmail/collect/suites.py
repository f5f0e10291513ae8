"""The cipher suites each of nassl's two OpenSSL clients can offer, per TLS version.

nassl bundles a legacy OpenSSL (1.0.2: SSL 2.0 to TLS 1.2, with suites later OpenSSL dropped)
and a modern one (TLS 1.2 and 1.3): the version probes of :mod:`pytest_govmail.collect.tls_scan`
offer every suite a client has, so this catalogue asks each client once what that is. Suites
are named by the project's one OpenSSL-to-IANA map,
:func:`pytest_govmail.inputs.tls_profile.openssl_to_iana`.
"""

from __future__ import annotations

import threading

from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import OpenSslVerifyEnum, OpenSslVersionEnum, SslClient

from pytest_govmail.inputs.tls_profile import openssl_to_iana
from pytest_govmail.model.tls import TlsVersion

__all__ = ["iana_name"]

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
