"""The one set of trust anchors for every certificate check: SMTP on the MX hosts and MTA-STS.

A sending MTA that applies MTA-STS validates both the policy host's HTTPS certificate and the
MX hosts' certificates against the roots it trusts (RFC 8461 sections 3.3 and 4.2). Judging the
two with different stores (formerly sslyze's copy of Mozilla's roots for the MX hosts, certifi
or the operating system's for the policy host) could make one domain's two certificates
disagree for reasons that have nothing to do with the domain, and make evidence depend on the
machine that collected it. So both use:

* ``mozilla``: the Mozilla NSS root store that sslyze ships and keeps current
  (``sslyze/plugins/certificate_info/trust_stores/pem_files/mozilla_nss.pem``, found through
  ``TrustStoresRepository.get_default().get_main_store()``), the same on every machine;
* ``ca-file``: the user's ``--govmail-ca-file`` extra anchors (a private CA, the demo lab's).

Stores are parsed once (the Mozilla one per process, a CA file per path, size and mtime).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

from pytest_govmail.collect.quiet import certificate_warnings_ignored
from pytest_govmail.model.https import CertificateCheck
from pytest_govmail.model.tls import TrustCheck
from pytest_govmail.records.mtasts_policy import mx_pattern_matches

__all__ = [
    "CA_FILE",
    "MOZILLA",
    "Anchors",
    "check_certificate",
    "file_anchors",
    "mozilla_anchors",
]

#: ``TrustCheck.store`` of the public store (sslyze's copy of Mozilla NSS's roots).
MOZILLA = "mozilla"
#: ``TrustCheck.store`` of the user's ``--govmail-ca-file``.
CA_FILE = "ca-file"
#: subjectAltNames kept from a policy host's leaf.
MAX_NAMES = 100


@dataclass(frozen=True, slots=True)
class Anchors:
    """One trust source: its name in the evidence, the verifier store, a label for details."""

    store: str
    certs: Store
    label: str


_lock = threading.Lock()
_mozilla: Anchors | None = None
_files: dict[tuple[str, int, int], Anchors] = {}


def mozilla_anchors() -> Anchors:
    """sslyze's bundled Mozilla store, parsed once per process."""
    global _mozilla
    with _lock:
        if _mozilla is None:
            # sslyze's bundled store holds a few roots with non-positive serial numbers, which
            # cryptography warns about when parsing: expected here, not the user's problem.
            with certificate_warnings_ignored():
                main = TrustStoresRepository.get_default().get_main_store()
                certs = x509.load_pem_x509_certificates(main.path.read_bytes())
            _mozilla = Anchors(MOZILLA, Store(certs), f"{main.name} {main.version}")
        return _mozilla


def file_anchors(path: Path) -> Anchors:
    """The user's CA file; an unreadable or empty file raises ``ValueError`` saying why."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _lock:
            cached = _files.get(key)
        if cached is not None:
            return cached
        with certificate_warnings_ignored():
            anchors = Anchors(
                CA_FILE, Store(x509.load_pem_x509_certificates(path.read_bytes())), str(path)
            )
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read CA certificates from {path}: {exc}") from exc
    with _lock:
        _files[key] = anchors
    return anchors


def _load_certificate(data: bytes) -> x509.Certificate | None:
    """A certificate (DER), or None when it cannot be parsed.

    cryptography warns (CryptographyDeprecationWarning) about certificates that break RFC 5280
    in ways it still accepts, such as a negative serial number in some public roots; those
    warnings are about the remote data, not this code, so they are silenced here
    (:mod:`pytest_govmail.collect.quiet` says why through one lock).
    """
    with certificate_warnings_ignored():
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            return None


def _san_names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(str(n) for n in san.value.get_values_for_type(x509.DNSName)[:MAX_NAMES])


def check_certificate(
    chain_der: Sequence[bytes], host: str, ca_file: Path | None, at: datetime
) -> CertificateCheck:
    """Validate a served chain (DER, leaf first) for ``host`` at time ``at``, per trust source.

    This is the MTA-STS policy host's check (RFC 8461 section 3.3: a certificate valid for the
    host name, chaining to a trusted root, current): the name is part of it, unlike the MX
    hosts' trust check, where CERT-01 (trust) and CERT-02 (name) are judged apart. An
    unreadable ``ca_file`` is recorded as a failed ``ca-file`` check, not raised.
    """
    if not chain_der:
        return CertificateCheck(False, "the server presented no certificate")
    certs: list[x509.Certificate] = []
    for index, der in enumerate(chain_der):
        cert = _load_certificate(der)
        if cert is None:
            which = "leaf" if index == 0 else f"chain certificate {index + 1}"
            return CertificateCheck(False, f"the served {which} cannot be parsed")
        certs.append(cert)
    leaf, intermediates = certs[0], certs[1:]
    names = _san_names(leaf)
    name_matches = any(mx_pattern_matches(n, host) for n in names)
    sources: list[Anchors | TrustCheck] = [mozilla_anchors()]
    if ca_file is not None:
        try:
            sources.append(file_anchors(ca_file))
        except ValueError as exc:  # recorded beside the public store's result
            sources.append(TrustCheck(CA_FILE, False, str(exc)))
    checks: list[TrustCheck] = []
    for source in sources:
        if isinstance(source, TrustCheck):
            checks.append(source)
            continue
        try:
            verifier = (
                PolicyBuilder()
                .store(source.certs)
                .time(at.astimezone(UTC).replace(tzinfo=None))
                .build_server_verifier(x509.DNSName(host))
            )
            verifier.verify(leaf, intermediates)
        except VerificationError as exc:
            checks.append(TrustCheck(source.store, False, str(exc)))
        except (ValueError, TypeError) as exc:
            checks.append(TrustCheck(source.store, False, f"{type(exc).__name__}: {exc}"))
        else:
            checks.append(TrustCheck(source.store, True, ""))
    verified = any(t.verified for t in checks)
    detail = ""
    if not verified:
        reasons = []
        if not name_matches:
            shown = ", ".join(names[:10]) if names else "no DNS names"
            reasons.append(f"the certificate names {shown}, not {host}")
        now_utc = at.astimezone(UTC)
        if leaf.not_valid_after_utc < now_utc:
            reasons.append(f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
        elif leaf.not_valid_before_utc > now_utc:
            reasons.append(
                f"the certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
            )
        reasons.extend(f"{t.store}: {t.detail}" for t in checks)
        detail = "; ".join(reasons)
    return CertificateCheck(verified, detail, names, name_matches, tuple(checks))
