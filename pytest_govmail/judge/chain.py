"""The served certificate chain, parsed once and shared by CERT-01..07 and DANE-01.

Parsing uses cryptography; nothing here raises for bad evidence (a chain that cannot be read is
a :class:`Chain` with a ``problem``). ``cryptography.x509`` is imported where a PEM entry is
parsed, not at module level: it loads ``socket`` (through ``email.utils``), and importing a judge
loads no network module. Signature checks follow RFC 5280 section 6.1.3: a
certificate is issued by the certificate whose subject is its issuer and whose key verifies it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from pytest_govmail.judge.common import show_value
from pytest_govmail.model.tls import TlsScan

if TYPE_CHECKING:
    # Only for annotations: cryptography.x509 loads ``socket`` (its general_name module imports
    # email.utils), and a judge must import no network module. _load_pem imports it to parse.
    from cryptography import x509

__all__ = [
    "MAX_PEM_CHARS",
    "Chain",
    "describe_name",
    "issued_by",
    "load_chain",
    "load_pem_chain",
    "self_issued",
    "signed_by_key",
]

#: A PEM entry longer than this is not parsed (a certificate is a few kilobytes).
MAX_PEM_CHARS = 65536


@dataclass(frozen=True, slots=True)
class Chain:
    """The served certificates, leaf first, parsed up to the first one that cannot be read."""

    certs: tuple[x509.Certificate, ...]
    problem: str = ""

    @property
    def complete(self) -> bool:
        """True when every served entry parsed (and there was at least one)."""
        return not self.problem and bool(self.certs)


@functools.lru_cache(maxsize=4096)
def _load_pem(pem: str) -> x509.Certificate | str:
    if len(pem) > MAX_PEM_CHARS:
        return f"{len(pem)} characters, over the {MAX_PEM_CHARS} read"
    from cryptography import x509  # here, where a certificate is read: see the module's imports

    try:
        certs = x509.load_pem_x509_certificates(pem.encode("utf-8", "replace"))
    except Exception as exc:  # cryptography raises ValueError, but bad data may find others
        return f"not a PEM certificate ({show_value(str(exc), 120)})"
    if len(certs) != 1:
        return f"holds {len(certs)} certificates where one was expected"
    return certs[0]


def load_chain(scan: TlsScan) -> Chain:
    """The served chain of ``scan``, parsed with cryptography; never raises."""
    return load_pem_chain(scan.chain_pem)


def load_pem_chain(chain_pem: Sequence[str]) -> Chain:
    """A served chain given as PEM entries, leaf first (a TLS scan's, or the MTA-STS policy
    host's); never raises."""
    if not chain_pem:
        return Chain((), "no certificate recorded")
    certs: list[x509.Certificate] = []
    for index, pem in enumerate(chain_pem, start=1):
        loaded = _load_pem(pem) if isinstance(pem, str) else "not text"
        if isinstance(loaded, str):
            return Chain(
                tuple(certs), f"certificate {index} of the served chain cannot be read: {loaded}"
            )
        certs.append(loaded)
    return Chain(tuple(certs))


def describe_name(name: x509.Name) -> str:
    """A distinguished name for a message, bounded (it comes from the server)."""
    try:
        text = name.rfc4514_string()
    except Exception:
        return "(an unreadable name)"
    return show_value(text or "(empty name)", 160)


def self_issued(cert: x509.Certificate) -> bool:
    """Issuer and subject are the same name (a root, or a self-signed leaf)."""
    return cert.issuer == cert.subject


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s name and key signed ``cert``; False for any reason it cannot be shown.

    cryptography's own check refuses MD5 and SHA-1 signatures; those are verified here with the
    issuer's key directly, so that a weak hash (CERT-06's business) does not read as a broken
    chain.
    """
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except Exception:
        try:
            key = issuer.public_key()
        except Exception:
            return False
        return cert.issuer == issuer.subject and signed_by_key(cert, key)
    return True


def signed_by_key(cert: x509.Certificate, key: object) -> bool:
    """``key`` (a public key object) made ``cert``'s signature; False when it cannot be shown."""
    try:
        hash_algorithm = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey):
            pad = cert.signature_algorithm_parameters
            if not isinstance(pad, padding.PKCS1v15 | padding.PSS) or hash_algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, pad, hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if hash_algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except Exception:
        return False
    return True
