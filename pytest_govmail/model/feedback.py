"""What DMARC aggregate and TLS-RPT reports said about a domain, folded into per-domain totals.

Receivers send a domain's owner DMARC aggregate reports (RFC 7489 section 7.2 and Appendix C;
RFC 9990) and TLS-RPT reports (RFC 8460 section 4). The parsers in :mod:`pytest_govmail.feedback`
read one report at a time; :class:`FeedbackBuilder` folds each into totals per domain and
forgets the report, so memory grows with the distinct senders seen, not with the number of
reports. Everything here is plain data: every string came from a stranger's file and is shown
through :func:`pytest_govmail.model.text.show_value` wherever it is output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from pytest_govmail.model.text import inert

#: Reports whose period ended more than this many days before the run are ignored by default.
DEFAULT_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One ``auth_results`` entry: the domain authenticated, its result, and for DKIM the
    selector (RFC 7489 Appendix C ``DKIMAuthResultType``) or for SPF the scope."""

    domain: str
    result: str
    selector: str = ""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class SenderRow:
    """One ``record`` of an aggregate report (the key fields; ``count`` is its messages).

    ``dkim_aligned`` and ``spf_aligned`` are the receiver's ``policy_evaluated`` results: "pass"
    means that mechanism passed *and* aligned with the header From domain (RFC 7489 section
    3.1). ``dkim`` and ``spf`` are the raw ``auth_results``, aligned or not.
    """

    source_ip: str
    header_from: str
    disposition: str
    dkim_aligned: str
    spf_aligned: str
    dkim: tuple[AuthResult, ...] = ()
    spf: tuple[AuthResult, ...] = ()
    count: int = 0

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.source_ip,
            self.header_from,
            self.disposition,
            self.dkim_aligned,
            self.spf_aligned,
            self.dkim,
            self.spf,
        )

    @property
    def passes_dmarc(self) -> bool:
        """DMARC passes when DKIM or SPF passes aligned (RFC 7489 section 4.2)."""
        return self.dkim_aligned == "pass" or self.spf_aligned == "pass"

    @property
    def authenticates_unaligned(self) -> bool:
        """SPF or DKIM passed for some domain, though not aligned: a real service that signs or
        sends as itself (a mailing service, a forwarder), not a forger of the domain."""
        return any(r.result == "pass" for r in self.dkim + self.spf)


@dataclass(frozen=True, slots=True)
class AggregateReport:
    """One DMARC aggregate report as read (RFC 7489 Appendix C; RFC 9990 alike)."""

    org_name: str
    report_id: str
    begin: datetime
    end: datetime
    domain: str
    policy: str = ""
    subdomain_policy: str = ""
    pct: str = ""
    rows: tuple[SenderRow, ...] = ()
    skipped_rows: int = 0
    schema: str = "rfc7489"


@dataclass(frozen=True, slots=True)
class TlsFailure:
    """One ``failure-details`` entry of a TLS-RPT report (RFC 8460 section 4.3)."""

    result_type: str
    receiving_mx_hostname: str
    receiving_ip: str
    sending_mta_ip: str
    count: int


@dataclass(frozen=True, slots=True)
class TlsPolicyResult:
    """One ``policies`` entry: the policy applied to one domain, its session counts."""

    policy_type: str
    policy_domain: str
    mx_hosts: tuple[str, ...]
    successful: int
    failed: int
    failures: tuple[TlsFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsReport:
    """One TLS-RPT report (RFC 8460 section 4.4)."""

    org_name: str
    report_id: str
    begin: datetime
    end: datetime
    policies: tuple[TlsPolicyResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """A file (or a part of one) that is not a report we accept, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class DomainFeedback:
    """Everything the reports said about one domain, within the window.

    ``senders`` are the aggregate rows summed over reports; ``selectors`` maps each DKIM
    selector seen signing for the domain to where it was first seen; ``tls_failures`` maps
    (MX host, result type) to failed sessions. ``*_old`` count reports ignored as older than
    ``window_days``.
    """

    domain: str
    window_days: int = DEFAULT_WINDOW_DAYS
    dmarc_reports: int = 0
    dmarc_old: int = 0
    reporters: tuple[str, ...] = ()
    first: datetime | None = None
    last: datetime | None = None
    policies_seen: tuple[str, ...] = ()
    senders: tuple[SenderRow, ...] = ()
    skipped_rows: int = 0
    selectors: Mapping[str, str] = field(default_factory=dict)
    #: (day the reporting period ended, messages, messages passing DMARC), oldest first.
    periods: tuple[tuple[str, int, int], ...] = ()
    tls_reports: int = 0
    tls_old: int = 0
    tls_reporters: tuple[str, ...] = ()
    tls_successful: int = 0
    tls_failed: int = 0
    tls_failures: Mapping[tuple[str, str], int] = field(default_factory=dict)
    tls_policy_types: tuple[str, ...] = ()

    @property
    def messages(self) -> int:
        return sum(r.count for r in self.senders)


@dataclass(frozen=True, slots=True)
class Feedback:
    """The run's reports: per-domain totals, the files refused, and what was left out."""

    domains: Mapping[str, DomainFeedback] = field(default_factory=dict)
    refused: tuple[Refused, ...] = ()
    files: int = 0
    window_days: int = DEFAULT_WINDOW_DAYS
    old: int = 0
    other_domains: tuple[str, ...] = ()
    duplicates: int = 0

    def for_domain(self, domain: str) -> DomainFeedback | None:
        """The domain's totals; empty ones when files were read but none reported on it (so its
        verdict can name the window), None when no report file was given at all."""
        found = self.domains.get(domain)
        if found is None and self.files:
            return DomainFeedback(domain, window_days=self.window_days)
        return found


@dataclass
class _DomainTotals:
    dmarc_reports: int = 0
    dmarc_old: int = 0
    reporters: dict[str, None] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    policies: dict[str, None] = field(default_factory=dict)
    senders: dict[tuple[object, ...], SenderRow] = field(default_factory=dict)
    skipped_rows: int = 0
    selectors: dict[str, str] = field(default_factory=dict)
    periods: dict[str, list[int]] = field(default_factory=dict)
    tls_reports: int = 0
    tls_old: int = 0
    tls_reporters: dict[str, None] = field(default_factory=dict)
    tls_successful: int = 0
    tls_failed: int = 0
    tls_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    tls_policy_types: dict[str, None] = field(default_factory=dict)


#: Distinct sender rows kept per domain: a hostile set of reports could name every address.
MAX_SENDERS_PER_DOMAIN = 10_000
#: Distinct (MX host, failure type) pairs kept per domain.
MAX_TLS_PAIRS_PER_DOMAIN = 1_000


class FeedbackBuilder:
    """Folds reports one by one into per-domain totals (see the module docstring).

    ``now`` and ``window_days`` decide which reports are too old: one whose period ended before
    ``now - window_days`` is counted as ignored, not read. ``domains`` limits the totals to the
    run's targets (None keeps every domain); a report for another domain is noted by name.
    """

    def __init__(
        self,
        now: datetime | None = None,
        window_days: int = DEFAULT_WINDOW_DAYS,
        domains: set[str] | None = None,
    ) -> None:
        self.now = now or datetime.now(UTC)
        self.window_days = window_days
        self.cutoff = self.now - timedelta(days=window_days)
        self.domains = domains
        self._totals: dict[str, _DomainTotals] = {}
        self._refused: list[Refused] = []
        self._seen_ids: set[tuple[str, str, str]] = set()
        self._other: dict[str, None] = {}
        self.files = 0
        self.old = 0
        self.duplicates = 0

    def _wanted(self, domain: str) -> _DomainTotals | None:
        if self.domains is not None and domain not in self.domains:
            if len(self._other) < 100:
                self._other[domain] = None
            return None
        return self._totals.setdefault(domain, _DomainTotals())

    def _duplicate(self, kind: str, org: str, report_id: str) -> bool:
        key = (kind, org, report_id)
        if report_id and key in self._seen_ids:
            self.duplicates += 1
            return True
        self._seen_ids.add(key)
        return False

    def refuse(self, source: str, reason: str) -> None:
        self._refused.append(Refused(source, reason))

    def add_dmarc(self, report: AggregateReport, source: str) -> None:
        totals = self._wanted(report.domain)
        if totals is None or self._duplicate("dmarc", report.org_name, report.report_id):
            return
        if report.end < self.cutoff:
            totals.dmarc_old += 1
            self.old += 1
            return
        totals.dmarc_reports += 1
        totals.reporters.setdefault(report.org_name, None)
        totals.first = report.begin if totals.first is None else min(totals.first, report.begin)
        totals.last = report.end if totals.last is None else max(totals.last, report.end)
        if report.policy:
            totals.policies.setdefault(report.policy, None)
        totals.skipped_rows += report.skipped_rows
        # Shown wherever the selector is (the DKIM checks' details too): inert from the start.
        where = inert(f"DMARC report {report.org_name} {report.report_id} ({source})")
        day = totals.periods.setdefault(f"{report.end:%Y-%m-%d}", [0, 0])
        for row in report.rows:
            day[0] += row.count
            day[1] += row.count if row.passes_dmarc else 0
            for dkim in row.dkim:
                if dkim.selector and dkim.domain == report.domain:
                    totals.selectors.setdefault(dkim.selector, where)
            key = row.key
            known = totals.senders.get(key)
            if known is not None:
                totals.senders[key] = replace(known, count=known.count + row.count)
            elif len(totals.senders) < MAX_SENDERS_PER_DOMAIN:
                totals.senders[key] = row
            else:
                totals.skipped_rows += 1

    def add_tlsrpt(self, report: TlsReport, source: str) -> None:
        if self._duplicate("tlsrpt", report.org_name, report.report_id):
            return
        for policy in report.policies:
            totals = self._wanted(policy.policy_domain)
            if totals is None:
                continue
            if report.end < self.cutoff:
                totals.tls_old += 1
                self.old += 1
                continue
            totals.tls_reports += 1
            totals.tls_reporters.setdefault(report.org_name, None)
            totals.tls_policy_types.setdefault(policy.policy_type, None)
            totals.tls_successful += policy.successful
            totals.tls_failed += policy.failed
            for failure in policy.failures:
                pair = (failure.receiving_mx_hostname or "(no MX host named)", failure.result_type)
                if pair in totals.tls_failures or len(totals.tls_failures) < (
                    MAX_TLS_PAIRS_PER_DOMAIN
                ):
                    totals.tls_failures[pair] = totals.tls_failures.get(pair, 0) + failure.count

    def build(self) -> Feedback:
        domains = {
            name: DomainFeedback(
                domain=name,
                window_days=self.window_days,
                dmarc_reports=t.dmarc_reports,
                dmarc_old=t.dmarc_old,
                reporters=tuple(t.reporters),
                first=t.first,
                last=t.last,
                policies_seen=tuple(t.policies),
                senders=tuple(sorted(t.senders.values(), key=lambda r: (-r.count, r.source_ip))),
                skipped_rows=t.skipped_rows,
                selectors=dict(t.selectors),
                periods=tuple((d, m, p) for d, (m, p) in sorted(t.periods.items())),
                tls_reports=t.tls_reports,
                tls_old=t.tls_old,
                tls_reporters=tuple(t.tls_reporters),
                tls_successful=t.tls_successful,
                tls_failed=t.tls_failed,
                tls_failures=dict(t.tls_failures),
                tls_policy_types=tuple(t.tls_policy_types),
            )
            for name, t in sorted(self._totals.items())
        }
        return Feedback(
            domains=domains,
            refused=tuple(self._refused),
            files=self.files,
            window_days=self.window_days,
            old=self.old,
            other_domains=tuple(self._other),
            duplicates=self.duplicates,
        )


# --- The evidence file's form (model/evidence.py stores it under "feedback") -----------------


def _auth_to_json(result: AuthResult) -> list[str]:
    return [result.domain, result.result, result.selector, result.scope]


def _auth_from_json(data: object) -> AuthResult:
    domain, result, selector, scope = (str(x) for x in _list(data, 4))
    return AuthResult(domain, result, selector, scope)


def _list(data: object, length: int | None = None) -> list[object]:
    if not isinstance(data, list) or (length is not None and len(data) != length):
        raise ValueError(f"expected a list{f' of {length}' if length else ''}, got {data!r:.60}")
    return data


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"not a count: {value!r:.60}")
    return value


def _when(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _row_to_json(row: SenderRow) -> list[object]:
    return [
        row.source_ip,
        row.header_from,
        row.disposition,
        row.dkim_aligned,
        row.spf_aligned,
        [_auth_to_json(a) for a in row.dkim],
        [_auth_to_json(a) for a in row.spf],
        row.count,
    ]


def _row_from_json(data: object) -> SenderRow:
    ip, header_from, disposition, dkim_aligned, spf_aligned, dkim, spf, count = _list(data, 8)
    return SenderRow(
        str(ip),
        str(header_from),
        str(disposition),
        str(dkim_aligned),
        str(spf_aligned),
        tuple(_auth_from_json(a) for a in _list(dkim)),
        tuple(_auth_from_json(a) for a in _list(spf)),
        _count(count),
    )


def domain_to_json(d: DomainFeedback) -> dict[str, object]:
    return {
        "domain": d.domain,
        "window_days": d.window_days,
        "dmarc_reports": d.dmarc_reports,
        "dmarc_old": d.dmarc_old,
        "reporters": list(d.reporters),
        "first": d.first.isoformat() if d.first else None,
        "last": d.last.isoformat() if d.last else None,
        "policies_seen": list(d.policies_seen),
        "senders": [_row_to_json(r) for r in d.senders],
        "skipped_rows": d.skipped_rows,
        "selectors": dict(d.selectors),
        "periods": [list(p) for p in d.periods],
        "tls_reports": d.tls_reports,
        "tls_old": d.tls_old,
        "tls_reporters": list(d.tls_reporters),
        "tls_successful": d.tls_successful,
        "tls_failed": d.tls_failed,
        "tls_failures": [[h, t, c] for (h, t), c in d.tls_failures.items()],
        "tls_policy_types": list(d.tls_policy_types),
    }


def domain_from_json(data: Mapping[str, object]) -> DomainFeedback:
    """One domain's totals from an evidence file (every string of a stranger's report is shown
    escaped by the judges; the selectors' sources are made inert here, as when first read)."""

    def texts(key: str) -> tuple[str, ...]:
        return tuple(str(x) for x in _list(data.get(key, [])))

    selectors = data.get("selectors", {})
    if not isinstance(selectors, dict):
        raise ValueError("selectors is not an object")
    return DomainFeedback(
        domain=str(data["domain"]),
        window_days=_count(data.get("window_days", DEFAULT_WINDOW_DAYS)),
        dmarc_reports=_count(data.get("dmarc_reports", 0)),
        dmarc_old=_count(data.get("dmarc_old", 0)),
        reporters=texts("reporters"),
        first=_when(data.get("first")),
        last=_when(data.get("last")),
        policies_seen=texts("policies_seen"),
        senders=tuple(_row_from_json(r) for r in _list(data.get("senders", []))),
        skipped_rows=_count(data.get("skipped_rows", 0)),
        selectors={str(k): inert(str(v)) for k, v in selectors.items()},
        periods=tuple(
            (str(day), _count(messages), _count(passing))
            for day, messages, passing in (_list(p, 3) for p in _list(data.get("periods", [])))
        ),
        tls_reports=_count(data.get("tls_reports", 0)),
        tls_old=_count(data.get("tls_old", 0)),
        tls_reporters=texts("tls_reporters"),
        tls_successful=_count(data.get("tls_successful", 0)),
        tls_failed=_count(data.get("tls_failed", 0)),
        tls_failures={
            (str(host), str(kind)): _count(count)
            for host, kind, count in (_list(f, 3) for f in _list(data.get("tls_failures", [])))
        },
        tls_policy_types=texts("tls_policy_types"),
    )


def feedback_to_json(feedback: Feedback) -> dict[str, object]:
    """What the evidence file keeps: the per-domain totals the judges read, and the counts the
    end-of-run line gives (the refused files' reasons stay in the run that read them)."""
    return {
        "window_days": feedback.window_days,
        "files": feedback.files,
        "old": feedback.old,
        "duplicates": feedback.duplicates,
        "refused": len(feedback.refused),
        "domains": [domain_to_json(d) for d in feedback.domains.values()],
    }


def feedback_from_json(data: object) -> Feedback:
    if not isinstance(data, dict):
        raise ValueError("feedback is not an object")
    domains = (domain_from_json(d) for d in _list(data.get("domains", [])) if isinstance(d, dict))
    return Feedback(
        domains={d.domain: d for d in domains},
        files=_count(data.get("files", 0)),
        window_days=_count(data.get("window_days", DEFAULT_WINDOW_DAYS)),
        old=_count(data.get("old", 0)),
        duplicates=_count(data.get("duplicates", 0)),
    )


#: Refused report files named one a line; the rest are counted.
MAX_REFUSED_SHOWN = 20


def feedback_summary(feedback: Feedback) -> list[str]:
    """What the report files gave: read, refused (each with its reason, shown inert), older than
    the window, for domains not assessed. A run prints it at its end; ``govmail-sweep`` once,
    where the files are read."""
    from pytest_govmail.model.text import inert

    f = feedback
    used = sum(d.dmarc_reports + d.tls_reports for d in f.domains.values())
    lines = [
        f"govmail: reports: {f.files} file(s) read, {used} report(s) used, "
        f"{len(f.refused)} refused, {f.old} older than {f.window_days} days ignored"
        + (f", {f.duplicates} duplicate(s)" if f.duplicates else "")
        + (f", {len(f.other_domains)} other domain(s) not assessed" if f.other_domains else "")
    ]
    for refused in f.refused[:MAX_REFUSED_SHOWN]:
        lines.append(f"govmail: report refused: {inert(refused.source)}: {inert(refused.reason)}")
    if len(f.refused) > MAX_REFUSED_SHOWN:
        lines.append(f"govmail: ... and {len(f.refused) - MAX_REFUSED_SHOWN} more refused")
    return lines
