"""REPORTS-01..04: what receivers' DMARC aggregate and TLS-RPT reports say about a domain.

DNS shows what a domain publishes; only the reports its receivers send back show who really
sends as it and how that mail fares (RFC 7489 section 7.2, RFC 8460 section 4). These judges
read the per-domain totals of :class:`~pytest_govmail.model.feedback.DomainFeedback` (the
reports of the window, folded when the run read them):

- REPORTS-01 :func:`senders_pass_aligned`: each source that fails DMARC in volume is a
  *legitimate service to fix* when it still passes SPF or DKIM for some other domain (a mailing
  service signing as itself, a forwarder), or *spoofing* when it passes neither (GOV.UK
  "Using DMARC": DMARC reports "see the legitimate and fraudulent use of your domains").
- REPORTS-02 :func:`report_selectors_publish_keys`: the DKIM selectors the reports show in use
  have key records (RFC 6376 section 3.6.2.1); the DKIM checks try them as well.
- REPORTS-03 :func:`ready_to_enforce`: at ``p=none`` or ``quarantine``, whether ``reject``
  (RFC 7489 section 6.3) would block a legitimate service, with the share passing aligned.
- REPORTS-04 :func:`tls_reports_clean`: TLS-RPT failed sessions per MX host and result type
  (RFC 8460 section 4.3), each set beside this run's own certificate, STARTTLS, MTA-STS and
  DANE verdicts for the same host.

No reports for a domain in the window is "not assessed" (NOT APPLICABLE, with the reason and
how many older reports were ignored), never a failure. Every string from a report is shown
through :func:`show_value`: reports come from strangers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pytest_govmail.judge import cert, mtasts, tls
from pytest_govmail.judge.common import show_value
from pytest_govmail.judge.dmarc import Applicable, NoRecord, discover
from pytest_govmail.model.feedback import DomainFeedback, SenderRow
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Status, Verdict
from pytest_govmail.records.dkim import looks_like_key_record
from pytest_govmail.records.dkim_selectors import key_name
from pytest_govmail.records.dmarc import DmarcSyntaxError, parse_dmarc
from pytest_govmail.records.ptr import ptr_names, reverse_name
from pytest_govmail.records.spf import answer_addresses
from pytest_govmail.records.txt import txt_values

#: A source failing DMARC for this many messages or more in the window is "in volume".
VOLUME = 10
#: Sources listed in a verdict's details (the largest first).
MAX_LISTED = 20
#: Reporting days listed (the latest).
MAX_DAYS = 31


@dataclass
class Source:
    """One sending address over the window: its messages, and how they fared."""

    address: str
    messages: int = 0
    passing: int = 0
    failing: int = 0
    unaligned_pass: int = 0  # failing DMARC, yet passing SPF or DKIM for another domain
    dispositions: dict[str, int] = field(default_factory=dict)
    authenticated_as: dict[str, None] = field(default_factory=dict)
    header_from: dict[str, None] = field(default_factory=dict)

    @property
    def legitimate(self) -> bool:
        """A real service (fix it), not a forger: its failing mail still authenticates."""
        return self.unaligned_pass > 0

    def add(self, row: SenderRow) -> None:
        self.messages += row.count
        self.header_from.setdefault(row.header_from, None)
        self.dispositions[row.disposition] = self.dispositions.get(row.disposition, 0) + row.count
        if row.passes_dmarc:
            self.passing += row.count
            return
        self.failing += row.count
        if row.authenticates_unaligned:
            self.unaligned_pass += row.count
            for result in row.dkim + row.spf:
                if result.result == "pass" and result.domain:
                    kind = "DKIM" if result in row.dkim else "SPF"
                    self.authenticated_as.setdefault(f"{kind} {result.domain}", None)


def sources(feedback: DomainFeedback) -> list[Source]:
    """The window's rows summed per source address, the most messages first."""
    found: dict[str, Source] = {}
    for row in feedback.senders:
        found.setdefault(row.source_ip, Source(row.source_ip)).add(row)
    return sorted(found.values(), key=lambda s: (-s.messages, s.address))


def not_assessed(subject: Subject, kind: str = "DMARC aggregate") -> Verdict | None:
    """NOT APPLICABLE when no report of ``kind`` for the domain falls in the window."""
    feedback = subject.feedback
    count = (
        0
        if feedback is None
        else (feedback.tls_reports if kind == "TLS-RPT" else feedback.dmarc_reports)
    )
    if count:
        return None
    old = 0 if feedback is None else (feedback.tls_old if kind == "TLS-RPT" else feedback.dmarc_old)
    days = feedback.window_days if feedback is not None else None
    window = f"in the last {days} days" if days is not None else "given"
    ignored = f" ({old} older report(s) ignored)" if old else ""
    option = "--govmail-tlsrpt-reports" if kind == "TLS-RPT" else "--govmail-dmarc-reports"
    return Verdict.not_applicable(
        f"not assessed: no {kind} reports for {subject.domain} {window}{ignored}; give them "
        f"with {option}"
    )


def _ptr(subject: Subject, address: str) -> str:
    """The source's PTR name as this run saw it, and whether it resolves back to the address
    (forward-confirmed, as GOV.UK asks of sending services); "" when the run did not ask."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    answer = subject.dns.get(reverse_name(address), "PTR")
    if answer is None or answer.error is not None:
        return ""
    names = ptr_names(answer)
    if not names:
        return "no PTR"
    host = names[0]
    forward = subject.dns.get(host, "A" if parsed.version == 4 else "AAAA")
    if forward is None or forward.error is not None:
        return f"PTR {show_value(host, 80)}"
    confirmed = str(parsed) in answer_addresses(forward)
    return f"PTR {show_value(host, 80)}" + (
        " (forward-confirmed)" if confirmed else " (does not resolve back to it)"
    )


def _describe(subject: Subject, source: Source) -> str:
    ptr = _ptr(subject, source.address)
    shown = f"{source.address}" + (f" [{ptr}]" if ptr else "")
    disposition = ", ".join(f"{k} {v}" for k, v in sorted(source.dispositions.items()))
    text = (
        f"{shown}: {source.messages} message(s), {source.passing} passing DMARC aligned, "
        f"{source.failing} failing (disposition: {show_value(disposition, 80)})"
    )
    if source.authenticated_as:
        names = ", ".join(show_value(a, 80) for a in list(source.authenticated_as)[:4])
        text += f"; passes unaligned as {names}"
    return text


def _period(feedback: DomainFeedback) -> str:
    if feedback.first is None or feedback.last is None:
        return ""
    reporters = ", ".join(show_value(r, 60) for r in feedback.reporters[:6])
    more = f" and {len(feedback.reporters) - 6} more" if len(feedback.reporters) > 6 else ""
    ignored = f"; {feedback.dmarc_old} older report(s) ignored" if feedback.dmarc_old else ""
    return (
        f"{feedback.dmarc_reports} report(s) from {reporters}{more}, "
        f"{feedback.first:%Y-%m-%d} to {feedback.last:%Y-%m-%d} "
        f"(window {feedback.window_days} days{ignored})"
    )


def _details(
    subject: Subject, feedback: DomainFeedback, found: list[Source]
) -> list[tuple[str, str]]:
    details = [("reports", _period(feedback))]
    if feedback.periods:
        days = [
            f"{day}: {messages} message(s), {passing} passing aligned"
            for day, messages, passing in feedback.periods[-MAX_DAYS:]
        ]
        details.append(("by reporting day", "\n".join(days)))
    for source in found[:MAX_LISTED]:
        kind = (
            "passes"
            if not source.failing
            else "service to fix"
            if source.legitimate
            else "spoofing"
        )
        details.append((f"sender ({kind})", _describe(subject, source)))
    if len(found) > MAX_LISTED:
        details.append(("senders", f"{len(found) - MAX_LISTED} more source(s) not listed"))
    if feedback.skipped_rows:
        details.append(("skipped", f"{feedback.skipped_rows} record(s) unreadable or over bounds"))
    return details


def senders_pass_aligned(subject: Subject) -> Verdict:
    """REPORTS-01: no legitimate service fails DMARC in volume (G2; RFC 7489 sections 4.2, 7.2)."""
    skip = not_assessed(subject)
    if skip is not None:
        return skip
    feedback = subject.feedback
    assert feedback is not None
    found = sources(feedback)
    details = _details(subject, feedback, found)
    to_fix = [s for s in found if s.legitimate and s.failing >= VOLUME]
    spoofing = [s for s in found if s.failing and not s.legitimate]
    if to_fix:
        return Verdict.failed(
            *(
                Finding(
                    "reports.sender.unaligned",
                    f"a sending service fails DMARC for {subject.domain}: " + _describe(subject, s),
                    "every service sending as the domain passes SPF or DKIM aligned with it",
                )
                for s in to_fix
            ),
            details=details,
        )
    total = feedback.messages
    passing = sum(s.passing for s in found)
    return Verdict.passed(
        f"{len(found)} source(s) sent {total} message(s) as {subject.domain}; "
        f"{passing} pass DMARC aligned; {len(spoofing)} spoofing source(s) "
        f"({sum(s.failing for s in spoofing)} message(s)) pass neither SPF nor DKIM",
        details=details,
    )


def _key_state(subject: Subject, selector: str) -> tuple[bool | None, str]:
    name = key_name(selector, subject.domain)
    if name is None:
        return False, f"{show_value(selector, 60)} cannot form a DNS name"
    answer = subject.dns.get(name, "TXT")
    if answer is None:
        return None, f"{name} was not asked in this run"
    if answer.error is not None:
        return None, f"{name}: {answer.error.describe()}"
    keys = [v for v in txt_values(answer) if looks_like_key_record(v)]
    if keys:
        return True, f"{name}: key published"
    return False, f"{name}: {'NXDOMAIN' if answer.nxdomain else 'no DKIM key record'}"


def report_selectors_publish_keys(subject: Subject) -> Verdict:
    """REPORTS-02: every selector the reports show in use has a key (G2; RFC 6376 3.6.2.1)."""
    skip = not_assessed(subject)
    if skip is not None:
        return skip
    feedback = subject.feedback
    assert feedback is not None
    if not feedback.selectors:
        return Verdict.not_applicable(
            f"not assessed: the DMARC reports name no DKIM selector signing for {subject.domain}"
        )
    details: list[tuple[str, str]] = []
    missing: list[Finding] = []
    unknown: list[str] = []
    evidence = []
    for selector, where in sorted(feedback.selectors.items()):
        state, said = _key_state(subject, selector)
        details.append(
            (f"selector {show_value(selector, 60)}", f"seen in {show_value(where, 200)}; {said}")
        )
        name = key_name(selector, subject.domain)
        if name is not None:
            evidence.append(f"{name}/TXT")
        if state is None:
            unknown.append(said)
        elif not state:
            missing.append(
                Finding(
                    "reports.selector.no_key",
                    f"selector {show_value(selector, 60)} signs mail for {subject.domain} "
                    f"(seen in {show_value(where, 200)}), but {said}",
                    f"a DKIM key at {name or 'the selector'}",
                )
            )
    if missing:
        return Verdict.failed(*missing, evidence=evidence, details=details)
    if unknown:
        return Verdict.inconclusive("; ".join(unknown), evidence, details)
    return Verdict.passed(
        f"{len(feedback.selectors)} selector(s) seen in reports, each with a key: "
        + ", ".join(show_value(s, 60) for s in sorted(feedback.selectors)),
        evidence,
        details,
    )


def ready_to_enforce(subject: Subject) -> Verdict:
    """REPORTS-03: reject would stop only spoofing (G1, G2; RFC 7489 section 6.3)."""
    skip = not_assessed(subject)
    if skip is not None:
        return skip
    feedback = subject.feedback
    assert feedback is not None
    found_record = discover(subject)
    if isinstance(found_record, Verdict):
        return found_record
    if isinstance(found_record, NoRecord):
        return Verdict.not_applicable(
            f"no DMARC record applies to {subject.domain} (DMARC-01 reports it)",
            found_record.evidence,
        )
    record_found: Applicable = found_record
    try:
        record = parse_dmarc(record_found.text)
    except DmarcSyntaxError:
        return Verdict.not_applicable(
            f"the DMARC record of {subject.domain} is invalid (DMARC-02 reports it)",
            record_found.evidence,
        )
    policy = record.sp if record_found.inherited and record.sp else record.policy
    if policy == "reject":
        return Verdict.not_applicable(
            f"{subject.domain} is already at p=reject: {record_found.quoted()}",
            record_found.evidence,
        )
    found = sources(feedback)
    total = feedback.messages
    passing = sum(s.passing for s in found)
    share = f"{100 * passing / total:.1f}%" if total else "no mail"
    hit = [s for s in found if s.legitimate]
    details = [("policy", f"p={policy}"), ("passing aligned", f"{passing} of {total} ({share})")]
    details += _details(subject, feedback, found)
    if hit:
        return Verdict.failed(
            *(
                Finding(
                    "reports.enforce.blocks_service",
                    f"at p=reject, receivers would reject {s.failing} message(s) of a service "
                    f"sending as {subject.domain}: {_describe(subject, s)}",
                    "only spoofing fails DMARC before the policy moves to reject",
                )
                for s in hit
            ),
            evidence=record_found.evidence,
            details=details,
        )
    spoofed = sum(s.failing for s in found)
    return Verdict.passed(
        f"ready for p=reject: {share} of {total} message(s) pass aligned; the {spoofed} that "
        f"fail come from sources that pass neither SPF nor DKIM (spoofing); now at p={policy}",
        record_found.evidence,
        details,
    )


#: What this run checks itself for each TLS-RPT result type (RFC 8460 section 4.3), by judge.
Check = tuple[str, Callable[[Subject], Verdict], bool]
RELATED: dict[str, tuple[Check, ...]] = {
    "starttls-not-supported": (("TLS-01 STARTTLS", tls.starttls_completes, True),),
    "certificate-expired": (("CERT-03 validity", cert.within_validity, True),),
    "certificate-host-mismatch": (("CERT-02 names the host", cert.names_mx_host, True),),
    "certificate-not-trusted": (("CERT-01 trusted chain", cert.chain_trusted, True),),
    "validation-failure": (("CERT-01 trusted chain", cert.chain_trusted, True),),
    "sts-policy-fetch-error": (("MTASTS-02 policy served", mtasts.mtasts_policy_served, False),),
    "sts-policy-invalid": (("MTASTS-03 policy valid", mtasts.mtasts_policy_valid, False),),
    "sts-webpki-invalid": (("MTASTS-02 policy served", mtasts.mtasts_policy_served, False),),
    "tlsa-invalid": (("DANE-01 TLSA matches", tls.dane_tlsa_matches, True),),
    "dane-required": (("DANE-01 TLSA matches", tls.dane_tlsa_matches, True),),
}


def _this_run(subject: Subject, host: str, result_type: str) -> str:
    """This run's own verdicts on what the failure type names, for the same host."""
    said = []
    for label, judge, per_host in RELATED.get(result_type, ()):
        if per_host:
            if host not in subject.tls:
                said.append(f"{label}: this run did not scan {show_value(host, 80)}")
                continue
            verdict = judge(replace(subject, host=host))
        else:
            verdict = judge(subject)
        word = {
            Status.PASS: "passes now (the failures may predate a fix, or a sender sees "
            "another path)",
            Status.FAIL: "fails here too",
            Status.INCONCLUSIVE: "could not be told",
            Status.NOT_APPLICABLE: "does not apply",
        }[verdict.status]
        said.append(f"{label} {word}")
    return "; ".join(said) or "no check of this run covers this result type"


def tls_reports_clean(subject: Subject) -> Verdict:
    """REPORTS-04: no failed TLS session to the MX hosts (G5; RFC 8460 section 4.3)."""
    skip = not_assessed(subject, "TLS-RPT")
    if skip is not None:
        return skip
    feedback = subject.feedback
    assert feedback is not None
    reporters = ", ".join(show_value(r, 60) for r in feedback.tls_reporters[:6])
    ignored = f"; {feedback.tls_old} older report(s) ignored" if feedback.tls_old else ""
    details = [
        (
            "reports",
            f"{feedback.tls_reports} report(s) from {reporters} "
            f"(window {feedback.window_days} days{ignored})",
        ),
        ("sessions", f"{feedback.tls_successful} successful, {feedback.tls_failed} failed"),
        ("policy types", ", ".join(show_value(p, 40) for p in feedback.tls_policy_types)),
    ]
    pairs = sorted(feedback.tls_failures.items(), key=lambda kv: (-kv[1], kv[0]))
    if feedback.tls_failed == 0 and not pairs:
        return Verdict.passed(
            f"{feedback.tls_successful} TLS session(s) to {subject.domain}'s MX hosts "
            f"reported, none failed",
            details=details,
        )
    findings = [
        Finding(
            f"reports.tls.{result_type}"
            if result_type.replace("-", "").isalpha()
            else "reports.tls",
            f"{count} failed session(s) to {show_value(host, 80)}: "
            f"{show_value(result_type, 60)}; this run: {_this_run(subject, host, result_type)}",
            "no failed TLS session in the reports",
        )
        for (host, result_type), count in pairs[:MAX_LISTED]
    ]
    if not findings:
        findings = [
            Finding(
                "reports.tls",
                f"{feedback.tls_failed} failed session(s) reported without failure details",
                "no failed TLS session in the reports",
            )
        ]
    return Verdict.failed(*findings, details=details)
