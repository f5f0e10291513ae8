"""One run's state: its settings, targets, and the evidence it collects or replays.

The plugin keeps one :class:`GovmailRun` on ``config.stash``. It knows nothing of pytest itself:
it turns "these requirements were selected" into a plan (DNS planners, then TLS scans of the MX
addresses and MTA-STS policy fetches only when a selected requirement needs them), runs the
collectors (or hands back a replayed file), and builds the
:class:`~pytest_govmail.model.subject.Subject` each test judges.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pytest_govmail.engine import needs
from pytest_govmail.engine.ledger import RunLedger
from pytest_govmail.engine.settings import Settings, parse_nameserver
from pytest_govmail.engine.sharing import WorkerShare
from pytest_govmail.inputs.catalogue import Requirement, load_catalogue
from pytest_govmail.inputs.tls_profile import profile_input
from pytest_govmail.judge.roles import RoleFacts, infer_roles, nonexistence
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, DnsView, Query
from pytest_govmail.model.dnssec import DnssecChain
from pytest_govmail.model.feedback import Feedback
from pytest_govmail.model.https import PolicyFetch
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import TlsScan
from pytest_govmail.model.vantage import CANARY, Vantage
from pytest_govmail.plan import Planner
from pytest_govmail.plan.dkim import assign_messages, make_dkim_planner
from pytest_govmail.plan.mtasts import policy_requests
from pytest_govmail.plan.senders import make_sender_planner
from pytest_govmail.records.mx import address_pairs, host_addresses, mail_hosts

if TYPE_CHECKING:
    from pytest_govmail.collect.dns import DnsCollector
    from pytest_govmail.collect.tls import AddressScanner, ScanRequest
    from pytest_govmail.inputs.waivers import Horizon


def planner_name(planner: Planner) -> str:
    """A planner's stable name (workers compare what has been collected by name)."""
    return f"{planner.__module__}.{planner.__qualname__}"


#: The settled mark (see :meth:`GovmailRun.settled_marks`) holding the seconds spent collecting.
SECONDS_MARK = ":seconds="
#: ...and the seconds of each phase: DNS, TLS scans, MTA-STS policy fetches.
PHASES_MARK = ":phase-seconds="


@dataclass
class CollectStats:
    """Figures for the terminal and the benchmark: how much was asked and how long it took."""

    dns_queries: int = 0
    dns_failures: int = 0
    #: Distinct (address, port) scanned, the MX names served on them, and what they cost.
    tls_addresses: int = 0
    tls_names: int = 0
    tls_handshakes: int = 0
    tls_connections: int = 0
    policies: int = 0
    #: Wall time collecting, all phases together (they overlap: scans run during DNS)...
    seconds: float = 0.0
    #: ...and per phase, each from its start to its end.
    dns_seconds: float = 0.0
    tls_seconds: float = 0.0
    policy_seconds: float = 0.0
    phases: list[str] = field(default_factory=list)


class GovmailRun(RunLedger):
    """Targets plus evidence: collected live through the collectors, or read from files.

    Built whole by the plugin from the options: ``inputs`` are the user's waiver and attestation
    files as (source, text), which override those a replayed run carries, and are parsed here
    against ``requirement_ids`` (raising ``WaiverError`` or ``AttestationError``); ``progress``
    is called with a line of news while collecting; ``share`` is set under pytest-xdist (see
    :mod:`pytest_govmail.engine.sharing`); ``scan_during_dns`` starts the TLS scans of each
    domain's MX addresses while DNS still answers for the rest (a full assessment scans them
    anyway; a selection such as ``-m dmarc`` must not); ``waiver_horizon`` holds the user's
    waivers to a latest expiry (see :func:`pytest_govmail.plugin.options.waiver_horizon`);
    ``feedback`` holds what the DMARC aggregate and TLS-RPT reports given said of each domain
    (their per-domain totals, stored in the evidence; a replay judges with those it carries
    unless the user gives reports again), whose DKIM selectors and sources the DKIM and sender
    planners then ask about too.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        settings: Settings,
        replay: evidence_file.Evidence | None = None,
        messages: Sequence[SampleMessage] = (),
        *,
        inputs: Mapping[str, tuple[str, str]] | None = None,
        requirement_ids: Collection[str] | None = None,
        progress: Callable[[str], None] | None = None,
        share: WorkerShare | None = None,
        scan_during_dns: bool = False,
        waiver_horizon: Horizon | None = None,
        feedback: Feedback | None = None,
    ) -> None:
        # A replay judges with the inputs of the run it replays, unless the user gives others.
        super().__init__({**(replay.inputs if replay else {}), **(inputs or {})})
        # The TLS profile judging uses is an input too, stored in the evidence: the user's, or
        # the packaged one on a live run; a replay keeps the one it carries unless given another.
        if settings.tls_profile is not None or replay is None:
            self.inputs["tls_profile"] = profile_input(settings.tls_profile)
        if requirement_ids is not None:
            self.parse_inputs(requirement_ids, waiver_horizon)
        self.targets = tuple(targets)
        self.settings = settings
        self.replay = replay
        self.stats = CollectStats()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._snapshot = replay.dns if replay is not None else DnsSnapshot()
        self.tls: dict[tuple[str, str], TlsScan] = dict(replay.tls) if replay else {}
        self.policies: dict[str, PolicyFetch] = dict(replay.policies) if replay else {}
        self.dnssec: dict[Query, DnssecChain] = dict(replay.dnssec) if replay else {}
        self._dnssec_done = replay is not None
        self._dnssec_label = ""
        self._dnssec_questions = 0
        self.messages = tuple(replay.messages if replay is not None else messages)
        by_domain, self.unassigned_messages = assign_messages(
            (t.domain for t in self.targets), self.messages
        )
        self.messages_by_domain: Mapping[str, tuple[SampleMessage, ...]] = by_domain
        # A replay judges with the reports of the run it replays, unless the user gives others.
        if feedback is None and replay is not None:
            feedback = replay.feedback
        self.feedback = feedback if feedback is not None else Feedback()
        self._dkim_planner = make_dkim_planner(
            by_domain, {d: f.selectors for d, f in self.feedback.domains.items()}
        )
        self._sender_planner = make_sender_planner(
            {
                d: tuple(dict.fromkeys(row.source_ip for row in f.senders))
                for d, f in self.feedback.domains.items()
            }
        )
        self._collector: DnsCollector | None = None
        self._settled: set[str] = set()  # planner names, so workers can share them
        self._roles: dict[str, RoleFacts] = {}
        self._nxdomain: dict[str, DnsResult | None] = {}
        self._ready: set[str] = set()  # requirement IDs whose evidence is complete
        self.progress = progress
        self._subjects: dict[tuple[str, str | None], Subject] = {}
        self.share = share
        self._tls_done = replay is not None
        self._policies_done = replay is not None
        self.scan_during_dns = scan_during_dns
        #: Scans started during DNS and still running (with their start time): they finish while
        #: pytest makes the tests, whose parametrisation needs only DNS; ``ensure`` waits.
        self._running_scans: tuple[AddressScanner, float] | None = None
        #: What this machine could see (routes, port 25, the resolver's canary); a replay has
        #: the one its evidence carries, or none. Learnt when collecting starts.
        self._vantage_lock = threading.Lock()  # DNS's thread adds unrouted addresses
        self._routes: dict[str, bool] = {}  # MX address -> the kernel has a route to it
        self.vantage: Vantage | None = (
            Vantage.from_settings(replay.settings) if replay is not None else None
        )

    @property
    def snapshot(self) -> DnsSnapshot:
        return self._snapshot

    @property
    def collected_at(self) -> datetime:
        """When the evidence was collected: judges date certificates and keys against this."""
        text = self.replay.started_at if self.replay is not None else self.started_at
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return datetime.now(UTC)

    @property
    def resolver_label(self) -> str:
        if self.replay is not None:
            return "replay of " + self.replay.settings.get("resolver", "saved evidence")
        return self._dns_collector().resolver_label

    def _dns_collector(self) -> DnsCollector:
        if self._collector is None:
            # Imported here so that replay never loads the network stack at all.
            from pytest_govmail.collect.dns import DnsCollector, Nameserver

            servers = [parse_nameserver(s) for s in self.settings.nameservers]
            self._collector = DnsCollector(
                [Nameserver(a, p) for a, p in servers],
                timeout=self.settings.timeout,
                concurrency=self.settings.concurrency,
            )
        return self._collector

    def planners_for(self, groups: Iterable[str]) -> tuple[Planner, ...]:
        """The planners of these DNS groups, with this run's own for ``dkim`` and ``senders``."""
        return needs.planners_for(
            set(groups), {"dkim": self._dkim_planner, "senders": self._sender_planner}
        )

    def ensure(self, requirements: Collection[Requirement]) -> None:
        """Collect what ``requirements`` need for every target, asking nothing twice.

        DNS first (every question their records' planner groups want, to a fixed point), then TLS
        scans of the MX addresses and MTA-STS policy fetches, each only when a selected requirement
        needs them: a DMARC-only run starts no TLS scan. Replay collects nothing.
        """
        ids = {r.id for r in requirements}
        if self.replay is not None or ids <= self._ready:
            return
        areas = needs.dns_groups(requirements)
        tls = needs.needs_tls(requirements)
        policies = needs.needs_policy(requirements)
        if self._pending(areas, tls, policies):
            with self._collecting(), without_gc_pauses():
                self.look_around()
                self._ensure_dns(areas, scan_tls=tls)
                if "dnssec" in areas and not self._dnssec_done:
                    self._validate_dnssec()
                self._contact_servers(
                    tls and not self._tls_done, policies and not self._policies_done
                )
        self._ready |= ids

    def _contact_servers(self, tls: bool, policies: bool) -> None:
        """TLS scans of the MX addresses and MTA-STS policy fetches, side by side.

        They are independent (the judges, not the collectors, combine them), so a slow web
        server's timeout runs while the mail servers are scanned rather than after them.
        """
        if not (tls or policies):
            return
        start = time.perf_counter()
        if tls and policies:
            from concurrent.futures import ThreadPoolExecutor

            # Both collectors are imported here, in this thread, before two threads could import
            # them at once: under pytest our modules load through assertion rewriting, and
            # CPython 3.11 can raise "AST constructor recursion depth mismatch" when two threads
            # parse at the same time (pytest-dev/pytest#10763, python/cpython#106905).
            import pytest_govmail.collect.https
            import pytest_govmail.collect.tls  # noqa: F401

            with ThreadPoolExecutor(1, thread_name_prefix="govmail-https") as pool:
                fetching = pool.submit(self._fetch_policies)
                self._scan_tls()
                fetching.result()
        elif tls:
            self._scan_tls()
        else:
            self._fetch_policies()
        self.stats.seconds += time.perf_counter() - start

    def ensure_dns(self, areas: Collection[str]) -> None:
        """DNS for these planner groups only (the MX host list that parametrises host tests)."""
        if self.replay is None and self._pending(set(areas), False, False):
            with self._collecting(), without_gc_pauses():
                self.look_around()
                self._ensure_dns(set(areas), scan_tls=True)

    def look_around(self) -> Vantage:
        """Learn the vantage point once, before the first question: the routes this machine
        has and whether its resolver sees the public DNS (one canary question). Port 25 is
        learnt from the scans themselves (:meth:`_finish_tls`). See
        :mod:`pytest_govmail.collect.vantage`."""
        if self.vantage is not None:
            return self.vantage
        from pytest_govmail.collect.vantage import (
            canary_planner,
            family_routes,
            resolver_canary,
        )

        answered = None
        if self.targets:
            found = self._dns_collector().settle_sync(self.targets[:1], [canary_planner])
            answered = found.get(CANARY.name, CANARY.rdtype)
        canary, blind = resolver_canary(answered)
        self.vantage = Vantage(
            ip_version=self.settings.ip_version,
            routes=family_routes(),
            resolver=self.resolver_label,
            canary=canary,
            canary_failed=blind,
        )
        return self.vantage

    def _probed(self, address: str) -> bool:
        """Whether this machine probes ``address`` (``--govmail-ip-version``); in ``auto``, an
        address the kernel has no route to is noted in the vantage point and left out."""
        vantage = self.look_around()
        if vantage.not_probed(address) is not None:
            return False
        if vantage.ip_version != "auto":
            return True
        from pytest_govmail.collect.vantage import routable

        known = self._routes.get(address)
        if known is None:
            # A sweep's shared provider addresses serve thousands of domains: ask once each.
            known = self._routes[address] = routable(address)
        if known:
            return True
        with self._vantage_lock:
            self.vantage = replace(
                self.vantage or vantage, unrouted=(self.vantage or vantage).unrouted | {address}
            )
        return False

    def _pending(self, areas: set[str], tls: bool, policies: bool) -> bool:
        names = {planner_name(p) for p in self.planners_for(areas)}
        return (
            bool(names - self._settled)
            or ("dnssec" in areas and not self._dnssec_done)
            or (tls and not self._tls_done)
            or (policies and not self._policies_done)
        )

    def _collecting(self) -> AbstractContextManager[None]:
        """Under pytest-xdist, collect once for all workers; otherwise just collect."""
        return self.share.collecting(self) if self.share is not None else nullcontext()

    def settled_marks(self) -> list[str]:
        """What this run has settled: planner names, ``:tls`` and ``:policies``."""
        done = sorted(self._settled)
        done += [":tls"] if self._tls_done else []
        done += [":policies"] if self._policies_done else []
        done += [":dnssec"] if self._dnssec_done else []
        # The time spent collecting so far, by every worker: the controller, which collects
        # nothing itself, reports it (it said "collected in 0.00 s" before).
        done += [f"{SECONDS_MARK}{self.stats.seconds:.3f}"]
        stats = self.stats
        done += [f"{PHASES_MARK}{stats.dns_seconds:.3f},{stats.tls_seconds:.3f},"
                 f"{stats.policy_seconds:.3f}"]  # fmt: skip
        return done

    def resume(self, saved: evidence_file.Evidence, marks: Collection[str]) -> None:
        """Carry on from evidence another worker collected, with what it had settled."""
        self.adopt(saved)
        self._settled.update(m for m in marks if not m.startswith(":"))
        self._tls_done = self._tls_done or ":tls" in marks
        self._policies_done = self._policies_done or ":policies" in marks
        self._dnssec_done = self._dnssec_done or ":dnssec" in marks
        self._dns_collector().preload(saved.dns)

    def adopt(self, saved: evidence_file.Evidence) -> None:
        """Take over evidence another process collected for this run (pytest-xdist)."""
        self._snapshot = saved.dns
        self.vantage = Vantage.from_settings(saved.settings) or self.vantage
        self.tls.update(saved.tls)
        self.policies.update(saved.policies)
        self.dnssec.update(saved.dnssec)
        self._dnssec_label = saved.settings.get("dnssec", self._dnssec_label)
        with suppress(ValueError):
            self._dnssec_questions = int(saved.settings.get("dnssec_questions", "0"))
        self._forget()
        self.stats.dns_queries, self.stats.dns_failures = _counts(saved.dns)
        self._count_tls()
        self.stats.policies = len(self.policies)
        marks = saved.settings.get("collected", "").split()
        for mark in marks:
            if mark.startswith(SECONDS_MARK):
                with suppress(ValueError):
                    seconds = float(mark.removeprefix(SECONDS_MARK))
                    self.stats.seconds = max(self.stats.seconds, seconds)
            if mark.startswith(PHASES_MARK):
                with suppress(ValueError):
                    dns, tls, https = map(float, mark.removeprefix(PHASES_MARK).split(","))
                    self.stats.dns_seconds = max(self.stats.dns_seconds, dns)
                    self.stats.tls_seconds = max(self.stats.tls_seconds, tls)
                    self.stats.policy_seconds = max(self.stats.policy_seconds, https)

    def _ensure_dns(self, areas: set[str], scan_tls: bool) -> None:
        """Ask the planners of ``areas`` to a fixed point; with ``scan_tls`` (and
        ``scan_during_dns``), scan each domain's MX addresses as soon as DNS has settled it."""
        planners = [p for p in self.planners_for(areas) if planner_name(p) not in self._settled]
        if not planners:
            return
        start = time.perf_counter()
        self._say(f"asking DNS for {len(self.targets)} domain(s)")
        scanner = None
        on_settled = None
        if self.scan_during_dns and scan_tls and not self._tls_done and self._running_scans is None:
            scanner = self._tls_scanner()
            self._say("scanning TLS on each domain's MX addresses as DNS finds them")

            def on_settled(target: Target, dns: DnsView) -> None:
                assert scanner is not None
                scanner.submit(self._scan_requests((target,), dns))

        self._snapshot = self._dns_collector().settle_sync(
            self.targets, planners, progress=self.progress, on_settled=on_settled
        )
        self._forget()
        self.stats.seconds += time.perf_counter() - start
        self.stats.dns_queries, self.stats.dns_failures = _counts(self._snapshot)
        self.stats.dns_seconds += time.perf_counter() - start
        self.stats.phases.append("dns:" + ",".join(sorted(areas)))
        self._say(
            f"DNS: {self.stats.dns_queries} answers ({self.stats.dns_failures} failed) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        self._settled.update(planner_name(p) for p in planners)
        if scanner is not None:
            scanner.submit(self._scan_requests(self.targets, self._snapshot))
            if self.share is None:
                # A mute mail server's timeout then runs beside pytest making the tests.
                self._running_scans = (scanner, start)
            else:
                # Under pytest-xdist the other workers wait for this one's evidence: all of it.
                waited = time.perf_counter()
                self._finish_tls(scanner, start)
                self.stats.seconds += time.perf_counter() - waited

    def _tls_scanner(self) -> AddressScanner:
        from pytest_govmail.collect.tls import AddressScanner, TlsScanSettings, default_ehlo_name
        from pytest_govmail.collect.vantage import Port25Watch

        return AddressScanner(
            TlsScanSettings(
                timeout=self.settings.timeout,
                greeting_timeout=self.settings.greeting_timeout,
                ehlo_name=self.settings.ehlo_name or default_ehlo_name(),
                ca_file=self.settings.ca_file,
                connections_per_address=self.settings.connections_per_address,
                allow_private=self.settings.allow_private,
                profile_name=self.tls_profile.id,
            ),
            watch=Port25Watch(self.settings.smtp_port),
        )

    def _scan_requests(self, targets: Iterable[Target], dns: DnsView) -> list[ScanRequest]:
        from pytest_govmail.collect.tls import ScanRequest

        return [
            ScanRequest(host, address, self.settings.smtp_port)
            for host, address in address_pairs(targets, dns)
            if (host, address) not in self.tls and self._probed(address)
        ]

    def _finish_running_scans(self) -> bool:
        """Wait for the scans started during DNS, if any are still running; True if there were."""
        if self._running_scans is None:
            return False
        scanner, start = self._running_scans
        self._running_scans = None
        self._finish_tls(scanner, start)
        return True

    def _scan_tls(self) -> None:
        if self._finish_running_scans():
            return
        start = time.perf_counter()
        scanner = self._tls_scanner()
        requests = self._scan_requests(self.targets, self._snapshot)
        self._say(f"scanning TLS on {len(requests)} MX address(es)")
        scanner.submit(requests)
        self._finish_tls(scanner, start)

    def _finish_tls(self, scanner: AddressScanner, start: float) -> None:
        """Wait for the scans, and keep them."""
        self.tls.update(scanner.results())
        self._note_port25()
        self._forget()
        self._tls_done = True
        self._count_tls()
        self.stats.tls_seconds += time.perf_counter() - start
        self.stats.phases.append("tls")
        self._say(
            f"TLS: {self.stats.tls_addresses} address(es), {self.stats.tls_handshakes} "
            f"handshakes in {time.perf_counter() - start:.1f} s"
        )

    def _count_tls(self) -> None:
        scans = self.tls.values()
        self.stats.tls_addresses = len({(s.address, s.port) for s in scans})
        self.stats.tls_names = len(self.tls)
        self.stats.tls_handshakes = sum(s.handshakes for s in scans)
        self.stats.tls_connections = sum(s.connections for s in scans)

    def _note_port25(self) -> None:
        """Whether outbound port 25 answered, looks blocked, or cannot be told, from the scans."""
        if self.vantage is None or self.replay is not None:
            return
        from pytest_govmail.collect.vantage import port25_state

        state, detail = port25_state(self.tls.values(), self.settings.smtp_port)
        self.vantage = replace(self.vantage, port25=state, port25_detail=detail)
        if self.vantage.port25_blocked:
            self._say(f"{self.vantage.blocked}: the TLS tests cannot be judged from here")

    def _validate_dnssec(self) -> None:
        """Validate the answers DNSSEC-01 and DANE-01 rest on (see
        :mod:`pytest_govmail.collect.dnssec`), from the trust anchors or a trusted resolver."""
        from pytest_govmail.collect.dnssec import DnssecValidator, load_trust_anchors
        from pytest_govmail.plan.dnssec import validated_queries

        start = time.perf_counter()
        queries = [
            q for q in validated_queries(self.targets, self._snapshot) if q not in self.dnssec
        ]
        trusted = self.settings.trusted_resolver
        servers = [
            parse_nameserver(s) for s in ([trusted] if trusted else self.settings.nameservers)
        ]
        validator = DnssecValidator(
            servers,
            load_trust_anchors(self.settings.trust_anchor),
            timeout=self.settings.timeout,
            trusted_resolver=trusted is not None,
        )
        self._dnssec_label = validator.label
        self._say(f"DNSSEC: validating {len(queries)} answer(s) from {validator.label}")
        self.dnssec.update(validator.validate_sync(queries))
        self._dnssec_questions += validator.questions
        self._forget()
        self._dnssec_done = True
        self.stats.seconds += time.perf_counter() - start
        self.stats.phases.append("dnssec")
        self._say(f"DNSSEC: {len(queries)} answer(s) in {time.perf_counter() - start:.1f} s")

    def _fetch_policies(self) -> None:
        from pytest_govmail.collect.https import fetch_policies

        start = time.perf_counter()
        requests = [
            r for r in policy_requests(self.targets, self._snapshot) if r[0] not in self.policies
        ]
        self.policies.update(
            fetch_policies(
                requests,
                port=self.settings.https_port,
                timeout=self.settings.timeout,
                ca_file=self.settings.ca_file,
                allow_private=self.settings.allow_private,
            )
        )
        self._forget()
        self._policies_done = True
        self.stats.policies = len(self.policies)
        self.stats.policy_seconds += time.perf_counter() - start
        self.stats.phases.append("https")
        self._say(
            f"MTA-STS: {len(requests)} policy fetch(es) in {time.perf_counter() - start:.1f} s"
        )

    def hosts(self, target: Target) -> tuple[str, ...] | None:
        """The MX hosts of a target from the evidence (None when the MX lookup failed)."""
        return mail_hosts(target, self._snapshot)

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def _forget(self) -> None:
        """Subjects and roles are built from the evidence: drop them when it grows."""
        self._roles.clear()
        self._nxdomain.clear()
        self._subjects.clear()

    def nxdomain(self, domain: str) -> DnsResult | None:
        """The NXDOMAIN answer showing that ``domain`` does not exist, or None (see
        :func:`~pytest_govmail.judge.roles.nonexistence`); worked out once per domain."""
        if domain not in self._nxdomain:
            self._nxdomain[domain] = nonexistence(self._snapshot, domain)
        return self._nxdomain[domain]

    @property
    def nonexistent(self) -> list[str]:
        """The targets whose own name does not exist, for the terminal, JUnit and the page."""
        return [t.domain for t in self.targets if self.nxdomain(t.domain) is not None]

    def roles(self, subject: Subject) -> RoleFacts:
        """A domain's roles, inferred once per run (they depend only on its evidence)."""
        facts = self._roles.get(subject.domain)
        if facts is None:
            facts = self._roles[subject.domain] = infer_roles(subject)
        return facts

    def subject(self, target: Target, host: str | None = None) -> Subject:
        """What a test of ``target`` (and ``host``) judges; built once per (domain, host)."""
        key = (target.domain, host)
        cached = self._subjects.get(key)
        if cached is None:
            cached = self._subjects[key] = self._build_subject(target, host)
        return cached

    def _build_subject(self, target: Target, host: str | None) -> Subject:
        tls: dict[str, tuple[TlsScan, ...]] = {}
        for mx_host in mail_hosts(target, self._snapshot) or ():
            scans = tuple(
                self.tls[(mx_host, address)]
                for _rdtype, address in host_addresses(mx_host, self._snapshot)
                if (mx_host, address) in self.tls
            )
            if scans:
                tls[mx_host] = scans
        policy = self.policies.get(target.domain)
        return Subject(
            target=target,
            dns=self._snapshot,
            host=host,
            now=self.collected_at,
            tls_profile=self.tls_profile,
            cert_expiry_days=self.settings.cert_expiry_days,
            tls=tls,
            policies={target.domain: policy} if policy is not None else {},
            messages=self.messages_by_domain.get(target.domain, ()),
            attestations=tuple(a for a in self.attestations if a.covers(target.domain)),
            vantage=self.vantage,
            dnssec=self.dnssec,
            retired=self.retired,
            feedback=self.feedback.for_domain(target.domain),
        )

    def to_evidence(self) -> evidence_file.Evidence:
        self._finish_running_scans()  # a run that ended before its tests needed them
        settings = {
            "resolver": self.resolver_label,
            "timeout": f"{self.settings.timeout:g}",
            "greeting_timeout": f"{self.settings.greeting_timeout:g}",
            "smtp_port": str(self.settings.smtp_port),
            "https_port": str(self.settings.https_port),
        }
        if self._dnssec_label:
            settings["dnssec"] = self._dnssec_label
            settings["dnssec_questions"] = str(self._dnssec_questions)
        if self.vantage is not None:
            settings.update(self.vantage.settings())
        if self.replay is not None:
            settings = dict(self.replay.settings)
        return evidence_file.Evidence(
            targets=self.targets,
            dns=self._snapshot,
            settings=settings,
            generator=evidence_file.generator_versions(),
            started_at=self.replay.started_at if self.replay is not None else self.started_at,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            inputs=self.inputs,
            tls=dict(self.tls),
            policies=dict(self.policies),
            messages=self.messages,
            dnssec=dict(self.dnssec),
            catalogue_version=load_catalogue().version,
            feedback=self.feedback if self.feedback.files or self.feedback.domains else None,
        )


def _counts(snapshot: DnsSnapshot) -> tuple[int, int]:
    """Answers and failed answers, the resolver's canary question left out (the lab, an
    authoritative-only server, refuses it: that is not one of the domains' failures)."""
    answers = [r for r in snapshot if (r.name, r.rdtype) != CANARY]
    return len(answers), sum(1 for r in answers if r.error is not None)


@contextmanager
def without_gc_pauses() -> Iterator[None]:
    """No cyclic garbage collection while probes are in flight.

    A full collection stops every thread, and its pause grows with the objects alive: in a
    10,000-domain run (pytest's objects, 200,000 answers) one took about 3 s. Every question in
    flight then outlived its 2 s timeout, and asyncio, reading one datagram per socket per
    loop pass, fired the timers before it read the answers waiting in the sockets: 152 answers
    recorded as timeouts, among them the A records of 14 shared provider hosts, whose TLS was
    then never scanned (85,000 tests inconclusive). Collecting makes almost no cyclic garbage
    (of the 15 passes over 0.2 s in a 10,000-domain collection, two freed 40 and 688 objects
    and the others none), so the collector waits until the probes are done.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
