"""A throw-away PKI for the demo lab and the tests: root CA, intermediate CA, leaf certificates.

The root and the intermediate come from :mod:`trustme` (RSA 2048, SHA-256, valid 2000..3000).
Leaf certificates are issued here with :mod:`cryptography` directly, because trustme marks the
subjectAltName extension critical while also setting a non-empty subject, and the X.509 verifier
that sslyze 6 and this project use rejects such leaves ("EE subjectAltName MUST NOT be critical
when subject is nonempty"). Leaves here have ``CN=<first name>`` and a non-critical SAN, the way
public CAs issue them.

Leaf options cover what the certificate requirements judge: SAN DNS names (CERT-02), the
validity window (CERT-03/04: expired, not yet valid, expiring soon), the key type and size
(CERT-05: RSA 2048, RSA 1024, EC P-256), the signature hash (CERT-06: SHA-256 or SHA-1),
self-signed leaves (CERT-01) and chains served with or without the intermediate (CERT-07).

SHA-1: OpenSSL 3.0 on this machine can still make SHA-1 RSA signatures, but ``cryptography`` 46
refuses to sign a certificate with SHA-1 (``UnsupportedAlgorithm``). A SHA-1 leaf is therefore
built as a SHA-256 certificate whose to-be-signed part is re-labelled ``sha1WithRSAEncryption``
and signed again with RSA PKCS#1 v1.5 over SHA-1 (see :func:`_resign_sha1`). This needs an RSA
issuer, which is why the lab CAs are RSA. Servers need ``@SECLEVEL=0`` to send such a leaf.

Private keys are cached per key type inside one :class:`LabPki` (generating RSA keys is the
slow part); every leaf still gets its own certificate and serial number.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import os
import ssl
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "KeySpec",
    "LabPki",
    "LeafCert",
    "PrivateCa",
    "SignatureHash",
    "dh_parameters_pem",
    "server_context",
]

_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: DER of the OID 1.2.840.113549.1.1.11 (sha256WithRSAEncryption), tag and length included.
_OID_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
#: DER of the OID 1.2.840.113549.1.1.5 (sha1WithRSAEncryption): the same length, so a swap
#: inside the to-be-signed certificate leaves every enclosing length unchanged.
_OID_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")
#: OpenSSL 3's SSL_OP_ALLOW_CLIENT_RENEGOTIATION (SSL_OP_BIT(8)); Python has no name for it.
_OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8


class KeySpec(enum.Enum):
    """The leaf's key: what CERT-05 looks at."""

    RSA_2048 = "rsa-2048"
    RSA_1024 = "rsa-1024"
    EC_P256 = "ec-p256"

    def generate(self) -> _PrivateKey:
        if self is KeySpec.EC_P256:
            return ec.generate_private_key(ec.SECP256R1())
        size = 1024 if self is KeySpec.RSA_1024 else 2048
        return rsa.generate_private_key(public_exponent=65537, key_size=size)


class SignatureHash(enum.Enum):
    """The hash of the issuer's signature on the leaf: what CERT-06 looks at."""

    SHA256 = "sha256"
    SHA1 = "sha1"


@dataclass(frozen=True, slots=True)
class LeafCert:
    """An issued leaf with its key and the intermediates that chain it to the lab root."""

    cert: x509.Certificate
    key: _PrivateKey
    intermediates: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def chain_pem(self, include_intermediate: bool = True) -> str:
        """The chain a server sends, leaf first; without the intermediate when asked."""
        certs = [self.cert, *(self.intermediates if include_intermediate else ())]
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)

    @property
    def self_signed(self) -> bool:
        return self.cert.issuer == self.cert.subject and not self.intermediates


class LabPki:
    """A root CA, one intermediate CA under it, and leaves issued by the intermediate.

    ``organization`` names the lab in every certificate, so a report shows where a certificate
    came from. Thread-safe: a lab may issue certificates while servers start in other threads.
    """

    def __init__(self, organization: str = "pytest-govmail lab") -> None:
        self.organization = organization
        self._root = trustme.CA(
            organization_name=organization,
            organization_unit_name=f"{organization} root CA",
            key_type=trustme.KeyType.RSA,
        )
        # What ``create_child_ca`` does, with a name that says what the certificate is.
        self._intermediate = trustme.CA(
            parent_cert=self._root,
            path_length=0,
            organization_name=organization,
            organization_unit_name=f"{organization} intermediate CA",
            key_type=trustme.KeyType.RSA,
        )
        self.root_cert = x509.load_pem_x509_certificate(self._root.cert_pem.bytes())
        self.intermediate_cert = x509.load_pem_x509_certificate(self._intermediate.cert_pem.bytes())
        self._intermediate_key = _load_key(self._intermediate.private_key_pem.bytes())
        self._keys: dict[KeySpec, _PrivateKey] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ trust anchors

    @property
    def ca_pem(self) -> str:
        """The root certificate: the trust anchor to give ``--govmail-ca-file``."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def intermediate_pem(self) -> str:
        return self.intermediate_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def write_ca_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the root certificate (PEM) to ``path`` and return it as a :class:`Path`."""
        target = Path(path)
        target.write_text(self.ca_pem, encoding="ascii")
        return target

    # ------------------------------------------------------------------ leaves

    def key_for(self, spec: KeySpec) -> _PrivateKey:
        """The lab's key of this kind, generated once per :class:`LabPki`."""
        with self._lock:
            key = self._keys.get(spec)
            if key is None:
                key = self._keys[spec] = spec.generate()
            return key

    def issue_leaf(
        self,
        names: Sequence[str],
        *,
        key: KeySpec = KeySpec.RSA_2048,
        signature_hash: SignatureHash = SignatureHash.SHA256,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        self_signed: bool = False,
        authority_key_identifier: bool = True,
    ) -> LeafCert:
        """Issue a server certificate for the DNS ``names`` (the first is also the CN).

        The default validity is from one day ago to 90 days ahead. ``self_signed`` makes the
        leaf sign itself (no intermediates). SHA-1 needs an RSA signer: the intermediate is
        RSA, and a self-signed SHA-1 leaf needs an RSA ``key``. ``authority_key_identifier``
        False leaves the AKI out (as many self-signed "snakeoil" certificates do).
        """
        if not names:
            raise ValueError("a leaf certificate needs at least one DNS name")
        now = datetime.datetime.now(datetime.UTC)
        not_before = not_before or now - datetime.timedelta(days=1)
        not_after = not_after or now + datetime.timedelta(days=90)
        if not_after <= not_before:
            raise ValueError("not_after must be later than not_before")
        leaf_key = self.key_for(key)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization),
                x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            ]
        )
        if self_signed:
            issuer_name, signer = subject, leaf_key
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(leaf_key.public_key())
        else:
            issuer_name, signer = self.intermediate_cert.subject, self._intermediate_key
            ski = self.intermediate_cert.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        is_rsa = isinstance(leaf_key, rsa.RSAPrivateKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=is_rsa,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
            )
        )
        if authority_key_identifier:
            builder = builder.add_extension(aki, critical=False)
        cert = builder.sign(signer, hashes.SHA256())
        if signature_hash is SignatureHash.SHA1:
            cert = _resign_sha1(cert, signer)
        intermediates = () if self_signed else (self.intermediate_cert,)
        return LeafCert(cert=cert, key=leaf_key, intermediates=intermediates)

    def server_context(
        self,
        leaf: LeafCert,
        *,
        include_intermediate: bool = True,
        minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
        ciphers: str | None = None,
        allow_client_renegotiation: bool = False,
        dh_bits: int | None = None,
    ) -> ssl.SSLContext:
        """A server :class:`ssl.SSLContext` for ``leaf``; see :func:`server_context`."""
        return server_context(
            leaf,
            include_intermediate=include_intermediate,
            minimum_version=minimum_version,
            maximum_version=maximum_version,
            ciphers=ciphers,
            allow_client_renegotiation=allow_client_renegotiation,
            dh_bits=dh_bits,
        )

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the lab root (TLS 1.2+, host names checked)."""
        ctx = ssl.create_default_context(cadata=self.ca_pem)
        return ctx


def server_context(
    leaf: LeafCert,
    *,
    include_intermediate: bool = True,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str | None = None,
    allow_client_renegotiation: bool = False,
    dh_bits: int | None = None,
) -> ssl.SSLContext:
    """Build a server context serving ``leaf`` (with or without its intermediate).

    ``dh_bits`` (1024 or 2048) loads finite-field DH parameters (:func:`dh_parameters_pem`),
    which DHE and anonymous DH suites need: without them the server has no such suite to offer.

    ``ciphers`` is an OpenSSL cipher string for TLS 1.2 and below; TLS 1.3 suites cannot be
    restricted from Python (all three of OpenSSL's defaults are served). A minimum below TLS 1.2,
    a 1024-bit key or a SHA-1 signature needs security level 0, which is then appended to the
    cipher string; the DeprecationWarning Python raises for TLS 1.0/1.1 is filtered here only.
    Client-initiated renegotiation is refused (``OP_NO_RENEGOTIATION``) unless allowed (OpenSSL
    3 then needs ``SSL_OP_ALLOW_CLIENT_RENEGOTIATION``, as it refuses it by default).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    legacy = minimum_version < ssl.TLSVersion.TLSv1_2
    weak_cert = (
        isinstance(leaf.key, rsa.RSAPrivateKey) and leaf.key.key_size < 2048
    ) or isinstance(leaf.cert.signature_hash_algorithm, hashes.SHA1)
    with warnings.catch_warnings():
        # "ssl.TLSVersion.TLSv1 is deprecated": deliberate here, this is a lab server.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum_version
        ctx.maximum_version = maximum_version
    cipher_string = ciphers
    if legacy or weak_cert:
        cipher_string = f"{ciphers or 'DEFAULT'}:@SECLEVEL=0"
    if cipher_string is not None:
        ctx.set_ciphers(cipher_string)
    if allow_client_renegotiation:
        # OpenSSL 3 refuses client-initiated renegotiation unless this option is set.
        ctx.options |= _OP_ALLOW_CLIENT_RENEGOTIATION
    else:
        ctx.options |= ssl.OP_NO_RENEGOTIATION
    with _temporary_pem(leaf.chain_pem(include_intermediate), leaf.key_pem) as (cert, key):
        ctx.load_cert_chain(cert, key)
        if dh_bits is not None:
            params = Path(key).with_name("dh.pem")
            params.write_bytes(dh_parameters_pem(dh_bits))
            ctx.load_dh_params(str(params))
    return ctx


@contextlib.contextmanager
def _temporary_pem(chain: str, key: str) -> Iterator[tuple[str, str]]:
    """Write the chain and key to private temporary files, deleted as soon as they are loaded."""
    with tempfile.TemporaryDirectory(prefix="govmail-pki-") as folder:
        cert_path = os.path.join(folder, "chain.pem")
        key_path = os.path.join(folder, "key.pem")
        with open(cert_path, "w", encoding="ascii") as handle:
            handle.write(chain)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key)
        yield cert_path, key_path


def _load_key(pem: bytes) -> _PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unexpected CA key type {type(key).__name__}")
    return key


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _resign_sha1(cert: x509.Certificate, signer: _PrivateKey) -> x509.Certificate:
    """Return ``cert`` re-signed with sha1WithRSAEncryption (cryptography will not sign SHA-1).

    The to-be-signed part names its signature algorithm; the SHA-256 and SHA-1 RSA OIDs have the
    same encoded length, so swapping them keeps the DER valid. The new TBS is signed with the
    issuer's RSA key over SHA-1 and wrapped as Certificate ::= SEQUENCE { tbs, algorithm, sig }.
    """
    if not isinstance(signer, rsa.RSAPrivateKey):
        raise ValueError("a SHA-1 signature needs an RSA issuer key")
    tbs = cert.tbs_certificate_bytes
    if tbs.count(_OID_SHA256_RSA) != 1:
        raise ValueError("expected exactly one sha256WithRSAEncryption OID in the TBS")
    tbs = tbs.replace(_OID_SHA256_RSA, _OID_SHA1_RSA)
    signature = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _der(0x30, _OID_SHA1_RSA + b"\x05\x00")
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


class PrivateCa:
    """A private root CA made the way an administrator makes one with ``openssl req -x509``
    (OpenSSL's ``v3_ca`` section: basicConstraints CA and key identifiers, no key usage), valid
    from ``valid_from`` to ``valid_until`` (relative days), whose leaves are signed directly,
    served alone, and carry no Authority Key Identifier unless asked (as ``openssl x509 -req``
    with an extension file naming only the subjectAltName makes them).

    The issue-19 shapes: a CA created after its leaf expired (no instant when both were valid)
    and a private-CA leaf without AKI, both anchored through ``--govmail-ca-file``.
    """

    def __init__(
        self,
        name: str = "pytest-govmail lab private CA",
        *,
        valid_from_days: float = -1.0,
        valid_until_days: float = 365.0,
    ) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        public = self.key.public_key()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=valid_from_days))
            .not_valid_after(now + datetime.timedelta(days=valid_until_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue(
        self,
        names: Sequence[str],
        *,
        valid_from_days: float = -1.0,
        valid_until_days: float = 90.0,
        authority_key_identifier: bool = False,
    ) -> LeafCert:
        """A server certificate for ``names`` signed by this CA (days relative to now)."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=valid_from_days))
            .not_valid_after(now + datetime.timedelta(days=valid_until_days))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        )
        if authority_key_identifier:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        return LeafCert(cert=builder.sign(self.key, hashes.SHA256()), key=key)


def _fixed_point(series: str, bits: int) -> int:
    """floor(2**bits * pi) or floor(2**bits * e), in exact integer arithmetic (64 guard bits):
    the published DH groups are defined from them."""
    one = 1 << (bits + 64)
    if series == "e":
        total, term, k = 0, one, 0
        while term:
            total += term
            k += 1
            term //= k
        return total >> 64

    def arctan_inverse(x: int) -> int:  # arctan(1/x), Taylor series
        total = term = one // x
        n, sign = 1, 1
        while term:
            term //= x * x
            n += 2
            sign = -sign
            total += sign * (term // n)
        return total

    return (16 * arctan_inverse(5) - 4 * arctan_inverse(239)) >> 64  # Machin's formula


def dh_parameters_pem(bits: int) -> bytes:
    """Published finite-field DH groups as PKCS#3 PEM, generator 2: 1024 bits is RFC 2409
    section 6.2's Oakley group 2 (a weak group TLS-09 must fail), 2048 bits RFC 7919
    appendix A.1's ffdhe2048. Each prime is computed from the RFC's own formula."""
    if bits == 1024:
        prime = 2**1024 - 2**960 - 1 + 2**64 * (_fixed_point("pi", 894) + 129093)
    elif bits == 2048:
        prime = 2**2048 - 2**1984 + (_fixed_point("e", 1918) + 560316) * 2**64 - 1
    else:
        raise ValueError(f"no published DH group of {bits} bits here (1024 or 2048)")
    parameters = dh.DHParameterNumbers(prime, 2).parameters()
    return parameters.parameter_bytes(
        serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3
    )
