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
  accepted but then sent no complete greeting (the collector records ``smtp`` with no
  ``banner_code`` together with a TIMEOUT or PROTOCOL error) is INCONCLUSIVE: it proves nothing
  about the host (postscreen completes its greeting only after its pregreet wait; a tarpit may
  be aimed at the testing address), and the collector already waits ``--govmail-greeting-timeout``
  for a greeting that has begun. MX-04 FAILS only on what shows the host refuses mail or that
  no client can speak SMTP to it: a 5xx greeting, a refused connection, a greeting that is not
  an SMTP reply, or one longer than SMTP allows. A private address the run was not allowed to
  probe is INCONCLUSIVE.
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
  TLS 1.2 passes: it accepts no TLS 1.2 suite); TLS-09 judges ``key_exchange`` and every
  accepted suite's own key exchange (``VersionProbe.key_exchanges``; ECDHE on an
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


The profile: ``subject.tls_profile``, a :class:`~pytest_govmail.inputs.tls_profile.TlsProfile`
the run loaded once (the user's file, the one stored in a replayed evidence file, else the
packaged one), so judging is pure: it reads no file. Its id is shown in the details of every
verdict that uses it; when the evidence was collected under another profile id
(``TlsScan.profile``), the details say so and the verdict is still judged by the profile in use.

Observed values (banners, EHLO lines, details) come from servers: they stay text, and are bounded
and escaped with :func:`~pytest_govmail.judge.common.show_value`. No judge here raises for bad
evidence. Verdict ``evidence`` lists the host's A/AAAA questions (and the TLSA question for
DANE-01); the per-address facts are in ``details``.

Where things are: this module holds TLS-02/03/04/08 and TLS-10 and re-exports the rest, so that
the suites name every judge as ``tls.<name>``; the per-address machinery, MX-04 and TLS-01 are in
:mod:`pytest_govmail.judge.host`, TLS-05..07 in :mod:`pytest_govmail.judge.suites`, TLS-09 in
:mod:`pytest_govmail.judge.kex`, the served chain in :mod:`pytest_govmail.judge.chain`, DANE-01 in
:mod:`pytest_govmail.judge.dane` and the TLSA parser in :mod:`pytest_govmail.records.tlsa`.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_govmail.judge.chain import (
    Chain,
    describe_name,
    issued_by,
    load_chain,
    self_issued,
    signed_by_key,
)
from pytest_govmail.judge.dane import dane_tlsa_matches, tlsa_matches, usable_for_smtp
from pytest_govmail.judge.host import (
    _SHOWN,
    NEWEST_FIRST,
    AddressVerdict,
    Check,
    _accepted,
    _bad,
    _newest_first,
    _ok,
    _unknown,
    _unknown_versions,
    address_label,
    answers_smtp,
    expiry_days,
    host_verdict,
    judging_profile,
    judging_time,
    profile_details,
    profiled_session_verdict,
    starttls_completes,
    tls_session,
)
from pytest_govmail.judge.kex import key_exchange_strong
from pytest_govmail.judge.suites import (
    no_insecure_suites,
    preferred_suite_recommended,
    tls12_suites_acceptable,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import TlsScan, TlsVersion
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.tlsa import Tlsa, parse_tlsa

__all__ = [
    "NEWEST_FIRST",
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
    "profiled_session_verdict",
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
