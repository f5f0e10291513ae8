"""One run's state: its settings, targets, and the evidence it collects or replays.

The plugin keeps one :class:`GovmailRun` on ``config.stash``. It knows nothing of pytest itself:
it turns "these requirement areas were selected" into planners, runs the collector (or hands back
a replayed file), and builds the :class:`~pytest_govmail.model.Subject` each test judges.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pytest_govmail import evidence as evidence_file
from pytest_govmail.attestations import Attestation
from pytest_govmail.model import DnsSnapshot, Subject, Target
from pytest_govmail.plan import Planner
from pytest_govmail.plan.base import mail_hosts, mx_queries, park_queries, ptr_queries, role_queries
from pytest_govmail.plan.dmarc import dmarc_queries, mtasts_queries, tlsrpt_queries
from pytest_govmail.plan.spf import spf_queries
from pytest_govmail.waivers import Waiver, WaiverMatch

if TYPE_CHECKING:
    from pytest_govmail.collect.dns import DnsCollector

#: What each requirement area needs asked. Every run also asks what role inference needs.
PLANNERS_BY_AREA: dict[str, tuple[Planner, ...]] = {
    "mx": (mx_queries,),
    "spf": (spf_queries,),
    "dmarc": (dmarc_queries,),
    "tlsrpt": (tlsrpt_queries,),
    "mtasts": (mtasts_queries,),
    "park": (park_queries, dmarc_queries, spf_queries),
    "ptr": (ptr_queries,),
}


def planners_for(areas: Iterable[str]) -> tuple[Planner, ...]:
    chosen: list[Planner] = [role_queries]
    for area in sorted(set(areas)):
        for planner in PLANNERS_BY_AREA.get(area, ()):
            if planner not in chosen:
                chosen.append(planner)
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class Settings:
    """What the user asked for, after options, ini keys and the demo's defaults are combined."""

    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0
    concurrency: int = 200


@dataclass
class CollectStats:
    """Figures for the terminal and the benchmark: how much was asked and how long it took."""

    dns_queries: int = 0
    dns_failures: int = 0
    seconds: float = 0.0
    phases: list[str] = field(default_factory=list)


class GovmailRun:
    """Targets plus evidence: collected live through a DNS collector, or read from files."""

    def __init__(
        self,
        targets: Sequence[Target],
        settings: Settings,
        replay: evidence_file.Evidence | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.settings = settings
        self.replay = replay
        self.waivers: tuple[Waiver, ...] = ()
        self.attestations: tuple[Attestation, ...] = ()
        self.inputs: dict[str, tuple[str, str]] = {}
        self.waivers_applied: set[Waiver] = set()
        self.waivers_expired: set[Waiver] = set()
        self.stats = CollectStats()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._snapshot = replay.dns if replay is not None else DnsSnapshot()
        self._collector: DnsCollector | None = None
        self._settled: set[Planner] = set()

    @property
    def snapshot(self) -> DnsSnapshot:
        return self._snapshot

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

    def ensure(self, areas: Collection[str]) -> DnsSnapshot:
        """Collect what ``areas`` need for every target (nothing is asked twice); replay: no-op."""
        if self.replay is not None:
            return self._snapshot
        planners = [p for p in planners_for(areas) if p not in self._settled]
        if not planners:
            return self._snapshot
        collector = self._dns_collector()
        start = time.perf_counter()
        self._snapshot = collector.settle_sync(self.targets, planners)
        self.stats.seconds += time.perf_counter() - start
        self.stats.dns_queries = len(self._snapshot)
        self.stats.dns_failures = sum(1 for r in self._snapshot if r.error is not None)
        self.stats.phases.append(",".join(sorted(areas)) or "roles")
        self._settled.update(planners)
        return self._snapshot

    def hosts(self, target: Target) -> tuple[str, ...] | None:
        """The MX hosts of a target from the evidence (None when the MX lookup failed)."""
        return mail_hosts(target, self._snapshot)

    def subject(self, target: Target, host: str | None = None) -> Subject:
        return Subject(
            target=target,
            dns=self._snapshot,
            host=host,
            attestations=tuple(a for a in self.attestations if a.covers(target.domain)),
        )

    def note_waiver(self, match: WaiverMatch) -> None:
        """Remember which waivers matched a test, for the report's waiver summary."""
        if match.applied is not None:
            self.waivers_applied.add(match.applied)
        if match.expired is not None:
            self.waivers_expired.add(match.expired)

    def unused_waivers(self) -> list[Waiver]:
        used = self.waivers_applied | self.waivers_expired
        return [w for w in self.waivers if w not in used]

    def to_evidence(self) -> evidence_file.Evidence:
        settings = {
            "resolver": self.resolver_label,
            "timeout": f"{self.settings.timeout:g}",
        }
        if self.replay is not None:
            settings = dict(self.replay.settings)
        return evidence_file.Evidence(
            targets=self.targets,
            dns=self._snapshot,
            settings=settings,
            generator=evidence_file.generator_versions(),
            started_at=self.started_at,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            inputs=self.inputs,
        )


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address as (address, port)."""
    import ipaddress

    raw = text.strip()
    address, port = raw, 53
    if raw.startswith("["):
        address, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected [IPv6]:PORT")
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        address, _, port_text = raw.partition(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (give IP or IP:PORT)") from None
    return address, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: {text!r} is not a port number (1-65535)")
    return int(text)
