"""TLS-05, TLS-06 and TLS-07: the cipher suites an MX address accepts and prefers.

Sources: NCSC "Using TLS to protect data" and NCSC Mail Check's published rules for the suite
classes, which are data (:mod:`pytest_govmail.inputs.tls_profile`): every class a message names
comes from ``Subject.tls_profile``, so a user's profile is described as it is. TLS-05 judges
the suite the server chose at the highest version it accepts; TLS-06 looks at every version;
TLS-07 at TLS 1.2 only (a server that refuses TLS 1.2 passes: it accepts no TLS 1.2 suite).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pytest_govmail.inputs.tls_profile import TlsProfile
from pytest_govmail.judge.common import show_value
from pytest_govmail.judge.host import (
    _SHOWN,
    NEWEST_FIRST,
    AddressVerdict,
    Check,
    _accepted,
    _bad,
    _ok,
    _unknown,
    _unknown_versions,
    profiled_session_verdict,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import TlsScan, TlsVersion, VersionProbe
from pytest_govmail.model.verdict import Finding, Verdict

__all__ = [
    "describe_tls12_suites",
    "no_insecure_suites",
    "preferred_suite_recommended",
    "tls12_suites_acceptable",
]

#: Suite names listed in one finding before "and N more".
_MAX_LISTED = 12


def _shown_suite(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_\-]{1,100}", name) else show_value(name, 100)


def _suite_list(names: Sequence[str], classes: Mapping[str, str] | None = None) -> str:
    def shown(name: str) -> str:
        text = _shown_suite(name)
        return f"{text} ({classes[name]})" if classes and name in classes else text

    listed = ", ".join(shown(n) for n in names[:_MAX_LISTED])
    return listed + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _suites(probe: VersionProbe) -> tuple[str, ...]:
    extra = (probe.preferred,) if probe.preferred else ()
    return tuple(dict.fromkeys((*probe.cipher_suites, *extra)))


def _is_tls13_suite(name: str) -> bool:
    return "_WITH_" not in name.upper() and name.upper().startswith("TLS_")


def _preferred(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        for version in NEWEST_FIRST:
            accepted = _accepted(scan, version)
            if accepted is None:
                return _unknown(
                    "cannot tell the highest version the server accepts: "
                    + _unknown_versions(scan, [version])
                )
            if not accepted:
                continue
            probe = scan.version(version)
            assert probe is not None  # accepted is not None
            if not probe.preferred:
                return _unknown(f"the server's choice at {_SHOWN[version]} was not recorded")
            kind = profile.classify(probe.preferred)
            suite = _shown_suite(probe.preferred)
            if kind == "recommended":
                return _ok(f"at {_SHOWN[version]} the server picks {suite} (recommended)")
            tls13 = version is TlsVersion.TLS_1_3
            wanted = [s for s in profile.recommended if _is_tls13_suite(s) == tls13]
            return _bad(
                Finding(
                    "tls.suite.preferred",
                    f"at {_SHOWN[version]} the server picks {suite} ({kind})",
                    f"an NCSC-recommended suite ({_suite_list(wanted or profile.recommended)})",
                    "Enable the recommended suites and make the server apply its own order "
                    "with them first (Postfix: tls_preempt_cipherlist = yes).",
                )
            )
        return _unknown("no version accepted")

    return check


def preferred_suite_recommended(subject: Subject) -> Verdict:
    """TLS-05: offered every suite in client order, the server picks a recommended one (G2, N1)."""
    return profiled_session_verdict(subject, _preferred)


def _no_insecure(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        bad: list[str] = []
        open_notes: list[str] = []
        for version in NEWEST_FIRST:
            probe = scan.version(version)
            if probe is None or probe.accepted is None:
                open_notes.append(_unknown_versions(scan, [version]))
                continue
            if not probe.accepted:
                if not probe.suites_complete:  # refused what was offered, not all there is
                    open_notes.append(f"{_SHOWN[version]}: suite list incomplete ({probe.detail})")
                continue
            suites = _suites(probe)
            if not suites:
                open_notes.append(f"{_SHOWN[version]}: accepted suites not recorded")
                continue
            found = [s for s in suites if profile.classify(s) == "insecure"]
            if found:
                bad.append(f"{_SHOWN[version]}: {_suite_list(found)}")
            elif not probe.suites_complete:
                open_notes.append(f"{_SHOWN[version]}: suite list incomplete ({probe.detail})")
        if bad:
            return _bad(
                Finding(
                    "tls.suite.insecure",
                    "insecure suites accepted (" + "; ".join(bad) + ")",
                    "no NULL, anonymous, EXPORT, DES, RC4 or MD5 suite accepted",
                    "Remove them from the SMTP listener's cipher list (in an OpenSSL cipher "
                    "string: !aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5; Postfix: "
                    "smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, RC4, MD5).",
                )
            )
        if open_notes:
            return _unknown("cannot see every accepted suite: " + "; ".join(open_notes))
        return _ok("no insecure suite accepted at any version")

    return check


def no_insecure_suites(subject: Subject) -> Verdict:
    """TLS-06: no NULL, anonymous, EXPORT, DES, RC4 or MD5 suite is accepted (N1; MC)."""
    return profiled_session_verdict(subject, _no_insecure)


_KEX_WORDS = {"ECDHE": "ECDHE", "DHE": "DHE", "ECDH": "static ECDH", "DH": "static DH"}


def _cipher_words(cipher: str) -> str:
    """``AES_128_GCM_SHA256`` -> ``AES-GCM``; ``AES_256_CBC_SHA384`` -> ``AES-CBC with SHA-2``."""
    tokens = cipher.split("_")
    if "POLY1305" in tokens:
        return "ChaCha20-Poly1305"
    algorithm = tokens[0].title() if tokens[0] in ("ARIA", "CAMELLIA") else tokens[0]
    for mode in ("GCM", "CCM"):
        if mode in tokens:
            return f"{algorithm}-{mode}"
    if "CBC" in tokens:
        mac = tokens[-1]
        return f"{algorithm}-CBC with {'SHA-1' if mac == 'SHA' else 'SHA-2'}"
    return cipher.replace("_", "-")


def describe_tls12_suites(profile: TlsProfile) -> str:
    """The profile's recommended and acceptable TLS 1.2 suites in words, by key exchange.

    For the packaged profile: ``ECDHE with AES-GCM, AES-CBC with SHA-2 or ChaCha20-Poly1305; DHE
    with AES-GCM``. It is made from the profile's lists (IANA names, ``TLS_<kex>_<auth>_WITH_
    <cipher>``, RFC 8446 appendix B.4 and the IANA TLS Cipher Suites registry), so what TLS-07
    tells the reader to configure is what the profile accepts, for a user's profile too.
    """
    by_kex: dict[str, dict[str, None]] = {}
    for name in (*profile.recommended, *profile.acceptable):
        match = re.fullmatch(r"TLS_([A-Z0-9]+)(?:_[A-Z0-9]+)*?_WITH_([A-Z0-9_]+)", name.upper())
        if match is None:
            continue  # a TLS 1.3 suite: TLS-07 judges TLS 1.2 alone
        kex = _KEX_WORDS.get(match.group(1), match.group(1))
        by_kex.setdefault(kex, {})[_cipher_words(match.group(2))] = None
    parts = []
    for kex, ciphers in by_kex.items():
        names = list(ciphers)
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        parts.append(f"{kex} with {listed}")
    return "; ".join(parts) or "the profile lists no TLS 1.2 suite"


def _tls12_suites(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        probe = scan.version(TlsVersion.TLS_1_2)
        if probe is None or probe.accepted is None:
            return _unknown(
                "TLS 1.2 outcome unknown: " + _unknown_versions(scan, [TlsVersion.TLS_1_2])
            )
        if not probe.accepted:
            return _ok("TLS 1.2 refused: no TLS 1.2 suite is accepted")
        suites = _suites(probe)
        if not suites:
            return _unknown("the suites accepted at TLS 1.2 were not recorded")
        weak = [s for s in suites if profile.classify(s) in ("weak", "insecure")]
        if not weak and not probe.suites_complete:
            return _unknown(f"the TLS 1.2 suite list is incomplete ({probe.detail})")
        classes = {s: profile.classify(s) for s in suites}
        weak = [s for s, c in classes.items() if c in ("weak", "insecure")]
        if weak:
            return _bad(
                Finding(
                    "tls.suite.weak",
                    f"TLS 1.2 accepts {len(weak)} suite(s) outside the NCSC lists: "
                    + _suite_list(weak, classes),
                    "every TLS 1.2 suite recommended or acceptable ("
                    + describe_tls12_suites(profile)
                    + ")",
                    "Disable 3DES, static-RSA key exchange (TLS_RSA_*) and SHA-1 CBC suites at "
                    "TLS 1.2 (in an OpenSSL cipher string: !3DES:!kRSA:!SHA1; Postfix: add "
                    "3DES, kRSA, SHA1 to smtpd_tls_exclude_ciphers).",
                )
            )
        return _ok(f"all {len(suites)} TLS 1.2 suite(s) recommended or acceptable")

    return check


def tls12_suites_acceptable(subject: Subject) -> Verdict:
    """TLS-07: every accepted TLS 1.2 suite is recommended or acceptable (N1; MC)."""
    return profiled_session_verdict(subject, _tls12_suites)
