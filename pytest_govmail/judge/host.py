"""The per-address machinery of the host-scoped TLS judges, the SMTP session they share, and
the profile they judge with.

Every TLS-*, CERT-* and DANE-01 requirement judges each address of an MX host and combines the
outcomes (:func:`host_verdict`, described in :mod:`pytest_govmail.judge.tls`). MX-04 (the 220
greeting, RFC 5321 sections 3.1 and 4.2) and TLS-01 (STARTTLS, RFC 3207) live here because the
others are gated on them (:func:`tls_session`): with no completed STARTTLS session there is
nothing to judge, and the failure is reported once, by MX-04 or TLS-01.

The profile (:mod:`pytest_govmail.inputs.tls_profile`) arrives typed in ``Subject.tls_profile``:
the run loaded it once (from the user's file, or from the evidence a replay reads), so judging
reads no file and cannot fail on one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pytest_govmail.inputs.tls_profile import TlsProfile
from pytest_govmail.judge.common import show_value
from pytest_govmail.model.dns import ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.tls import NEWEST_FIRST, TlsScan, TlsVersion, VersionProbe
from pytest_govmail.model.vantage import BLOCKED_CAUSE
from pytest_govmail.model.verdict import Finding, Status, Verdict
from pytest_govmail.records.mx import address_queries, host_addresses

__all__ = [
    "NEWEST_FIRST",
    "AddressVerdict",
    "Check",
    "address_label",
    "answers_smtp",
    "expiry_days",
    "host_verdict",
    "judging_profile",
    "judging_time",
    "profile_details",
    "profiled_session_verdict",
    "starttls_completes",
    "tls_session",
]

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


def _unreached(scan: TlsScan, blocked: str | None) -> AddressVerdict | None:
    """The one cause, when port 25 looks blocked from this machine and this connect timed out:
    the same words on every test, so that the summary names the cause once, not each timeout."""
    error = scan.error
    if blocked is None or error is None or scan.smtp is not None:
        return None
    if error.kind is ErrorKind.TIMEOUT and error.detail.startswith("TCP connect"):
        return _unknown(blocked)
    if error.kind is ErrorKind.NOT_COLLECTED and BLOCKED_CAUSE in error.detail:
        return _unknown(blocked)  # the scanner stopped connecting once it looked blocked
    return None


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
    vantage = subject.vantage
    if scans is None and vantage is not None:
        addresses = [address for _, address in host_addresses(host, subject.dns)]
        reasons = [(address_label(a), vantage.not_probed(a)) for a in addresses]
        if reasons and all(why is not None for _, why in reasons):
            unprobed = [(label, _unknown(why or "")) for label, why in reasons]
            why_not = _grouped(unprobed)
            return Verdict.inconclusive(f"no address of {host} was probed: {why_not}", keys)
    if scans is None:
        return Verdict.inconclusive(
            f"{host} was not probed in this run (no TLS scan of it in the evidence)", keys
        )
    blocked = vantage.blocked if vantage is not None else None
    results = [
        (
            address_label(s.address, s.port),
            _unreached(s, blocked) or _address_outcome(s, check, gate),
        )
        for s in scans
    ]
    probed = {_address_key(s.address) for s in scans}
    # Addresses this machine could not probe (no route, --govmail-ip-version) are named, not
    # judged: the host is judged on the addresses it could probe.
    skipped: list[tuple[str, AddressVerdict]] = []
    for _, address in host_addresses(host, subject.dns):
        if _address_key(address) not in probed:
            probed.add(_address_key(address))
            why = vantage.not_probed(address) if vantage is not None else None
            if why is not None:
                skipped.append((address_label(address), _unknown(why)))
            else:
                results.append((address_label(address), _unknown("not probed in this run")))
    if not results and skipped:
        return Verdict.inconclusive(f"no address of {host} was probed: {_grouped(skipped)}", keys)
    if not results:
        return Verdict.inconclusive(f"no address of {host} was probed (see MX-01)", keys)
    extra = list(details)
    table = "\n".join(f"{label}: {r.status.value}: {r.reason}" for label, r in results + skipped)
    extra.insert(0, ("addresses", table))
    named = f"; {_grouped(skipped)}" if skipped else ""
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
        return Verdict.inconclusive(_grouped(unknown) + tail + named, keys, extra)
    if all(r.status is Status.NOT_APPLICABLE for _, r in results):
        # No address has a session to judge, and MX-04 or TLS-01 says why, as a failure.
        return Verdict.not_applicable(_grouped(results) + named, keys)
    return Verdict.passed(_grouped(results) + named, keys, extra)


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
        # No greeting within the wait proves nothing about the host: a greeting that is slow
        # by design (postscreen's pregreet wait), a tarpit aimed at the testing address, or a
        # connection closed early all leave the question open. Only what shows the host
        # refuses mail (a 5xx greeting, a refused connection) fails MX-04.
        return _unknown(
            "could not tell: the TCP connection was accepted but no complete SMTP greeting "
            f"came ({show_value(error.describe(), 200)}); if the server delays its greeting on "
            "purpose, raise --govmail-greeting-timeout or --govmail-timeout"
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

    The gate of TLS-02..10, CERT-* and DANE-01. When MX-04 or TLS-01 *fails* there (a 554
    greeting, no STARTTLS), nothing failed to decide: the requirement does not apply to that
    address, and the failure is reported once, by the requirement it belongs to. When they could
    not tell (a timeout, a 421), neither can the gated requirement: INCONCLUSIVE, pointing there.
    """
    for requirement, outcome in (("MX-04", _greeting(scan)), ("TLS-01", _starttls(scan))):
        if outcome.status is Status.FAIL:
            return AddressVerdict(
                Status.NOT_APPLICABLE,
                f"no TLS session to judge: {requirement} fails ({outcome.reason})",
            )
        if outcome.status is not Status.PASS:
            return _unknown(f"no TLS session to judge: see {requirement} ({outcome.reason})")
    return None


# ------------------------------------------------------------------------------------------
# Versions, as the judges of TLS-01..TLS-08 read them
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


# ------------------------------------------------------------------------------------------
# The profile and the judging time
# ------------------------------------------------------------------------------------------


def judging_profile(subject: Subject) -> TlsProfile:
    """The profile the run judges with: ``subject.tls_profile`` (loaded once by the run)."""
    return subject.tls_profile


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


def expiry_days(subject: Subject, profile: TlsProfile) -> int:
    """CERT-04's window: ``subject.cert_expiry_days`` when the user set it, else the profile's."""
    days = subject.cert_expiry_days
    return profile.expiry_warning_days if days is None else days


def judging_time(subject: Subject) -> datetime:
    """When the evidence was collected (replay judges dates the same way), else now; aware."""
    now = subject.now or datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
