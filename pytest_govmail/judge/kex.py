"""TLS-09: the key exchange of every handshake (NCSC "Using TLS to protect data"; Mail Check).

Every accepted suite's key exchange is judged, not only the negotiated one: the collector
records the ephemeral key of each accepted suite's own handshake (``VersionProbe.key_exchanges``,
as sslyze records one per accepted suite), so a server whose second choice is 1024-bit DHE
fails. A finding lists the handshakes that showed it (``TLS 1.2 TLS_DHE_RSA_WITH_...``);
accepted suites without a record make TLS-09 INCONCLUSIVE unless something failed. Evidence
from before per-suite records is judged on the negotiated key exchange alone, as it was then.

ECDHE on a group the profile allows (or a hybrid post-quantum group that contains one), or DHE
of at least the profile's ``min_dhe_bits`` (RFC 7919 names its groups ``ffdheNNNN``), passes;
the static ``RSA``, ``ECDH`` and ``DH`` kinds give no forward secrecy and the ``*_anon`` kinds no
authentication, so they FAIL; any other kind passes only on an allowed group.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pytest_govmail.inputs.tls_profile import TlsProfile
from pytest_govmail.judge.common import show_value
from pytest_govmail.judge.host import (
    _SHOWN,
    AddressVerdict,
    Check,
    _bad,
    _newest_first,
    _ok,
    _unknown,
    profiled_session_verdict,
)
from pytest_govmail.judge.suites import _shown_suite
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import KeyExchange, TlsScan
from pytest_govmail.model.verdict import Finding, Status, Verdict

__all__ = ["key_exchange_strong"]

#: ``KeyExchange.kind`` values (the collector's vocabulary): ephemeral ``ECDHE`` and ``DHE``;
#: the static ``RSA``, ``ECDH`` and ``DH`` of ``TLS_RSA_*``, ``TLS_ECDH_*`` and ``TLS_DH_*``
#: suites; ``ECDH_anon`` and ``DH_anon`` of anonymous suites.
_ECDHE_KINDS = frozenset({"ECDHE"})
_DHE_KINDS = frozenset({"DHE", "FFDHE"})
_STATIC_KINDS = frozenset({"RSA", "ECDH", "DH", "PSK"})
#: Handshakes named in one finding before "and N more".
_MAX_LISTED = 12


def _dhe_bits(group: str | None, bits: int | None) -> int | None:
    if bits is not None:
        return bits
    match = re.fullmatch(r"ffdhe(\d{4})", (group or "").strip().lower())
    return int(match.group(1)) if match else None


def _one(kex: KeyExchange, profile: TlsProfile) -> AddressVerdict:
    """One handshake's key exchange."""
    kind = kex.kind.strip().upper()
    group = kex.group.strip() if kex.group else None
    shown_kind = show_value(kex.kind, 40)
    shown_group = show_value(group, 60) if group else ""
    if kind in _DHE_KINDS:
        bits = _dhe_bits(group, kex.bits)
        if bits is None:
            return _unknown("DHE key exchange of unrecorded size")
        if bits >= profile.min_dhe_bits:
            return _ok(f"DHE with a {bits}-bit group")
        return _bad(
            Finding(
                "tls.kex.dhe_small",
                f"DHE with a {bits}-bit group",
                f"ECDHE on an allowed group, or DHE of at least {profile.min_dhe_bits} bits",
                "Use DHE parameters of at least 2048 bits (for example the RFC 7919 "
                "ffdhe2048 group) or disable DHE suites and use ECDHE.",
            )
        )
    if kind.endswith("_ANON"):
        return _bad(
            Finding(
                "tls.kex.anonymous",
                f"anonymous key exchange {shown_kind} (the server is not authenticated)",
                "ECDHE or DHE key exchange with an authenticated server",
                "Remove anonymous suites from the SMTP listener's cipher list (!aNULL in "
                "an OpenSSL cipher string).",
            )
        )
    if kind in _STATIC_KINDS:
        return _bad(
            Finding(
                "tls.kex.static",
                f"key exchange {shown_kind} (not ephemeral: no forward secrecy)",
                "ECDHE or DHE key exchange",
                "Prefer ECDHE suites and disable static-RSA key exchange (TLS_RSA_* "
                "suites; !kRSA in an OpenSSL cipher string).",
            )
        )
    if group is None:
        return _unknown(f"key exchange {shown_kind} on an unrecorded group")
    if profile.group_allowed(group):
        return _ok(f"{'ECDHE' if kind in _ECDHE_KINDS else shown_kind} on {shown_group}")
    return _bad(
        Finding(
            "tls.kex.group",
            f"key exchange {shown_kind} on {shown_group}",
            f"ECDHE on {', '.join(profile.groups)}",
            "Offer X25519, P-256 or P-384 for ECDHE and remove other curves from the "
            "server's group list.",
        )
    )


def _where(entries: list[str]) -> str:
    shown = ", ".join(entries[:_MAX_LISTED])
    more = len(entries) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _key_exchange(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        # The negotiated (preferred) handshake, then every accepted suite's own handshake.
        seen: list[tuple[str, KeyExchange]] = []
        if scan.key_exchange is not None:
            seen.append(("the negotiated handshake", scan.key_exchange))
        recorded = any(p.key_exchanges for p in scan.versions)
        missing: list[str] = []
        for probe in _newest_first(scan.versions):
            if not probe.accepted:
                continue
            version = _SHOWN[probe.version]
            by_suite = {k.suite: k for k in probe.key_exchanges}
            for suite in probe.cipher_suites:
                kex = by_suite.get(suite)
                if kex is not None:
                    seen.append((f"{version} {_shown_suite(suite)}", kex))
                elif recorded:
                    missing.append(f"{version} {_shown_suite(suite)}")
        if not recorded:
            # Evidence from before per-suite records: the negotiated exchange, judged as then.
            if scan.key_exchange is None:
                return _unknown("the key exchange of the handshake was not recorded")
            return _one(scan.key_exchange, profile)
        if not seen:
            return _unknown("the key exchange of the handshake was not recorded")
        failed: dict[tuple[str, str], tuple[Finding, list[str]]] = {}
        passed: dict[str, list[str]] = {}
        unknown: dict[str, list[str]] = {}
        for where, kex in seen:
            outcome = _one(kex, profile)
            if outcome.status is Status.FAIL:
                for finding in outcome.findings:
                    key = (finding.code, finding.observed)
                    failed.setdefault(key, (finding, []))[1].append(where)
            elif outcome.status is Status.INCONCLUSIVE:
                unknown.setdefault(outcome.text, []).append(where)
            else:
                passed.setdefault(outcome.text, []).append(where)
        if failed:
            return _bad(
                *(
                    replace(finding, observed=f"{finding.observed} ({_where(places)})")
                    for finding, places in failed.values()
                )
            )
        notes = [f"{text} ({_where(places)})" for text, places in unknown.items()]
        if missing:
            notes.append(f"key exchange not recorded for {_where(missing)}")
        if notes:
            return _unknown("; ".join(notes))
        counted = [f"{text} ({len(places)} handshake(s))" for text, places in passed.items()]
        return _ok("every accepted suite's key exchange is strong: " + "; ".join(counted))

    return check


def key_exchange_strong(subject: Subject) -> Verdict:
    """TLS-09: ECDHE on P-256/P-384/P-521/X25519/X448, or DHE of 2048 bits or more (N1; MC)."""
    return profiled_session_verdict(subject, _key_exchange)
