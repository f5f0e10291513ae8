"""What a run shows: verdict facts on every report, the header, the verdicts, and the summary.

The verdicts are listed compactly by default and whole under ``-v``
(:mod:`pytest_govmail.reports.listing`); then the domain-by-area matrix, a stale waiver in its
domain's cell, and totals that add up to pytest's own final line.

Each test report gets a plain-data ``govmail`` attribute (requirement, domain, host, status,
summary, the DNS answers the verdict rests on, and findings and details when there are any).
Plain data survives pytest-xdist's report serialisation; our HTML report
(:mod:`pytest_govmail.reports.page`) and the pytest-html additions
(:mod:`pytest_govmail.reports.pytest_html`)
render it escaped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.inputs.catalogue import Catalogue, Requirement
from pytest_govmail.inputs.waivers import Waiver
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.tls import TlsScan, busiest_address
from pytest_govmail.model.vantage import BLIND_CAUSE, BLOCKED_CAUSE
from pytest_govmail.model.verdict import Status
from pytest_govmail.plugin.pytest_private import take_over_failure_summary
from pytest_govmail.reports.listing import (
    LINE_LISTING_ABOVE,
    WORD,
    Listed,
    list_others,
    list_verdicts,
    listed,
    named_lines,
    pytest_outcome,
    reconciled,
    tls_part,
    verdict_kind,
)
from pytest_govmail.reports.listing import clip as _clip
from pytest_govmail.reports.status import STALE, SYMBOL, Cell, worst
from pytest_govmail.reports.timing import RunClock, time_lines

if TYPE_CHECKING:
    from pytest_govmail.model.change import Comparison
    from pytest_govmail.model.dns import DnsView
    from pytest_govmail.model.verdict import Verdict
    from pytest_govmail.plugin.assessment import Assessment


class Comparer(Protocol):
    """What compares a test with a baseline (:class:`pytest_govmail.plugin.baseline.Baseline`,
    which this module may not import: it imports the reports)."""

    def compare(self, assessment: Assessment, verdict: Verdict, today: DnsView) -> Comparison: ...


#: The title of a test's detail that says how it changed against ``--govmail-baseline``.
BASELINE_DETAIL = "against the baseline"


def implemented_ids(items: list[pytest.Item]) -> set[str]:
    from pytest_govmail.plugin.keys import requirement_key

    return {item.stash[requirement_key].id for item in items if requirement_key in item.stash}


class GovmailReporter:
    """Registered by the plugin for a govmail run; holds the per-domain tallies for the summary."""

    def __init__(self, config: pytest.Config, run: GovmailRun, catalogue: Catalogue) -> None:
        self.config = config
        self.run = run
        self.catalogue = catalogue
        #: Per domain, per requirement area: the tests' statuses (and waived failures).
        self.tally: dict[str, dict[str, Cell]] = defaultdict(lambda: defaultdict(Cell))
        self.collected_ids: set[str] = set()
        # A host's TLS evidence is shown on each of its ~20 tests: render it once.
        self._tls_lines: dict[tuple[str, str], list[str]] = {}
        self._dns_lines: dict[str, tuple[DnsResult, str]] = {}
        self._source_lists: dict[str, list[str]] = {}
        #: Tests inconclusive for the run's one vantage cause (port 25 blocked, a blind resolver).
        self.vantage_count = 0
        #: The ``--tb`` style the plugin lists verdicts in ("auto", "line"), or None when
        #: pytest lists failures itself (``-v``, or another ``--tb`` style).
        self.style = take_over_failure_summary(config)
        #: Per domain, per area: how many passes are stale waivers (kept apart from
        #: ``tally``, which the pytest-html matrix reads and which knows no such status yet).
        self.stale: dict[str, Counter[str]] = defaultdict(Counter)
        #: Tests per (pytest outcome, govmail kind): what makes the totals add up.
        self.outcomes: Counter[tuple[str, str]] = Counter()
        #: Every test that did not pass, in the order it ran: what the listing shows.
        self.listed: list[Listed] = []
        self._listed_reports: set[int] = set()
        #: Each host's TLS scan evidence, once: (domain, host) -> lines.
        self.host_evidence: dict[tuple[str, str], list[str]] = {}
        #: Where the run's time goes: the summary's ``govmail: time:`` lines.
        self.clock = RunClock()
        #: The earlier run each test is compared with (``--govmail-baseline``), or None.
        self.baseline: Comparer | None = None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        run = self.run
        source = (
            f"replaying {len(run.snapshot)} saved answers"
            if run.replay is not None
            else f"resolver {', '.join(run.settings.nameservers) or 'system'}, "
            f"timeout {run.settings.timeout:g} s"
        )
        return [
            f"govmail: {len(run.targets)} domain(s); {source}; catalogue v{self.catalogue.version}"
        ] + [f"govmail: vantage point: {line}" for line in vantage_lines(run, look=True)]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.clock.tests_start(self.run.stats.seconds)
        self.collected_ids |= implemented_ids(session.items)
        # A sweep's verdicts one line each, as pytest's failures were (the README says so):
        # a TLS scan per host of a thousand domains does not fit a screen either.
        if self.style == "auto" and len(session.items) > LINE_LISTING_ABOVE:
            self.style = "line"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        self.annotate(item, report)
        return report

    def annotate(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Put the verdict's facts on the report of the phase that decided it.

        Called by the ``pytest_runtest_makereport`` wrapper, and directly by the lean protocol
        (:mod:`pytest_govmail.plugin.lean`) for the reports it builds itself.
        """
        from pytest_govmail.plugin.keys import assessment_key

        assessment = item.stash.get(assessment_key, None)
        verdict = assessment.verdict if assessment is not None else None
        if assessment is None or verdict is None:
            return
        deciding = "call" if verdict.status in (Status.PASS, Status.FAIL) else "setup"
        if report.when != deciding:
            return
        requirement, case = assessment.requirement, assessment.case
        evidence = [self._dns_line(key) for key in verdict.evidence]
        # A host's TLS evidence (a few dozen lines) is shown where a verdict is not a pass;
        # repeated on every passing test of every host it would swell a sweep's report. The
        # evidence file keeps all of it.
        if case.host and "tls" in requirement.needs and verdict.status is not Status.PASS:
            for scan in self.run.subject(case.target, case.host).tls.get(case.host, ()):
                scan_key = (scan.host, scan.address)
                if scan_key not in self._tls_lines:
                    self._tls_lines[scan_key] = tls_evidence_lines(scan)
                evidence.extend(self._tls_lines[scan_key])
        # Every report keeps this dict until the run ends (pytest's terminal reporter holds all
        # reports): what repeats is shared (evidence lines, the sources list), and empty
        # findings and details are left out.
        data: dict[str, Any] = {
            "requirement": requirement.id,
            "title": requirement.title,
            "level": requirement.level.value,
            "area": requirement.area,
            "domain": case.target.domain,
            "host": case.host,
            "status": verdict.status.value,
            "summary": _clip(verdict.summary, 2000),
            "evidence": evidence,
            "sources": self._sources(requirement),
        }
        if verdict.findings:
            data["findings"] = [
                {
                    "code": f.code,
                    "observed": _clip(f.observed, 2000),
                    "expected": f.expected,
                    "remediation": f.remediation or requirement.remediation,
                }
                for f in verdict.findings
            ]
        if verdict.details:
            data["details"] = [[k, _clip(v, 20000)] for k, v in verdict.details]
        if assessment.waiver is not None:
            data["waiver"] = assessment.waiver.describe()
        if self.baseline is not None:
            self._compare(item, assessment, data)
        report.govmail = data  # type: ignore[attr-defined]
        if verdict.status in (Status.FAIL, Status.INCONCLUSIVE) and evidence:
            report.sections.append(("govmail evidence", "\n".join(evidence)))

    def _compare(self, item: pytest.Item, assessment: Assessment, data: dict[str, Any]) -> None:
        """The test against the baseline: ``data["change"]``, and the ``govmail.change``
        JUnit property (pytest's JUnit writer reads the properties of the teardown report,
        made after this one)."""
        assert self.baseline is not None and assessment.verdict is not None
        comparison = self.baseline.compare(assessment, assessment.verdict, self.run.snapshot)
        data["change"] = comparison.to_json()
        # Also as a detail, which every report shows with the test (our page, a sweep's merged
        # page, pytest-html) and which a sweep's batch data carries.
        data["details"] = [*data.get("details", ()), [BASELINE_DETAIL, comparison.describe()]]
        item.user_properties.append(("govmail.change", comparison.change.value))

    def _dns_line(self, key: str) -> str:
        """One DNS answer as a line, described once: the tests that rest on it (a dozen per
        domain) share one string, rather than each report holding a copy until the run ends."""
        name, _, rdtype = key.rpartition("/")
        result = self.run.snapshot.get(name, rdtype) if name else None
        if result is None:
            return f"{key}: not collected"
        cached = self._dns_lines.get(key)
        if cached is None or cached[0] is not result:  # a later collection may replace it
            cached = self._dns_lines[key] = (result, _clip(result.describe()))
        return cached[1]

    def _sources(self, requirement: Requirement) -> list[str]:
        found = self._source_lists.get(requirement.id)
        if found is None:
            found = self._source_lists[requirement.id] = list(requirement.sources)
        return found

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "govmail", None)
        if isinstance(data, dict):
            self.clock.test_report(report)
            domain, area, status = data["domain"], data["area"], data["status"]
            cell = self.tally[domain][area]
            cell.add(status, waived=bool(data.get("waiver")))
            cause = vantage_cause(self.run)
            if cause and status == Status.INCONCLUSIVE.value and cause in data["summary"]:
                self.vantage_count += 1
            # Under pytest-xdist the controller collects no items: learn the IDs from reports.
            self.collected_ids.add(data["requirement"])
            outcome = pytest_outcome(report)
            kind = verdict_kind(status, bool(data.get("waiver")), outcome)
            self.outcomes[outcome, kind] += 1
            if kind == STALE:
                self.stale[domain][area] += 1
            if kind in WORD:
                self._listed_reports.add(id(report))
                self.listed.append(listed(data, kind, report))
                host = data.get("host")
                if host and (domain, host) not in self.host_evidence:
                    scan = tls_part(data.get("evidence") or ())
                    if scan:
                        self.host_evidence[domain, host] = scan

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None]:
        """The vantage point as JUnit suite properties, before pytest's junitxml writes them;
        and the time the session's end takes, where JUnit, the HTML report and pytest-html's
        page are written. The innermost wrapper: what comes before ``yield`` runs before every
        plain implementation (junitxml's among them), and it ends before pytest's terminal
        reporter, itself a wrapper of this hook, prints the summary that shows the time."""
        self.add_vantage_properties(session)
        self.clock.reports_start()
        try:
            return (yield)
        finally:
            self.clock.reports_end()

    def add_vantage_properties(self, session: pytest.Session) -> None:
        """pytest offers suite properties only through a fixture (``record_testsuite_property``),
        which a hook cannot take; its JUnit writer is found by the method that fixture calls."""
        vantage = self.run.vantage
        if vantage is None:
            return
        properties = {"govmail.vantage": "; ".join(vantage.lines())}
        cause = vantage_cause(self.run)
        if cause:
            properties["govmail.vantage.cause"] = vantage.blind or vantage.blocked or cause
        for plugin in session.config.pluginmanager.get_plugins():
            add = getattr(plugin, "add_global_property", None)
            if callable(add):
                for name, value in properties.items():
                    add(name, value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.style is not None:
            list_verdicts(tr, self.style, self.listed, self.host_evidence)
            list_others(tr, self.style, self._listed_reports)
        if not self.tally:
            return
        areas = tallied_areas(self.catalogue, self.tally)
        tr.write_sep("=", "govmail summary (domain x area: worst outcome)")
        width = max(len(d) for d in self.tally)
        tr.write_line(" " * width + "  " + "  ".join(f"{a:>7}" for a in areas))
        for domain in sorted(self.tally):
            cells = self.tally[domain]
            stale = self.stale.get(domain, Counter())
            symbols = [f"{SYMBOL[self._worst(cells.get(a), stale[a])]:>7}" for a in areas]
            tr.write_line(f"{domain:<{width}}  " + "  ".join(symbols))
        tr.write_line(
            "govmail: "
            + reconciled(self.outcomes)
            + f"; {self.run.stats.dns_queries} DNS answers"
            + (f" ({self.run.stats.dns_failures} failed)" if self.run.stats.dns_failures else "")
            + (f" collected in {self.run.stats.seconds:.2f} s" if self.run.replay is None else "")
        )
        for line in time_lines(self.run, self.clock):
            tr.write_line(f"govmail: time: {line}")
        for line in busiest_address(self.run.tls.values()):
            tr.write_line(f"govmail: {line}")
        for line in vantage_lines(self.run):
            tr.write_line(f"govmail: vantage point: {line}")
        vantage = self.run.vantage
        told = vantage.blind or vantage.blocked if vantage is not None else None
        if told:
            tr.write_line(
                f"govmail: {told}: {self.vantage_count} test(s) inconclusive for that one cause"
            )
        for line in named_lines(self.listed):
            tr.write_line(f"govmail: {line}")
        for line in waiver_lines(self.run):
            tr.write_line(f"govmail: {line}")
        missing = [r.id for r in self.catalogue if r.id not in self.collected_ids]
        if missing:
            tr.write_line(
                f"govmail: {len(missing)} catalogue requirement(s) not assessed in this run "
                f"(not implemented yet or deselected): {', '.join(missing)}"
            )

    @staticmethod
    def _worst(cell: Cell | None, stale: int) -> str:
        if cell is None:
            return worst({})
        return worst(cell.counts, cell.waived_failures, stale)


def vantage_lines(run: GovmailRun, look: bool = False) -> list[str]:
    """The vantage point in a line; with ``look``, a live run learns it now (the header is
    shown before collection starts)."""
    # Under pytest-xdist the worker that collects learns it, once for all (engine/sharing.py).
    live = look and run.replay is None and run.share is None
    vantage = run.look_around() if live else run.vantage
    return vantage.lines() if vantage is not None else []


def vantage_cause(run: GovmailRun) -> str:
    """The one cause every affected test names (a blind resolver first), or ``""``."""
    vantage = run.vantage
    if vantage is None:
        return ""
    return BLIND_CAUSE if vantage.blind else BLOCKED_CAUSE if vantage.port25_blocked else ""


def tallied_areas(catalogue: Catalogue, tally: dict[str, dict[str, Cell]]) -> list[str]:
    """The catalogue's areas, in its order, that any domain has a test in."""
    present = {area for by_area in tally.values() for area in by_area}
    return [a for a in catalogue.areas() if a in present]


def waiver_lines(run: GovmailRun) -> list[str]:
    """What happened to the waivers: each applied one, expired (no longer applied), unused.

    Each applied waiver is listed with its requirement, its domain (and host) pattern, how many
    tests it matched and its expiry, a glob flagged as covering more than one domain: a count
    alone ("7 waiver(s) applied") once let ``domain = "*"`` waive ten real failures unseen.
    The values were made inert when the file was read (:func:`pytest_govmail.inputs.waivers.inert`),
    so a reason cannot move the cursor or reverse the line it is printed on.
    """
    lines = []
    if run.waivers_applied:
        lines.append(f"{len(run.waivers_applied)} waiver(s) applied")
    for waiver in applied_waivers(run):
        uses = run.waiver_uses.get(waiver, 0)
        # A sweep's merged report knows which waivers applied but not to how many tests.
        tests = f"{uses} test(s)" if uses else "tests (count not recorded)"
        lines.append(f"waiver applied to {tests}: {waiver.listing()}")
    for waiver in sorted(run.waivers_expired, key=lambda w: w.source):
        lines.append(f"waiver EXPIRED, no longer applied: {waiver.describe()} ({waiver.source})")
    for waiver in run.unused_waivers():
        lines.append(f"waiver matches no test in this run: {waiver.describe()} ({waiver.source})")
    return lines


def applied_waivers(run: GovmailRun) -> list[Waiver]:
    """The waivers that applied to a test of this run, in the order of the file."""
    return [waiver for waiver in run.waivers if waiver in run.waivers_applied]


def tls_evidence_lines(scan: TlsScan) -> list[str]:
    """What a TLS scan saw, as lines a person can read: dialogue, protocol matrix, chain."""
    where = (
        f"[{scan.address}]:{scan.port}" if ":" in scan.address else f"{scan.address}:{scan.port}"
    )
    lines = [
        f"TLS scan of {scan.host} at {where}, {scan.at}: {scan.connections} connection(s), "
        f"{scan.handshakes} handshake(s), {scan.elapsed_ms:.0f} ms, profile {scan.profile}"
    ]
    lines += [f"  {_clip(scan.sharing, 300)}"] if scan.sharing else []
    if scan.error is not None:
        lines.append(f"  probe error: {_clip(scan.error.describe())}")
    if scan.smtp is not None:
        smtp = scan.smtp
        banner = smtp.banner if smtp.banner else f"(none; reply code {smtp.banner_code})"
        lines.append(f"  banner: {_clip(banner, 200)}")
        if smtp.ehlo:
            lines.append(f"  EHLO: {_clip(', '.join(smtp.ehlo), 300)}")
        if smtp.starttls_reply is not None:
            lines.append(f"  STARTTLS: {_clip(smtp.starttls_reply, 200)}")
    for probe in scan.versions:
        state = {True: "accepted", False: "refused", None: "unknown"}[probe.accepted]
        suites = f": {', '.join(probe.cipher_suites)}" if probe.cipher_suites else ""
        preferred = f" (server picks {probe.preferred})" if probe.preferred else ""
        detail = (
            f" ({_clip(probe.detail, 120)})" if probe.accepted is not True and probe.detail else ""
        )
        lines.append(f"  {probe.version.value:<8} {state}{detail}{suites}{preferred}")
    if scan.key_exchange is not None:
        kex = scan.key_exchange
        lines.append(
            f"  key exchange: {kex.kind} {kex.group or ''} {f'{kex.bits} bits' if kex.bits else ''}"
        )
    facts = {
        "compression": scan.compression,
        "secure renegotiation": scan.secure_renegotiation,
        "client renegotiation accepted": scan.client_renegotiation,
    }
    lines.append(
        "  " + ", ".join(f"{k}: {'unknown' if v is None else v}" for k, v in facts.items())
    )
    lines.extend(f"  {line}" for line in chain_lines(scan.chain_pem))
    for check in scan.trust:
        state = "validates" if check.verified else "does not validate"
        lines.append(f"  trust ({check.store}): {state}: {_clip(check.detail, 300)}")
    return lines


def chain_lines(chain_pem: tuple[str, ...]) -> list[str]:
    """The served chain, leaf first: subject, issuer, key, signature and validity dates."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    lines = []
    for index, pem in enumerate(chain_pem):
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
        except ValueError as exc:
            lines.append(f"certificate {index}: unreadable ({exc})")
            continue
        key = cert.public_key()
        size = key.key_size if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) else 0
        digest = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "-"
        kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else type(key).__name__
        lines.append(
            f"certificate {index}: {_clip(cert.subject.rfc4514_string(), 120)}; issuer "
            f"{_clip(cert.issuer.rfc4514_string(), 120)}; {kind} {size} bits; {digest}; "
            f"valid {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
        )
    return lines
