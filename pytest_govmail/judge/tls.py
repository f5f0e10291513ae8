"""MX-04, TLS-01..TLS-10 and DANE-01: what each address of an MX host does on port 25.

Sources: RFC 5321 (sections 3.1 and 4.2: the 220 greeting), RFC 3207 (STARTTLS), GOV.UK
"Securing government email" (G1: TLS 1.2 or later), "Set up government email services securely"
(G2), NCSC "Using TLS to protect data" (N1) and NCSC Mail Check's published rules (MC) for
versions, suites and key exchange; RFC 5746 (secure renegotiation); RFC 6698, 7671 and 7672 (DANE
TLSA for SMTP). The suite classes, groups and sizes are data:
:mod:`pytest_govmail.inputs.tls_profile`.

Every requirement here is HOST-scoped: a test judges every address in
``subject.tls[subject.host]`` (one :class:`~pytest_govmail.model.tls.TlsScan` per IPv4 and IPv6
address) and combines them (:func:`host_verdict`):

- FAIL if any address fails; each finding names its address (``2001:db8::25: TLS 1.0 accepted``).
  Addresses that could not be judged are listed in the verdict's details.
- otherwise INCONCLUSIVE if any address could not be judged (a probe error, a fact the collector
  could not establish, or an address of the host in the DNS evidence that has no scan): a host
  test "covers every address", so it never passes on part of the host.
- otherwise PASS.
- A host missing from ``subject.tls`` is INCONCLUSIVE ("not probed in this run").

What each requirement needs, and what it says when it is missing:

- MX-04 judges the greeting. 220 passes. 421, or any 4xx greeting, is INCONCLUSIVE (throttled or
  temporarily refused: try later). 554, or any 5xx, FAILS. Connection refused FAILS. A connect
  timeout is INCONCLUSIVE (networks often block outbound port 25). A connection that was
  accepted but then sent no greeting (the collector records ``smtp`` with no ``banner_code``
  together with a TIMEOUT or PROTOCOL error) FAILS, as does a greeting that is not an SMTP reply.
  A private address the run was not allowed to probe is INCONCLUSIVE.
- TLS-01 needs MX-04 to pass at the address (else INCONCLUSIVE "see MX-04"). It FAILS when EHLO
  does not advertise STARTTLS, when STARTTLS is answered with anything but 220 (421 excepted:
  INCONCLUSIVE), and when every version's handshake was refused; it passes when a handshake
  completed at some version.
- TLS-02..TLS-10, DANE-01 and CERT-01..07 need a completed STARTTLS handshake at the address: when
  there is none they are INCONCLUSIVE "no TLS session to judge: see TLS-01" (or MX-04). No
  session means no evidence about versions, suites or certificates, and the failure itself is
  reported once, by TLS-01 or MX-04, where it belongs.
- A fact the collector could not establish (``VersionProbe.accepted`` is None, a version that was
  not probed, accepted suites not enumerated, ``preferred`` or ``key_exchange`` missing, a None
  compression/renegotiation fact) makes that part INCONCLUSIVE, never PASS.
- TLS-03/TLS-04 FAIL when any of the versions is accepted; TLS-05 judges the suite the server
  chose at the highest version it accepts (a higher version whose outcome is unknown makes it
  INCONCLUSIVE); TLS-06 looks at every version; TLS-07 only at TLS 1.2 (a server that refuses
  TLS 1.2 passes: it accepts no TLS 1.2 suite); TLS-09 judges ``key_exchange`` (ECDHE on an
  allowed group or a hybrid group that contains one; DHE of at least ``min_dhe_bits``; the
  static ``RSA``, ``ECDH`` and ``DH`` kinds and anonymous ``*_anon`` kinds FAIL; any other kind
  passes only on an allowed group); TLS-10's renegotiation and compression parts pass on a
  server that accepts TLS 1.3 only (TLS 1.3 has neither), and ``client_renegotiation`` True
  means the server *accepted* a client-initiated renegotiation.
- DANE-01 applies only when TLSA records exist at ``_25._tcp.<host>`` (the catalogue's "if ...
  exists"): no TLSA (NXDOMAIN or NODATA) is NOT_APPLICABLE, so a report never shows DANE as
  passed for a host that does not use it. A failed TLSA lookup is INCONCLUSIVE. With TLSA
  records, every address must present a chain that one usable record matches (RFC 7672 section
  3.1: usage 3 DANE-EE against the leaf; usage 2 DANE-TA against a served issuer certificate
  whose chain down to the leaf is in order, or, for ``2 1 0``, a trust-anchor key that signed a
  served certificate; usages 0 and 1 are unusable for SMTP, section 3.1.3). Names and dates are
  not part of the match (CERT-02/CERT-03 judge them). Whether the answer was DNSSEC-validated is
  shown in the verdict's details: a DANE client ignores TLSA records that are not.

The profile: ``subject.settings["tls_profile"]`` is the path of a user profile file (the packaged
profile when absent). Its id is shown in the details of every verdict that uses it; when the
evidence was collected under another profile id (``TlsScan.profile``), the details say so and
the verdict is still judged by the profile in use.

Observed values (banners, EHLO lines, details) come from servers: they stay text, and are bounded
and escaped with :func:`~pytest_govmail.judge.common.show_value`. No judge here raises for bad
evidence. Verdict ``evidence`` lists the host's A/AAAA questions (and the TLSA question for
DANE-01); the per-address facts are in ``details``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from pytest_govmail.inputs.tls_profile import ProfileError, TlsProfile, load_profile
from pytest_govmail.judge.common import lookup, show_value
from pytest_govmail.model.dns import ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import TlsScan, TlsVersion, VersionProbe
from pytest_govmail.model.verdict import Finding, Status, Verdict
from pytest_govmail.plan.base import address_queries, host_addresses
from pytest_govmail.records.mx import is_ip_literal

__all__ = [
    "EXPIRY_SETTING",
    "PROFILE_SETTING",
    "AddressVerdict",
    "Chain",
    "Check",
    "Tlsa",
    "address_label",
    "answers_smtp",
    "dane_tlsa_matches",
    "describe_name",
    "expiry_days",
    "host_verdict",
    "issued_by",
    "judging_profile",
    "judging_time",
    "key_exchange_strong",
    "load_chain",
    "modern_tls_negotiated",
    "no_compression_secure_renegotiation",
    "no_insecure_suites",
    "old_tls_refused",
    "parse_tlsa",
    "preferred_suite_recommended",
    "profile_details",
    "self_issued",
    "signed_by_key",
    "ssl_refused",
    "starttls_completes",
    "tls12_suites_acceptable",
    "tls13_supported",
    "tls_session",
    "tlsa_matches",
    "usable_for_smtp",
]

#: ``Subject.settings`` key: path of a user TLS profile file (the packaged one when absent).
PROFILE_SETTING = "tls_profile"
#: ``Subject.settings`` key: CERT-04's warning window in days, overriding the profile's.
EXPIRY_SETTING = "cert_expiry_days"

#: Versions from the newest down.
NEWEST_FIRST = (
    TlsVersion.TLS_1_3,
    TlsVersion.TLS_1_2,
    TlsVersion.TLS_1_1,
    TlsVersion.TLS_1_0,
    TlsVersion.SSL_3_0,
    TlsVersion.SSL_2_0,
)
_SHOWN = {
    TlsVersion.SSL_2_0: "SSL 2.0",
    TlsVersion.SSL_3_0: "SSL 3.0",
    TlsVersion.TLS_1_0: "TLS 1.0",
    TlsVersion.TLS_1_1: "TLS 1.1",
    TlsVersion.TLS_1_2: "TLS 1.2",
    TlsVersion.TLS_1_3: "TLS 1.3",
}
#: Suite names listed in one finding before "and N more".
_MAX_LISTED = 12


# ------------------------------------------------------------------------------------------
# Per-address outcomes and the host verdict
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressVerdict:
    """One address's outcome. Findings do not name the address: :func:`host_verdict` adds it."""

    status: Status
    text: str = ""
    findings: tuple[Finding, ...] = ()

    @property
    def reason(self) -> str:
        """What passed, why it could not be judged, or what failed, in one line."""
        return self.text or "; ".join(f.observed for f in self.findings)


def _ok(text: str) -> AddressVerdict:
    return AddressVerdict(Status.PASS, text)


def _unknown(reason: str) -> AddressVerdict:
    return AddressVerdict(Status.INCONCLUSIVE, reason)


def _bad(*findings: Finding) -> AddressVerdict:
    return AddressVerdict(Status.FAIL, "", findings)


Check = Callable[[TlsScan], AddressVerdict]


def address_label(address: str, port: int | None = None) -> str:
    """An address as findings show it: ``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]:2525``."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return show_value(address, 60)
    if port in (None, 25):
        return str(ip)
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _address_key(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address.strip().lower()


def _grouped(results: Sequence[tuple[str, AddressVerdict]]) -> str:
    """``a, b: text; c: other text``: addresses with the same reason share it."""
    by_reason: dict[str, list[str]] = {}
    for label, result in results:
        by_reason.setdefault(result.reason, []).append(label)
    return "; ".join(f"{', '.join(labels)}: {reason}" for reason, labels in by_reason.items())


def _judge_address(
    scan: TlsScan, check: Check, gate: Callable[[TlsScan], AddressVerdict | None] | None
) -> AddressVerdict:
    try:
        outcome = gate(scan) if gate is not None else None
        return outcome if outcome is not None else check(scan)
    except Exception as exc:  # a judge must answer, whatever the evidence holds
        return _unknown(
            f"the evidence could not be judged ({type(exc).__name__}: {show_value(str(exc), 160)})"
        )


#: Outcomes of plain (closure-free) checks, by scan: a sweep's few dozen shared MX addresses
#: serve thousands of domains, and every domain's host test would ask the same scan the same
#: question. Keyed by the scan's identity (kept alive by the entry, so never reused); emptied
#: when full, so a long-lived process holds at most this many.
_MEMO_LIMIT = 20_000
_memo: dict[tuple[int, Check, object], tuple[TlsScan, AddressVerdict]] = {}


def _address_outcome(
    scan: TlsScan, check: Check, gate: Callable[[TlsScan], AddressVerdict | None] | None
) -> AddressVerdict:
    """``gate`` then ``check`` on one scan; remembered when both are plain functions."""
    if getattr(check, "__closure__", True) is not None or getattr(gate, "__closure__", None):
        return _judge_address(scan, check, gate)
    key = (id(scan), check, gate)
    known = _memo.get(key)
    if known is not None and known[0] is scan:
        return known[1]
    outcome = _judge_address(scan, check, gate)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[key] = (scan, outcome)
    return outcome


def host_verdict(
    subject: Subject,
    check: Check,
    *,
    gate: Callable[[TlsScan], AddressVerdict | None] | None = None,
    evidence: Iterable[str] = (),
    details: Iterable[tuple[str, str]] = (),
) -> Verdict:
    """Run ``check`` on every address of the subject's host and combine the outcomes.

    ``gate`` runs first and may return an outcome instead (a missing TLS session). See the module
    docstring for how outcomes combine.
    """
    host = subject.host
    keys = list(evidence)
    if host is None:
        return Verdict.inconclusive("a host requirement was judged without an MX host", keys)
    known = [q for q in address_queries(host) if subject.dns.get(q.name, q.rdtype) is not None]
    keys = [q.key for q in known] + keys
    scans = subject.tls.get(host)
    if scans is None:
        return Verdict.inconclusive(
            f"{host} was not probed in this run (no TLS scan of it in the evidence)", keys
        )
    results = [(address_label(s.address, s.port), _address_outcome(s, check, gate)) for s in scans]
    probed = {_address_key(s.address) for s in scans}
    for _, address in host_addresses(host, subject.dns):
        if _address_key(address) not in probed:
            probed.add(_address_key(address))
            results.append((address_label(address), _unknown("not probed in this run")))
    if not results:
        return Verdict.inconclusive(f"no address of {host} was probed (see MX-01)", keys)
    extra = list(details)
    table = "\n".join(f"{label}: {r.status.value}: {r.reason}" for label, r in results)
    extra.insert(0, ("addresses", table))
    failed = [(label, r) for label, r in results if r.status is Status.FAIL]
    unknown = [(label, r) for label, r in results if r.status is Status.INCONCLUSIVE]
    if failed:
        findings = [
            replace(f, observed=f"{label}: {f.observed}") for label, r in failed for f in r.findings
        ]
        return Verdict.failed(*findings, evidence=keys, details=extra)
    if unknown:
        passed = [(label, r) for label, r in results if r.status is Status.PASS]
        tail = f" (passed: {_grouped(passed)})" if passed else ""
        return Verdict.inconclusive(_grouped(unknown) + tail, keys, extra)
    return Verdict.passed(_grouped(results), keys, extra)


# ------------------------------------------------------------------------------------------
# MX-04 and TLS-01: the SMTP greeting, STARTTLS and the handshake
# ------------------------------------------------------------------------------------------


def _greeting(scan: TlsScan) -> AddressVerdict:
    smtp = scan.smtp
    error = scan.error
    if smtp is not None and smtp.banner_code is not None:
        code = smtp.banner_code
        banner = show_value(smtp.banner or str(code), 200)
        if code == 220:
            return _ok(f"greets with {banner}")
        if code == 421:
            return _unknown(f"throttled: the server greets with {banner}; try again later")
        if 400 <= code < 500:
            return _unknown(f"temporarily refused: the server greets with {banner}")
        if 500 <= code < 600:
            return _bad(
                Finding(
                    "mx.banner.refused",
                    f"the server greets with {banner}: it refuses every session",
                    "a 220 greeting on TCP port 25",
                    "Configure the listener to greet with 220. If the refusal is aimed at the "
                    "testing address (a blocklist), allow it; if the domain takes no mail, "
                    "publish a null MX instead.",
                )
            )
        return _bad(_garbled(banner))
    if error is None:
        if smtp is not None and smtp.banner:
            return _bad(_garbled(show_value(smtp.banner, 200)))
        return _unknown("no SMTP greeting recorded")
    detail = show_value(error.detail, 200) if error.detail else ""
    if error.kind is ErrorKind.CONNECTION_REFUSED:
        return _bad(
            Finding(
                "mx.port25.refused",
                "TCP port 25 refused the connection" + (f" ({detail})" if detail else ""),
                "a 220 greeting on TCP port 25",
                "Make the mail server listen on TCP port 25 at this address and allow inbound "
                "port 25 through firewalls, or remove the A/AAAA record of an address that does "
                "not accept mail.",
            )
        )
    if smtp is not None and error.kind is ErrorKind.TOO_LARGE:
        # The collector stops reading at its bound; a greeting that long breaks RFC 5321
        # (4.5.3.1.5: 512 octets a reply line) for every client, not just this one.
        return _bad(_oversized("greeting", error.describe()))
    if smtp is not None and error.kind in (ErrorKind.TIMEOUT, ErrorKind.PROTOCOL):
        if smtp.banner:
            return _bad(_garbled(show_value(smtp.banner, 200)))
        return _bad(
            Finding(
                "mx.banner.none",
                "the TCP connection was accepted but no SMTP greeting came ("
                + error.describe()[:200]
                + ")",
                "a 220 greeting on TCP port 25",
                "Check that the mail server itself answers on port 25 at this address, and that "
                "no proxy, load balancer or firewall holds connections open without a server "
                "behind them.",
            )
        )
    if error.kind is ErrorKind.TIMEOUT:
        return _unknown(
            f"TCP port 25 did not answer ({error.describe()[:200]}): outbound port 25 is often "
            "blocked on the network that runs the test"
        )
    if error.kind is ErrorKind.THROTTLED:
        return _unknown(f"throttled ({error.describe()[:200]}); try again later")
    if error.kind is ErrorKind.PRIVATE_ADDRESS:
        return _unknown(
            "not probed: a private or loopback address (allow with --govmail-allow-private)"
        )
    return _unknown(f"the probe failed ({show_value(error.describe(), 200)})")


def _oversized(what: str, detail: str) -> Finding:
    return Finding(
        f"mx.{what.split()[0].lower()}.oversized",
        f"the {what} breaks SMTP's limits: {show_value(detail, 200)}",
        "reply lines of at most 512 octets (RFC 5321 section 4.5.3.1.5)",
        f"Fix the mail server's {what}: no client can read a reply of that size.",
    )


def _garbled(banner: str) -> Finding:
    return Finding(
        "mx.banner.unexpected",
        f"the service on port 25 does not greet as an SMTP server: {banner}",
        "a 220 greeting on TCP port 25 (RFC 5321 section 4.2)",
        "Make sure port 25 at this address reaches the mail server and not another service.",
    )


def answers_smtp(subject: Subject) -> Verdict:
    """MX-04: TCP/25 answers with a 220 banner (RFC 5321 3.1, 4.2; see the module docstring)."""
    return host_verdict(subject, _greeting)


def _starttls(scan: TlsScan) -> AddressVerdict:
    greeting = _greeting(scan)
    if greeting.status is not Status.PASS or scan.smtp is None:
        return _unknown(f"no SMTP session: see MX-04 ({greeting.reason})")
    smtp = scan.smtp
    if smtp.starttls_offered is None:
        if scan.error is not None and scan.error.kind is ErrorKind.TOO_LARGE:
            return _bad(_oversized("EHLO reply", scan.error.describe()))
        why = scan.error.describe()[:200] if scan.error else "the EHLO reply was not recorded"
        return _unknown(f"the EHLO exchange did not complete ({why})")
    if not smtp.starttls_offered:
        ehlo = ", ".join(show_value(line, 60) for line in smtp.ehlo[:12]) or "an empty reply"
        more = f" and {len(smtp.ehlo) - 12} more" if len(smtp.ehlo) > 12 else ""
        return _bad(
            Finding(
                "tls.starttls.not_offered",
                f"EHLO does not advertise STARTTLS (EHLO reply: {ehlo}{more})",
                "STARTTLS in the EHLO reply, and a TLS handshake that completes",
                "Enable STARTTLS on the inbound SMTP service with a certificate for the MX "
                "hostname (Postfix: smtpd_tls_security_level = may, with the certificate in "
                "smtpd_tls_chain_files), and make sure no firewall or proxy strips STARTTLS "
                "from the EHLO reply.",
            )
        )
    reply = smtp.starttls_reply
    if reply is not None and not reply.lstrip().startswith("220"):
        shown = show_value(reply, 200)
        if reply.lstrip().startswith("421"):
            return _unknown(f"throttled: STARTTLS was answered {shown}")
        return _bad(
            Finding(
                "tls.starttls.refused",
                f"STARTTLS is advertised but the command is answered {shown}",
                "220 to STARTTLS, then a completed TLS handshake",
                "Give the SMTP service a usable certificate and key (a 454 reply usually means "
                "the server could not load them), or stop advertising STARTTLS on a listener "
                "that cannot do it.",
            )
        )
    completed = [p for p in scan.versions if p.accepted is True]
    if completed:
        names = ", ".join(_SHOWN[p.version] for p in _newest_first(completed))
        return _ok(f"STARTTLS offered; handshake completes with {names}")
    open_probes = [p for p in scan.versions if p.accepted is None]
    handshake_error = scan.error is not None and scan.error.kind is ErrorKind.TLS_HANDSHAKE
    if (scan.versions and not open_probes) or (not scan.versions and handshake_error):
        refused = "; ".join(
            f"{_SHOWN[p.version]}: {show_value(p.detail, 80) if p.detail else 'refused'}"
            for p in _newest_first(scan.versions)
        ) or show_value(scan.error.describe() if scan.error else "", 200)
        return _bad(
            Finding(
                "tls.handshake.failed",
                f"STARTTLS is accepted but no TLS handshake completes ({refused})",
                "a TLS handshake that completes after STARTTLS (TLS 1.2 or 1.3)",
                "Check the SMTP service's certificate, key and TLS settings: the handshake "
                "fails at every protocol version.",
            )
        )
    if open_probes:
        return _unknown("handshake outcome unknown: " + _probe_notes(open_probes))
    if scan.error is not None:
        return _unknown(f"the handshake could not be tried ({show_value(scan.error.describe())})")
    return _unknown("no TLS handshake recorded")


def starttls_completes(subject: Subject) -> Verdict:
    """TLS-01: STARTTLS is advertised in EHLO and the handshake completes (RFC 3207; G1, G2)."""
    return host_verdict(subject, _starttls)


def tls_session(scan: TlsScan) -> AddressVerdict | None:
    """None when the address has a completed STARTTLS session, else why there is nothing to judge.

    The gate of TLS-02..10, CERT-* and DANE-01: its INCONCLUSIVE outcome points at the
    requirement that reports the failure (MX-04 or TLS-01).
    """
    greeting = _greeting(scan)
    if greeting.status is not Status.PASS:
        return _unknown(f"no TLS session to judge: see MX-04 ({greeting.reason})")
    starttls = _starttls(scan)
    if starttls.status is not Status.PASS:
        return _unknown(f"no TLS session to judge: see TLS-01 ({starttls.reason})")
    return None


# ------------------------------------------------------------------------------------------
# Versions: TLS-02, TLS-03, TLS-04, TLS-08
# ------------------------------------------------------------------------------------------


def _newest_first(probes: Iterable[VersionProbe]) -> list[VersionProbe]:
    return sorted(probes, key=lambda p: NEWEST_FIRST.index(p.version))


def _probe_notes(probes: Iterable[VersionProbe]) -> str:
    return "; ".join(
        f"{_SHOWN[p.version]}: {show_value(p.detail, 120) if p.detail else 'outcome unknown'}"
        for p in _newest_first(probes)
    )


def _unknown_versions(scan: TlsScan, versions: Iterable[TlsVersion]) -> str:
    notes = []
    for version in versions:
        probe = scan.version(version)
        if probe is None:
            notes.append(f"{_SHOWN[version]}: not probed")
        elif probe.accepted is None:
            notes.append(_probe_notes([probe]))
    return "; ".join(notes)


def _accepted(scan: TlsScan, version: TlsVersion) -> bool | None:
    probe = scan.version(version)
    return None if probe is None else probe.accepted


def _modern(scan: TlsScan) -> AddressVerdict:
    wanted = (TlsVersion.TLS_1_3, TlsVersion.TLS_1_2)
    good = [_SHOWN[v] for v in wanted if _accepted(scan, v) is True]
    if good:
        return _ok(f"{' and '.join(good)} accepted")
    if any(_accepted(scan, v) is None for v in wanted):
        return _unknown("TLS 1.2/1.3 outcome unknown: " + _unknown_versions(scan, wanted))
    older = [_SHOWN[p.version] for p in _newest_first(scan.versions) if p.accepted is True]
    return _bad(
        Finding(
            "tls.version.no_modern",
            f"neither TLS 1.3 nor TLS 1.2 is accepted (accepted: {', '.join(older) or 'none'})",
            "TLS 1.2 or TLS 1.3 negotiated",
            "Enable TLS 1.2 and TLS 1.3 on the SMTP listener; upgrade the MTA or its TLS "
            "library (OpenSSL 1.1.1 or later) if it cannot offer them.",
        )
    )


def modern_tls_negotiated(subject: Subject) -> Verdict:
    """TLS-02: TLS 1.2 or TLS 1.3 is negotiated (G1, G2, N1; SEED)."""
    return host_verdict(subject, _modern, gate=tls_session)


def _refuses(
    versions: tuple[TlsVersion, ...], code: str, remediation: str
) -> Callable[[TlsScan], AddressVerdict]:
    names = " and ".join(_SHOWN[v] for v in versions)

    def check(scan: TlsScan) -> AddressVerdict:
        accepted = [_SHOWN[v] for v in versions if _accepted(scan, v) is True]
        if accepted:
            return _bad(
                Finding(
                    code,
                    f"{' and '.join(accepted)} accepted",
                    f"{names} refused",
                    remediation,
                )
            )
        if any(_accepted(scan, v) is None for v in versions):
            return _unknown(f"{names} outcome unknown: " + _unknown_versions(scan, versions))
        return _ok(f"{names} refused")

    return check


_ssl_check = _refuses(
    (TlsVersion.SSL_2_0, TlsVersion.SSL_3_0),
    "tls.version.ssl",
    "Disable SSL 2.0 and SSL 3.0 on the SMTP listener (Postfix 3.6 or later: "
    "smtpd_tls_protocols = >=TLSv1.2).",
)
_old_tls_check = _refuses(
    (TlsVersion.TLS_1_0, TlsVersion.TLS_1_1),
    "tls.version.old",
    "Disable TLS 1.0 and 1.1 on the SMTP listener (Postfix 3.6 or later: smtpd_tls_protocols "
    "= >=TLSv1.2; Exchange: disable TLS 1.0 and 1.1 in the Windows Schannel settings, as "
    "Microsoft's Exchange TLS guidance describes).",
)


def ssl_refused(subject: Subject) -> Verdict:
    """TLS-03: SSL 2.0 and SSL 3.0 are refused (N1; MC; RFC 6176, RFC 7568)."""
    return host_verdict(subject, _ssl_check, gate=tls_session)


def old_tls_refused(subject: Subject) -> Verdict:
    """TLS-04: TLS 1.0 and TLS 1.1 are refused (G2, N1; SEED; RFC 8996)."""
    return host_verdict(subject, _old_tls_check, gate=tls_session)


def _tls13(scan: TlsScan) -> AddressVerdict:
    accepted = _accepted(scan, TlsVersion.TLS_1_3)
    if accepted is True:
        return _ok("TLS 1.3 accepted")
    if accepted is None:
        return _unknown("TLS 1.3 outcome unknown: " + _unknown_versions(scan, [TlsVersion.TLS_1_3]))
    return _bad(
        Finding(
            "tls.version.no_tls13",
            "TLS 1.3 refused",
            "TLS 1.3 supported",
            "Enable TLS 1.3 on the SMTP listener (it needs OpenSSL 1.1.1 or later, or the "
            "equivalent in the server's TLS library).",
        )
    )


def tls13_supported(subject: Subject) -> Verdict:
    """TLS-08: TLS 1.3 is supported (N1; RFC 8446)."""
    return host_verdict(subject, _tls13, gate=tls_session)


# ------------------------------------------------------------------------------------------
# Suites: TLS-05, TLS-06, TLS-07
# ------------------------------------------------------------------------------------------


def judging_profile(subject: Subject) -> TlsProfile | Verdict:
    """The profile named by ``settings["tls_profile"]`` (else the packaged one), or why not."""
    path = subject.settings.get(PROFILE_SETTING, "")
    try:
        return load_profile(Path(path)) if path else load_profile()
    except ProfileError as exc:
        return Verdict.inconclusive(f"the TLS profile cannot be used: {exc}")


def profile_details(subject: Subject, profile: TlsProfile) -> tuple[str, str]:
    """A details entry naming the profile in use, and any other profile the evidence names."""
    scans = subject.tls.get(subject.host or "", ())
    others = sorted({s.profile for s in scans if s.profile and s.profile != profile.id})
    text = profile.id
    if others:
        shown = ", ".join(show_value(o, 60) for o in others)
        text += f" (the evidence was collected under {shown}; judged with {profile.id})"
    return ("TLS profile", text)


def profiled_session_verdict(
    subject: Subject, make_check: Callable[[TlsProfile], Check]
) -> Verdict:
    """A host verdict judged with the run's cipher profile, over addresses with a TLS session.

    The shape of TLS-05..07, TLS-09 and CERT-05: load the profile (a bad user profile is
    inconclusive), judge each address that completed a handshake, name the profile in details.
    """
    profile = judging_profile(subject)
    if isinstance(profile, Verdict):
        return profile
    return host_verdict(
        subject,
        make_check(profile),
        gate=tls_session,
        details=[profile_details(subject, profile)],
    )


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
                    "every TLS 1.2 suite recommended or acceptable (ECDHE or DHE with AES-GCM, "
                    "ChaCha20-Poly1305 or SHA-2 CBC)",
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


# ------------------------------------------------------------------------------------------
# TLS-09 and TLS-10: key exchange, compression, renegotiation
# ------------------------------------------------------------------------------------------

#: ``KeyExchange.kind`` values (the collector's vocabulary): ephemeral ``ECDHE`` and ``DHE``;
#: the static ``RSA``, ``ECDH`` and ``DH`` of ``TLS_RSA_*``, ``TLS_ECDH_*`` and ``TLS_DH_*``
#: suites; ``ECDH_anon`` and ``DH_anon`` of anonymous suites.
_ECDHE_KINDS = frozenset({"ECDHE"})
_DHE_KINDS = frozenset({"DHE", "FFDHE"})
_STATIC_KINDS = frozenset({"RSA", "ECDH", "DH", "PSK"})


def _dhe_bits(group: str | None, bits: int | None) -> int | None:
    if bits is not None:
        return bits
    match = re.fullmatch(r"ffdhe(\d{4})", (group or "").strip().lower())
    return int(match.group(1)) if match else None


def _key_exchange(profile: TlsProfile) -> Check:
    def check(scan: TlsScan) -> AddressVerdict:
        kex = scan.key_exchange
        if kex is None:
            return _unknown("the key exchange of the handshake was not recorded")
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

    return check


def key_exchange_strong(subject: Subject) -> Verdict:
    """TLS-09: ECDHE on P-256/P-384/P-521/X25519/X448, or DHE of 2048 bits or more (N1; MC)."""
    return profiled_session_verdict(subject, _key_exchange)


def _tls13_only(scan: TlsScan) -> bool:
    """TLS 1.3 accepted, TLS 1.2 refused, and no other version accepted or unknown."""
    return (
        _accepted(scan, TlsVersion.TLS_1_3) is True
        and _accepted(scan, TlsVersion.TLS_1_2) is False
        and all(p.accepted is False for p in scan.versions if p.version is not TlsVersion.TLS_1_3)
    )


def _compression_renegotiation(scan: TlsScan) -> AddressVerdict:
    if _tls13_only(scan):
        return _ok("TLS 1.3 only: no compression and no renegotiation exist")
    findings: list[Finding] = []
    open_parts: list[str] = []
    good: list[str] = []
    if scan.compression is None:
        open_parts.append("compression not recorded")
    elif scan.compression:
        findings.append(
            Finding(
                "tls.compression",
                "TLS compression enabled (CRIME)",
                "no TLS compression",
                "Disable TLS compression (Postfix: tls_ssl_options = NO_COMPRESSION; current "
                "OpenSSL builds disable it by default).",
            )
        )
    else:
        good.append("no compression")
    if scan.secure_renegotiation is None:
        open_parts.append("secure renegotiation not recorded")
    elif not scan.secure_renegotiation:
        findings.append(
            Finding(
                "tls.renegotiation.insecure",
                "secure renegotiation (RFC 5746) not supported",
                "secure renegotiation supported",
                "Upgrade the MTA's TLS library to one that supports RFC 5746.",
            )
        )
    else:
        good.append("secure renegotiation")
    if scan.client_renegotiation is None:
        open_parts.append("client-initiated renegotiation not recorded")
    elif scan.client_renegotiation:
        findings.append(
            Finding(
                "tls.renegotiation.client",
                "client-initiated renegotiation accepted (a denial-of-service lever)",
                "client-initiated renegotiation refused",
                "Refuse client-initiated renegotiation (Postfix 3.4 or later: tls_ssl_options = "
                "NO_RENEGOTIATION).",
            )
        )
    else:
        good.append("client renegotiation refused")
    if findings:
        return _bad(*findings)
    if open_parts:
        return _unknown("; ".join(open_parts) + (f" ({', '.join(good)})" if good else ""))
    return _ok(", ".join(good))


def no_compression_secure_renegotiation(subject: Subject) -> Verdict:
    """TLS-10: no compression; secure renegotiation; client renegotiation refused (N1; RFC 5746)."""
    return host_verdict(subject, _compression_renegotiation, gate=tls_session)


# ------------------------------------------------------------------------------------------
# The served chain (shared with judge/cert.py)
# ------------------------------------------------------------------------------------------

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
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("utf-8", "replace"))
    except Exception as exc:  # cryptography raises ValueError, but bad data may find others
        return f"not a PEM certificate ({show_value(str(exc), 120)})"
    if len(certs) != 1:
        return f"holds {len(certs)} certificates where one was expected"
    return certs[0]


def load_chain(scan: TlsScan) -> Chain:
    """The served chain of ``scan``, parsed with cryptography; never raises."""
    if not scan.chain_pem:
        return Chain((), "no certificate recorded")
    certs: list[x509.Certificate] = []
    for index, pem in enumerate(scan.chain_pem, start=1):
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


# ------------------------------------------------------------------------------------------
# DANE-01
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tlsa:
    """One TLSA record (RFC 6698 section 2.1)."""

    usage: int
    selector: int
    matching_type: int
    data: bytes

    def text(self) -> str:
        shown = self.data.hex()
        shown = shown if len(shown) <= 24 else f"{shown[:24]}..."
        return f"{self.usage} {self.selector} {self.matching_type} {shown}"


def parse_tlsa(text: str) -> Tlsa | str:
    """A TLSA record from its presentation form (``3 1 1 ab12...``), or why it cannot be read."""
    parts = text.split()
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return f"not a TLSA record: {show_value(text, 80)}"
    fields = [int(p) for p in parts[:3]]
    if any(f > 255 for f in fields):
        return f"a TLSA field is out of range: {show_value(text, 80)}"
    try:
        data = bytes.fromhex("".join(parts[3:]))
    except ValueError:
        return f"TLSA data is not hexadecimal: {show_value(text, 80)}"
    return Tlsa(fields[0], fields[1], fields[2], data)


def _selected(cert: x509.Certificate, selector: int) -> bytes | None:
    try:
        if selector == 0:
            return cert.public_bytes(serialization.Encoding.DER)
        if selector == 1:
            return cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
    except Exception:
        return None
    return None


def _digest(data: bytes, matching_type: int) -> bytes | None:
    if matching_type == 0:
        return data
    if matching_type == 1:
        return hashlib.sha256(data).digest()
    if matching_type == 2:
        return hashlib.sha512(data).digest()
    return None


def _in_order(certs: Sequence[x509.Certificate], upto: int) -> bool:
    return all(issued_by(certs[i], certs[i + 1]) for i in range(upto))


def usable_for_smtp(record: Tlsa) -> bool:
    """Usages 2 and 3, selectors 0 and 1, matching types 0..2 (RFC 7672 section 3.1)."""
    return (
        record.usage in (2, 3) and record.selector in (0, 1) and record.matching_type in (0, 1, 2)
    )


def tlsa_matches(record: Tlsa, certs: Sequence[x509.Certificate]) -> bool:
    """True when ``record`` matches the served chain ``certs`` (leaf first) for SMTP DANE.

    Usage 3 (DANE-EE) matches the leaf. Usage 2 (DANE-TA) matches a served certificate other than
    the leaf whose chain down to the leaf is in order; a ``2 1 0`` record (a bare trust-anchor
    key) also matches when that key signed a served certificate at the top of an ordered chain.
    """
    if not certs or not usable_for_smtp(record):
        return False

    def matches(cert: x509.Certificate) -> bool:
        selected = _selected(cert, record.selector)
        return selected is not None and _digest(selected, record.matching_type) == record.data

    if record.usage == 3:
        return matches(certs[0])
    for index in range(1, len(certs)):
        if matches(certs[index]) and _in_order(certs, index):
            return True
    if record.selector == 1 and record.matching_type == 0:
        try:
            key = serialization.load_der_public_key(record.data)
        except Exception:
            return False
        for index, cert in enumerate(certs):
            if signed_by_key(cert, key) and _in_order(certs, index):
                return True
    return False


def _dane(records: Sequence[Tlsa], unreadable: Sequence[str], host: str) -> Check:
    usable = [r for r in records if usable_for_smtp(r)]

    def check(scan: TlsScan) -> AddressVerdict:
        chain = load_chain(scan)
        for record in usable:
            if tlsa_matches(record, chain.certs):
                return _ok(f"the served chain matches TLSA {record.text()}")
        if chain.problem:
            return _unknown(f"no TLSA record matches what could be read: {chain.problem}")
        leaf = _selected(chain.certs[0], 1)
        digest = hashlib.sha256(leaf).hexdigest() if leaf else "<SHA-256 of the key>"
        publish = f"_25._tcp.{host}. IN TLSA 3 1 1 {digest}"
        published = ", ".join(r.text() for r in records[:8]) or "none readable"
        if not usable:
            observed = (
                f"no TLSA record usable for SMTP (published: {published}; usages 0 and 1 are "
                "not used by SMTP, RFC 7672 section 3.1.3)"
            )
            code = "dane.tlsa.unusable"
        else:
            observed = f"no TLSA record matches the served chain (published: {published})"
            code = "dane.tlsa.mismatch"
        if unreadable:
            observed += f"; unreadable: {'; '.join(unreadable[:3])}"
        return _bad(
            Finding(
                code,
                observed,
                "a TLSA record with usage 2 or 3 that matches the served chain",
                f"Publish a TLSA record for the certificate now served, for example "
                f"'{publish}' (publish the new record before changing keys), or remove the TLSA "
                "records if DANE is not maintained.",
            )
        )

    return check


def dane_tlsa_matches(subject: Subject) -> Verdict:
    """DANE-01: if ``_25._tcp.<mx>`` TLSA exists, one record matches the chain (RFC 7672 s. 3).

    No TLSA published is NOT_APPLICABLE (see the module docstring).
    """
    host = subject.host
    if host is None:
        return Verdict.inconclusive("a host requirement was judged without an MX host")
    if is_ip_literal(host):
        return Verdict.not_applicable(
            f"{host} is an address literal, which has no TLSA name (see MX-02)"
        )
    result = lookup(subject, f"_25._tcp.{host}", "TLSA")
    if isinstance(result, Verdict):
        return result
    key = result.query.key
    if not result.records:
        what = "NXDOMAIN" if result.nxdomain else "no records"
        return Verdict.not_applicable(
            f"no TLSA published at _25._tcp.{host} ({what}): DANE is not in use", [key]
        )
    records: list[Tlsa] = []
    unreadable: list[str] = []
    for text in result.records:
        parsed = parse_tlsa(text)
        if isinstance(parsed, Tlsa):
            records.append(parsed)
        else:
            unreadable.append(parsed)
    dnssec = (
        "the TLSA answer was DNSSEC-validated (AD flag set)"
        if result.authenticated
        else "the TLSA answer was not DNSSEC-validated (no AD flag): DANE clients ignore "
        "TLSA records that are not DNSSEC-secure"
    )
    return host_verdict(
        subject,
        _dane(records, unreadable, host),
        gate=tls_session,
        evidence=[key],
        details=[("DNSSEC", dnssec)],
    )


def expiry_days(subject: Subject, profile: TlsProfile) -> int | Verdict:
    """CERT-04's window: ``settings["cert_expiry_days"]`` if given, else the profile's."""
    raw = subject.settings.get(EXPIRY_SETTING, "").strip()
    if not raw:
        return profile.expiry_warning_days
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) > 3650:
        return Verdict.inconclusive(
            f"setting {EXPIRY_SETTING}={show_value(raw, 40)} is not a number of days (0..3650)"
        )
    return int(raw)


def judging_time(subject: Subject) -> datetime:
    """When the evidence was collected (replay judges dates the same way), else now; aware."""
    now = subject.now or datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
