"""CERT-01..CERT-07: the certificate chain each address of an MX host presents after STARTTLS.

Sources: GOV.UK "Set up government email services securely" (G2) and the supplier guide (SEED,
"Strict" certificate checking: no self-signed certificates), RFC 8461 section 4.2 (MTA-STS: a
certificate valid for the MX name, chaining to a trusted root, not expired), RFC 6125 (names;
wildcards), RFC 5280 (paths), NCSC "Using TLS to protect data" (N1) and NCSC Mail Check's rules
(MC: key sizes, SHA-1, expiry warning, chain order). Key sizes and the expiry window come from the
TLS profile (:mod:`pytest_govmail.inputs.tls_profile`).

Every judge here is host-scoped and combines the addresses of the host as
:func:`pytest_govmail.judge.tls.host_verdict` does (any address fails: FAIL naming it; any
address not judged: INCONCLUSIVE). Each needs a completed STARTTLS handshake at the address
(else INCONCLUSIVE "no TLS session to judge: see TLS-01"). The chain is ``TlsScan.chain_pem``,
leaf first, as the server sent it, parsed with ``cryptography``; an entry that does not parse
(garbage PEM, several certificates in one entry, over 64 KiB) makes the requirements that need it
INCONCLUSIVE with the reason, and is never an exception. CERT-02, CERT-03 and CERT-04 need only
the leaf; CERT-05 and CERT-06 judge what parsed (a weak key or hash already seen FAILS) and are
INCONCLUSIVE only if nothing failed; CERT-07 needs the whole chain.

Decisions:

- CERT-01 reads the collector's path validation (``TlsScan.trust``), one
  :class:`~pytest_govmail.model.tls.TrustCheck` per store. Two store names count: ``"mozilla"``
  (the public store: sslyze's Mozilla store) and ``"ca-file"`` (the anchors the user gave with
  ``--govmail-ca-file``: a private CA, the demo lab). The chain passes if either validated; a
  pass through ``ca-file`` alone says so. Other store names are ignored. No check under either
  name is INCONCLUSIVE. A failure names its cause in plain words, the validator's as well: a
  certificate outside its validity when checked (``cert.chain.dates``: the collector validates
  now while the leaf is valid, else as of an instant inside every certificate's validity, so an
  expired leaf alone never reads as "untrusted"; an expired CA certificate does), a
  self-signed certificate, a reason other than a missing root (an unacceptable extension, a
  refused algorithm), else the issuer of the last served certificate that is not a trusted root.
  Which RFC 5280 checks count as trust is :mod:`pytest_govmail.collect.trust`'s: the key
  identifiers (AKI, SKI) do not.
- CERT-02 compares the MX hostname (lower case, no trailing dot) with the leaf's subjectAltName
  DNS names only: the subject CN is never used. A wildcard matches only as the whole left-most
  label (``*.example.gov.uk`` covers ``mx.example.gov.uk``, not ``a.mx.example.gov.uk`` nor
  ``example.gov.uk``); partial wildcards (``mx*.example``) and wildcards over a single label
  (``*.uk``) match nothing.
- CERT-03 and CERT-04 judge the leaf (an expired intermediate already fails CERT-01's path
  validation) at ``subject.now`` (the collection time, so that replay judges the same way), else
  the current time. CERT-04 passes when notAfter is more than N days away: N is
  ``subject.cert_expiry_days`` (``--govmail-cert-expiry-days``) when given, else the profile's
  ``expiry_warning_days`` (30 in the packaged profile).
- CERT-05 and CERT-06 check the leaf and every served certificate that is not self-issued (a
  served root is the trust anchor: its key and self-signature are not relied on). Ed25519 and
  Ed448 keys pass CERT-05; DSA keys fail. CERT-06 fails MD2, MD4, MD5 and SHA-1 signatures
  (RSA PKCS#1 v1.5, RSA-PSS, DSA or ECDSA).
- CERT-07: "in order" means each served certificate is issued by the next one (names match and
  the next one's key verifies the signature). "Complete" means the last served certificate is a
  self-signed root, or path validation against ``mozilla`` or ``ca-file`` succeeded with the
  served intermediates (the collector's validator does not fetch missing intermediates), or the
  last served certificate is issued, by name and signature, by an anchor of either store
  (``TrustCheck.anchored_by``: validation may have failed for dates, CERT-03's). A chain
  in order whose path validation failed and that does not end at a root FAILS as incomplete: the
  finding names the issuer that was not served, which is either a missing intermediate or an
  unknown CA (CERT-01 tells the two apart for a reader).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from pytest_govmail.inputs.tls_profile import TlsProfile
from pytest_govmail.judge.chain import Chain, describe_name, issued_by, load_chain, self_issued
from pytest_govmail.judge.common import show_value
from pytest_govmail.judge.host import (
    AddressVerdict,
    Check,
    _bad,
    _ok,
    _unknown,
    expiry_days,
    host_verdict,
    judging_profile,
    judging_time,
    profiled_session_verdict,
    tls_session,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import OUTSIDE_VALIDITY, TlsScan, TrustCheck
from pytest_govmail.model.verdict import Finding, Verdict

if TYPE_CHECKING:
    # Only for annotations: cryptography.x509 loads ``socket`` (through email.utils), and a judge
    # must import no network module. CERT-02 imports it where it reads the leaf's names.
    from cryptography import x509

__all__ = [
    "TRUST_STORES",
    "chain_complete_in_order",
    "chain_trusted",
    "keys_strong",
    "name_matches",
    "names_mx_host",
    "no_weak_signatures",
    "not_expiring_soon",
    "within_validity",
]

#: The ``TrustCheck.store`` names CERT-01 and CERT-07 accept: the public store, the user's CAs.
TRUST_STORES = ("mozilla", "ca-file")

#: Signature algorithms CERT-06 rejects, by OID (MD2, MD4, MD5 and SHA-1 with RSA; SHA-1 with
#: DSA and ECDSA; the old OIW sha1WithRSA): cryptography cannot name the hash of some of them.
_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "MD2 with RSA",
    "1.2.840.113549.1.1.3": "MD4 with RSA",
    "1.2.840.113549.1.1.4": "MD5 with RSA",
    "1.2.840.113549.1.1.5": "SHA-1 with RSA",
    "1.3.14.3.2.29": "SHA-1 with RSA",
    "1.2.840.10040.4.3": "SHA-1 with DSA",
    "1.2.840.10045.4.1": "SHA-1 with ECDSA",
}


def _open_parts(unreadable: Sequence[str], problem: str) -> str:
    parts = [*unreadable[:3], *([problem] if problem else [])]
    return "; ".join(parts)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _label(index: int, cert: x509.Certificate) -> str:
    role = "the leaf" if index == 0 else f"certificate {index + 1}"
    return f"{role} ({describe_name(cert.subject)})"


def _relevant_checks(scan: TlsScan) -> list[TrustCheck]:
    return [t for t in scan.trust if t.store.strip().lower() in TRUST_STORES]


#: The cause CERT-01 words as "ends at X, which is not a trusted root".
_NO_ROOT = "no chain from it leads to a trusted root"
#: cryptography's words when no instant lies inside every certificate's validity.
_DATES = "not valid at validation time"

#: What a path validator's own words mean, in plain English, by a phrase they contain. The
#: texts come from the libraries (cryptography's Rust verifier quotes its internal types, such
#: as ``AlgorithmIdentifier { oid: DefinedByMarker(PhantomData<...``): an assessor needs the
#: cause, so the known causes are named and the rest is cut short.
_VALIDATION_CAUSES = (
    (
        "forbidden signature algorithm",
        "a certificate is signed with an algorithm trust stores refuse (such as SHA-1)",
    ),
    (
        "forbidden public key algorithm",
        "a certificate's key is of a kind trust stores refuse",
    ),
    (_DATES, "a certificate is outside its validity period"),
    ("expired", "a certificate is outside its validity period"),
    ("not yet valid", "a certificate is outside its validity period"),
    ("no interior errors", _NO_ROOT),
    ("unable to get local issuer", _NO_ROOT),
    ("self signed", _NO_ROOT),
    ("self-signed", _NO_ROOT),
    ("required eku not found", "the leaf's extended key usage does not allow a TLS server"),
    ("keycertsign", "an issuing certificate's key usage does not allow signing certificates"),
    ("basicconstraints.ca", "a certificate is used as a CA but is not marked as one"),
    ("chain depth", "the chain is longer than a validator follows"),
)

#: Extensions named in a validator's words ("invalid extension: 2.5.29.35: ..."), by OID.
_EXTENSIONS = {
    "2.5.29.14": "Subject Key Identifier",
    "2.5.29.15": "Key Usage",
    "2.5.29.17": "Subject Alternative Name",
    "2.5.29.19": "Basic Constraints",
    "2.5.29.30": "Name Constraints",
    "2.5.29.32": "Certificate Policies",
    "2.5.29.35": "Authority Key Identifier",
    "2.5.29.37": "Extended Key Usage",
    "1.3.6.1.5.5.7.1.1": "Authority Information Access",
}

#: How each store reads in a message.
_STORE_NAMES = {"mozilla": "the Mozilla store", "ca-file": "the CA file"}


def _plain_cause(detail: str) -> str:
    """A validator's detail as a plain-English cause (the known ones), else a short quote."""
    lowered = detail.lower()
    for phrase, cause in _VALIDATION_CAUSES:
        if phrase in lowered:
            return cause
    if not detail:
        return "validation failed"
    match = re.search(r"invalid extension: ([0-9.]+): ([^(]*)", detail)
    if match:
        oid, why = match.group(1), match.group(2).strip().rstrip(".")
        name = _EXTENSIONS.get(oid, f"extension {oid}")
        if "missing required extension" in why.lower():
            return f"a certificate lacks the {name} extension, which the validator requires"
        return f"a certificate's {name} extension is not acceptable ({show_value(why, 60)})"
    # The text after the last "validation failed:" is the validator's reason, without the
    # store's label or file path in front of it.
    reason = detail.rpartition("validation failed:")[2].strip() or detail
    return f"validation failed: {show_value(reason, 80)}"


def _validation_notes(checks: Sequence[TrustCheck]) -> str:
    """Why each store refused the chain, in plain English; one clause when they agree."""
    causes: dict[str, list[str]] = {}
    for check in checks:
        store = check.store.strip().lower()
        causes.setdefault(_plain_cause(check.detail), []).append(_STORE_NAMES.get(store, store))
    return "; ".join(f"{' and '.join(stores)}: {cause}" for cause, stores in causes.items())


def _stores(checks: Sequence[TrustCheck]) -> str:
    """The stores that refused the chain, as words ("the Mozilla store and the CA file")."""
    names = dict.fromkeys(
        _STORE_NAMES.get(t.store.strip().lower(), t.store.strip().lower()) for t in checks
    )
    return " and ".join(names)


def _weak_signer(chain: Chain) -> str:
    """The first served certificate but a root whose signature uses a weak hash, as
    "the leaf (...) is signed with SHA-1 with RSA", or "" (CERT-06 judges the same)."""
    for index, cert in enumerate(chain.certs):
        if index and self_issued(cert):
            continue
        weak = _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string)
        if weak:
            return f"{_label(index, cert)} is signed with {weak}"
    return ""


def _refused_algorithm(checks: Sequence[TrustCheck]) -> bool:
    """A store refused the chain for its signature algorithm (not for its root)."""
    return any("forbidden signature algorithm" in t.detail.lower() for t in checks)


# ------------------------------------------------------------------------------------------
# CERT-01
# ------------------------------------------------------------------------------------------


def _trusted(scan: TlsScan) -> AddressVerdict:
    checks = _relevant_checks(scan)
    verified = {t.store.strip().lower() for t in checks if t.verified}
    if "mozilla" in verified:
        return _ok("the chain validates to the Mozilla trust store")
    if "ca-file" in verified:
        return _ok(
            "the chain validates to the CA file given with --govmail-ca-file "
            "(not to the Mozilla store)"
        )
    if not checks:
        others = ", ".join(show_value(t.store, 30) for t in scan.trust[:5])
        return _unknown(
            "no path validation against the Mozilla store or a CA file was recorded"
            + (f" (only against {others})" if others else "")
        )
    why = _validation_notes(checks)
    chain = load_chain(scan)
    remediation = (
        "Replace the certificate with one issued by a publicly trusted CA (for example an ACME "
        "CA such as Let's Encrypt, or a commercial CA), and serve its intermediates with it."
    )
    if not chain.certs:
        observed = f"the chain does not validate ({why}); {chain.problem}"
        return _bad(Finding("cert.chain.untrusted", observed, _TRUSTED, remediation))
    leaf, top = chain.certs[0], chain.certs[-1]
    if self_issued(leaf) and issued_by(leaf, leaf):
        return _bad(
            Finding(
                "cert.chain.self_signed",
                f"self-signed certificate {describe_name(leaf.subject)} ({why})",
                _TRUSTED,
                remediation,
            )
        )
    weak = _weak_signer(chain) if _refused_algorithm(checks) else ""
    if weak:
        # The headline cause: trust stores refuse a SHA-1 (or MD5) signature before they look
        # for a root, so "not a trusted root" would send the assessor after the wrong fix.
        return _bad(
            Finding(
                "cert.chain.untrusted",
                f"the chain does not validate because {weak}, which trust stores refuse "
                f"(see CERT-06; refused by {_stores(checks)})",
                _TRUSTED,
                "Reissue the certificate signed with SHA-256 or stronger, from a publicly "
                "trusted CA, and serve its current SHA-2 intermediates with it.",
            )
        )
    dated = [t for t in checks if _DATES in t.detail]
    if dated:
        # The collector validates while the leaf is valid, or as of an instant inside every
        # certificate's validity: this names the certificates outside theirs at that instant.
        specifics = next(
            (
                t.detail.partition(OUTSIDE_VALIDITY)[2].strip(" :")
                for t in dated
                if OUTSIDE_VALIDITY in t.detail
            ),
            "",
        )
        at = f" ({OUTSIDE_VALIDITY} {show_value(specifics, 240)})" if specifics else ""
        anchored = sorted({t.anchored_by for t in checks if t.anchored_by})
        through = (
            f"; it links to the trust anchor {show_value(anchored[0], 80)} by name and signature"
            if anchored
            else ""
        )
        return _bad(
            Finding(
                "cert.chain.dates",
                "the chain does not validate because a certificate in it is outside its "
                f"validity period when checked{at}{through} (the leaf's own dates: CERT-03)",
                _TRUSTED,
                "Reissue the certificate from a CA whose own certificates are valid for the "
                "whole life of the certificates they issue, and serve the CA's current "
                "intermediates with it.",
            )
        )
    if {_plain_cause(t.detail) for t in checks} - {_NO_ROOT}:
        # The validator found a path to an anchor and refused it for another reason: say it.
        return _bad(
            Finding(
                "cert.chain.untrusted",
                f"the chain does not validate: {why}",
                _TRUSTED,
                "Reissue the certificate so that it and its CA certificates follow RFC 5280's "
                "profile (see the reason), from a publicly trusted CA.",
            )
        )
    if self_issued(top) and len(chain.certs) > 1:
        where = f"ends at the root {describe_name(top.subject)}, which is not a trusted root"
    else:
        where = (
            f"ends at {describe_name(top.subject)}, issued by {describe_name(top.issuer)}, "
            "which is not a trusted root"
        )
    return _bad(
        Finding(
            "cert.chain.untrusted",
            f"the chain does not validate: it {where} ({why})",
            _TRUSTED,
            remediation,
        )
    )


_TRUSTED = "a chain that validates to the Mozilla trust store (or the given CA file)"


def chain_trusted(subject: Subject) -> Verdict:
    """CERT-01: the chain validates to a public trust store (Mozilla); G2, SEED, RFC 8461 4.2."""
    return host_verdict(subject, _trusted, gate=tls_session)


# ------------------------------------------------------------------------------------------
# CERT-02
# ------------------------------------------------------------------------------------------


def name_matches(pattern: str, host: str) -> bool:
    """True when a subjectAltName DNS name covers ``host`` (RFC 6125 6.4; one-label wildcard)."""
    name = pattern.strip().rstrip(".").lower()
    wanted = host.strip().rstrip(".").lower()
    if not name or not wanted:
        return False
    if "*" not in name:
        return name == wanted
    if not name.startswith("*.") or "*" in name[2:]:
        return False
    base = name[2:]
    if "." not in base:
        return False
    label, dot, rest = wanted.partition(".")
    return bool(label) and bool(dot) and rest == base


def _names(host: str) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        if not chain.certs:
            return _unknown(chain.problem)
        leaf = chain.certs[0]
        from cryptography import x509  # here, where a certificate is read: see the module's imports

        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = san.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            names = None
        except Exception as exc:
            return _unknown(f"the leaf's extensions cannot be read ({show_value(str(exc), 120)})")
        expected = f"a subjectAltName DNS name that matches {host}"
        remediation = (
            f"Reissue the certificate with {host} (exactly as the MX record names it) among its "
            "subjectAltName DNS names (a wildcard covers one label only), or point the MX "
            "record at a name the certificate covers."
        )
        if not names:
            return _bad(
                Finding(
                    "cert.name.no_san",
                    f"the certificate has no subjectAltName DNS name (subject "
                    f"{describe_name(leaf.subject)}; the CN is not used)",
                    expected,
                    remediation,
                )
            )
        for name in names:
            if name_matches(name, host):
                return _ok(f"subjectAltName {show_value(name, 120)} matches {host}")
        shown = ", ".join(show_value(n, 80) for n in names[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        return _bad(
            Finding(
                "cert.name.mismatch",
                f"no subjectAltName matches {host} (names: {shown}{more})",
                expected,
                remediation,
            )
        )

    return check


def names_mx_host(subject: Subject) -> Verdict:
    """CERT-02: a SAN DNS name matches the MX hostname; no CN fallback (RFC 8461 4.2; RFC 6125)."""
    host = (subject.host or "").strip().rstrip(".").lower()
    return host_verdict(subject, _names(host), gate=tls_session)


# ------------------------------------------------------------------------------------------
# CERT-03 and CERT-04
# ------------------------------------------------------------------------------------------


def _validity(now: datetime) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        if not chain.certs:
            return _unknown(chain.problem)
        leaf = chain.certs[0]
        start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        remediation = (
            "Install a renewed certificate and reload the SMTP service; if a new certificate "
            "is reported as not yet valid, check its issue date and the server's clock."
        )
        if now < start:
            return _bad(
                Finding(
                    "cert.validity.not_yet",
                    f"the certificate is not valid until {_when(start)} (judged at {_when(now)})",
                    "now inside notBefore..notAfter",
                    remediation,
                )
            )
        if now > end:
            return _bad(
                Finding(
                    "cert.validity.expired",
                    f"the certificate expired {_when(end)}, {(now - end).days} day(s) before "
                    f"{_when(now)}",
                    "now inside notBefore..notAfter",
                    remediation,
                )
            )
        return _ok(f"valid from {_when(start)} to {_when(end)}")

    return check


def within_validity(subject: Subject) -> Verdict:
    """CERT-03: now is inside the leaf's notBefore..notAfter (RFC 8461 4.2; RFC 5280 4.1.2.5)."""
    now = judging_time(subject)
    return host_verdict(
        subject, _validity(now), gate=tls_session, details=[("judged at", _when(now))]
    )


def _expiry(now: datetime, days: int) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        if not chain.certs:
            return _unknown(chain.problem)
        end = chain.certs[0].not_valid_after_utc
        left = end - now
        if left > timedelta(days=days):
            return _ok(f"expires {_when(end)}, in {left.days} days")
        state = f"{left.days} day(s) left" if left >= timedelta(0) else "already expired"
        return _bad(
            Finding(
                "cert.expiry.soon",
                f"the certificate expires {_when(end)} ({state})",
                f"more than {days} days before notAfter",
                "Renew the certificate now, and automate renewal (for example with ACME) so "
                "that it is replaced well before it expires.",
            )
        )

    return check


def not_expiring_soon(subject: Subject) -> Verdict:
    """CERT-04: more than 30 days (configurable) before the leaf's notAfter (MC)."""
    days = expiry_days(subject, judging_profile(subject))
    now = judging_time(subject)
    return host_verdict(
        subject,
        _expiry(now, days),
        gate=tls_session,
        details=[("judged at", f"{_when(now)}; warning window {days} days")],
    )


# ------------------------------------------------------------------------------------------
# CERT-05 and CERT-06
# ------------------------------------------------------------------------------------------


def _relied_on(certs: Sequence[x509.Certificate]) -> list[tuple[int, x509.Certificate]]:
    """The leaf and every served certificate that is not self-issued (not a root)."""
    return [(i, c) for i, c in enumerate(certs) if i == 0 or not self_issued(c)]


def _key_problem(cert: x509.Certificate, profile: TlsProfile) -> str | None:
    """None for a strong enough key, else what is wrong; raises for an unreadable key."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        return None if bits >= profile.min_rsa_bits else f"RSA {bits} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
        return None if bits >= profile.min_ec_bits else f"EC {key.curve.name} ({bits} bits)"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return None
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits"
    return f"an unsupported key type ({type(key).__name__})"


def _keys(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        weak: list[str] = []
        unreadable: list[str] = []
        for index, cert in _relied_on(chain.certs):
            try:
                problem = _key_problem(cert, profile)
            except (UnsupportedAlgorithm, ValueError) as exc:
                unreadable.append(f"{_label(index, cert)}: key unreadable ({exc})")
                continue
            if problem:
                weak.append(f"{_label(index, cert)}: {problem}")
        if weak:
            return _bad(
                Finding(
                    "cert.key.weak",
                    "weak key(s): " + "; ".join(weak),
                    f"RSA of at least {profile.min_rsa_bits} bits or EC of at least "
                    f"{profile.min_ec_bits} bits, in the leaf and every intermediate",
                    "Reissue the certificate with an RSA key of at least 2048 bits or an EC key "
                    "on P-256 or P-384, from a CA whose intermediates meet the same bar.",
                )
            )
        if chain.problem or unreadable:
            return _unknown(_open_parts(unreadable, chain.problem))
        return _ok(f"{len(_relied_on(chain.certs))} key(s) strong enough")

    return check


def keys_strong(subject: Subject) -> Verdict:
    """CERT-05: leaf and intermediates have RSA >= 2048 or EC >= 256 bit keys (N1; MC)."""
    return profiled_session_verdict(subject, _keys)


def _weak_signature(cert: x509.Certificate) -> str | None:
    """The weak signature algorithm of ``cert``, or None; raises when it cannot be told."""
    oid = cert.signature_algorithm_oid.dotted_string
    if oid in _WEAK_SIGNATURE_OIDS:
        return _WEAK_SIGNATURE_OIDS[oid]
    algorithm = cert.signature_hash_algorithm
    if isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        return algorithm.name.upper()
    return None


def _signatures(scan: TlsScan) -> AddressVerdict:
    chain = load_chain(scan)
    weak: list[str] = []
    unreadable: list[str] = []
    for index, cert in _relied_on(chain.certs):
        try:
            problem = _weak_signature(cert)
        except (UnsupportedAlgorithm, ValueError):
            oid = cert.signature_algorithm_oid.dotted_string
            unreadable.append(f"{_label(index, cert)}: unknown signature algorithm {oid}")
            continue
        if problem:
            weak.append(f"{_label(index, cert)}: signed with {problem}")
    if weak:
        return _bad(
            Finding(
                "cert.signature.weak",
                "; ".join(weak),
                "SHA-256 or stronger signatures on every certificate but the root",
                "Reissue the certificate signed with SHA-256 or stronger, and serve the CA's "
                "current SHA-2 intermediate instead of any SHA-1 one.",
            )
        )
    if chain.problem or unreadable:
        return _unknown(_open_parts(unreadable, chain.problem))
    return _ok(f"{len(_relied_on(chain.certs))} signature(s) use SHA-2 or better")


def no_weak_signatures(subject: Subject) -> Verdict:
    """CERT-06: no MD5 or SHA-1 signature on a non-root certificate (N1; MC; RFC 6151)."""
    return host_verdict(subject, _signatures, gate=tls_session)


# ------------------------------------------------------------------------------------------
# CERT-07
# ------------------------------------------------------------------------------------------


def _complete(scan: TlsScan) -> AddressVerdict:
    chain = load_chain(scan)
    if not chain.complete:
        return _unknown(chain.problem)
    certs = chain.certs
    remediation = (
        "Serve the CA's full-chain file: the leaf certificate first, then each intermediate "
        "in order (the root may be left out)."
    )
    for index in range(len(certs) - 1):
        cert, following = certs[index], certs[index + 1]
        if not issued_by(cert, following):
            return _bad(
                Finding(
                    "cert.chain.order",
                    f"{_label(index + 1, following)} did not issue {_label(index, cert)}, "
                    f"which is issued by {describe_name(cert.issuer)}",
                    "each served certificate issued by the next one",
                    remediation,
                )
            )
    last = certs[-1]
    if self_issued(last) and issued_by(last, last):
        return _ok(f"{len(certs)} certificate(s) in order, ending at a self-signed root")
    checks = _relevant_checks(scan)
    if any(t.verified for t in checks):
        return _ok(f"{len(certs)} certificate(s) in order; path validation succeeded")
    anchored = [t for t in checks if t.anchored_by]
    if anchored:
        # Order and completeness, not dates nor the profile (CERT-01 and CERT-03 judge those):
        # the last served certificate's issuer is a trust anchor, by name and signature.
        store = _STORE_NAMES.get(anchored[0].store.strip().lower(), anchored[0].store)
        return _ok(
            f"{len(certs)} certificate(s) in order; the last is issued by "
            f"{show_value(anchored[0].anchored_by, 80)}, a trust anchor of {store} (path "
            "validation failed for another reason: see CERT-01)"
        )
    if not checks:
        return _unknown(
            "the chain is in order but does not end at a root, and no path validation was "
            "recorded to show it is complete"
        )
    weak = _weak_signer(chain) if _refused_algorithm(checks) else ""
    if weak:
        # Validation stopped at the weak signature, so it cannot show that the served chain
        # reaches a root; say that, rather than blame a missing certificate.
        observed = (
            f"the served chain ends at {_label(len(certs) - 1, last)}, issued by "
            f"{describe_name(last.issuer)} (not served), and path validation cannot show that "
            f"this is complete because {weak} (see CERT-06; refused by {_stores(checks)})"
        )
    else:
        observed = (
            f"the served chain ends at {_label(len(certs) - 1, last)}, whose issuer "
            f"{describe_name(last.issuer)} was not served and is not a trust anchor "
            f"({_validation_notes(checks)})"
        )
    return _bad(
        Finding(
            "cert.chain.incomplete",
            observed,
            "a complete chain: every intermediate up to a trusted root served, in order",
            remediation,
        )
    )


def chain_complete_in_order(subject: Subject) -> Verdict:
    """CERT-07: the served chain is complete and in order (MC; RFC 8446 4.4.2, RFC 5246 7.4.2)."""
    return host_verdict(subject, _complete, gate=tls_session)
