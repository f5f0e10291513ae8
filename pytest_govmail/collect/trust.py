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

What trust is (CERT-01), and what it is not. :func:`validate_served_chain` asks cryptography's
verifier for a path from the served leaf to an anchor, with the RFC 5280 section 6.1 checks a
relying party makes: each signature, each issuer a CA (basicConstraints cA, keyCertSign when key
usage is present, path length), name constraints, serverAuth when the leaf limits its extended
key usage, and a subjectAltName to validate. Two things are judged apart:

* The leaf's dates. CERT-03 judges them; the CA certificates' dates stay part of trust. While
  the leaf is valid the path is validated now; a leaf outside its validity is validated as of
  the nearest instant inside it that is also inside every CA certificate's validity, so an
  expired leaf from a trusted CA is "expired", not "untrusted". When there is no such instant
  (a CA created after its leaf expired) the check fails and names the certificates outside
  their validity; ``TrustCheck.anchored_by`` still names the anchor the chain links to by name
  and signature, so CERT-07 judges order and completeness, not dates.
* Identifiers. The Authority Key Identifier (on leaves and CAs) and the Subject Key Identifier (on
  CAs) help a validator build paths; RFC 5280 section 4.2.1.1 asks CAs to include them, but path
  validation (section 6.1) does not check them, nor do the TLS libraries of sending MTAs
  (OpenSSL for Postfix and Exim). A private CA's leaf without them, anchored through
  ``--govmail-ca-file``, is trusted; a CA certificate without key usage is too (section 6.1.4
  (n) checks keyCertSign only when the extension is present).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
    TrustStoresRepository,
)

from pytest_govmail.collect.quiet import certificate_warnings_ignored
from pytest_govmail.model.https import CertificateCheck
from pytest_govmail.model.tls import OUTSIDE_VALIDITY, TrustCheck
from pytest_govmail.records.mtasts_policy import mx_pattern_matches

__all__ = [
    "CA_FILE",
    "MOZILLA",
    "Anchors",
    "check_certificate",
    "file_anchors",
    "mozilla_anchors",
    "trust_policy",
    "validate_served_chain",
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
    #: The anchors themselves, to choose a validation instant inside their validity and to name
    #: the one a chain links to (empty when only a ``Store`` was given).
    roots: tuple[x509.Certificate, ...] = ()


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
            _mozilla = Anchors(MOZILLA, Store(certs), f"{main.name} {main.version}", tuple(certs))
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
            roots = x509.load_pem_x509_certificates(path.read_bytes())
            anchors = Anchors(CA_FILE, Store(roots), str(path), tuple(roots))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read CA certificates from {path}: {exc}") from exc
    with _lock:
        _files[key] = anchors
    return anchors


def _key_cert_sign(_policy: Policy, cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    """RFC 5280 section 6.1.4 (n): a CA's key usage, when present, must allow keyCertSign."""
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("the CA's key usage does not allow certificate signing (keyCertSign)")


def trust_policy(builder: PolicyBuilder) -> PolicyBuilder:
    """``builder`` with the extension checks that belong to trust (see the module docstring):
    cryptography's Web PKI defaults, less the key identifiers and a CA's required key usage."""
    ca = (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _key_cert_sign)
    )
    ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None
    )
    return builder.extension_policies(ca_policy=ca, ee_policy=ee)


def _issuers_of(
    cert: x509.Certificate, roots: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The anchors whose name and key issued ``cert`` (or that are ``cert`` itself)."""
    found = []
    for root in roots:
        if root == cert:
            found.append(root)
            continue
        if root.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(root)
        except Exception:  # a wrong key, or an algorithm the check refuses
            continue
        found.append(root)
    return found


def _validation_instant(
    chain: Sequence[x509.Certificate], anchor: x509.Certificate | None, now: datetime
) -> tuple[datetime, str]:
    """When to validate, and a note saying why when it is not ``now``.

    The leaf's dates are CERT-03's, the CA certificates' are part of trust: while the leaf is
    valid the path is validated ``now`` (an expired intermediate or anchor fails it). A leaf
    outside its validity is validated as of the nearest instant inside it that is also inside
    every CA certificate's validity, or, when there is none, the nearest inside its own (and
    the validation then fails for the dates, which the detail explains).
    """
    leaf = chain[0]
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if start <= now <= end:
        return now, ""
    path = [*chain, *([anchor] if anchor is not None else [])]
    common_start = max(c.not_valid_before_utc for c in path)
    common_end = min(c.not_valid_after_utc for c in path)
    if common_start <= common_end:
        start, end = common_start, common_end
    if now > end:
        return end - timedelta(
            seconds=1
        ), f" (validated as of {end:%Y-%m-%d}: expired, see CERT-03)"
    return start + timedelta(seconds=1), f" (validated as of {start:%Y-%m-%d}: not yet valid)"


def _outside(certs: Sequence[x509.Certificate], at: datetime) -> str:
    """The certificates of ``certs`` not valid at ``at``, with their validity, for a detail."""
    named = [
        f"{_subject_text(c)} (valid {c.not_valid_before_utc:%Y-%m-%d} to "
        f"{c.not_valid_after_utc:%Y-%m-%d})"
        for c in certs
        if not c.not_valid_before_utc <= at <= c.not_valid_after_utc
    ]
    return f"; {OUTSIDE_VALIDITY} {at:%Y-%m-%d}: {', '.join(named)}" if named else ""


def _subject_text(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if names:
        return str(names[0].value)
    return cert.subject.rfc4514_string() or "(empty subject)"


def validate_served_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    source: Anchors,
    subject: x509.DNSName | x509.IPAddress,
    now: datetime,
) -> TrustCheck:
    """Path validation of a served chain against one trust source (see the module docstring)."""
    served = [leaf, *intermediates]
    anchors = _issuers_of(served[-1], source.roots)
    anchor = anchors[0] if anchors else None
    at, note = _validation_instant(served, anchor, now)
    anchored_by = _subject_text(anchor) if anchor is not None else ""
    builder = trust_policy(PolicyBuilder().store(source.certs).time(at))
    try:
        path = builder.build_server_verifier(subject).verify(leaf, list(intermediates))
    except Exception as exc:  # VerificationError, or a malformed extension
        detail = str(exc).split(" (encountered processing", 1)[0]
        if "not valid at validation time" in detail:
            detail += _outside([*served, *([anchor] if anchor is not None else [])], at)
        return TrustCheck(source.store, False, f"{source.label}: {detail}"[:500], anchored_by)
    route = " <- ".join(_subject_text(c) for c in path)
    return TrustCheck(source.store, True, f"{source.label}: {route}{note}"[:500], anchored_by)


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
            builder = PolicyBuilder().store(source.certs)
            builder = trust_policy(builder.time(at.astimezone(UTC).replace(tzinfo=None)))
            verifier = builder.build_server_verifier(x509.DNSName(host))
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
