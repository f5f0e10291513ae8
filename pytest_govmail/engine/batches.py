"""Slices of a run's evidence: the evidence some of its targets rest on.

``govmail-sweep`` replays a sweep in batches of domains, each from a file holding only what its
domains rest on, so that no process holds every domain's tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pytest_govmail.engine import needs
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dns import DnsSnapshot, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan.dkim import assign_messages
from pytest_govmail.plan.dnssec import validated_queries
from pytest_govmail.records.mx import address_pairs

if TYPE_CHECKING:
    from pytest_govmail.engine.run import GovmailRun


def questions(run: GovmailRun, targets: Sequence[Target]) -> set[Query]:
    """Every DNS question this run's planners ask for ``targets`` given all its answers: the
    questions a live run of those domains would have asked (what their verdicts can name)."""
    asked: set[Query] = set()
    for planner in run.planners_for(needs.all_dns_groups()):
        for target in targets:
            asked.update(planner(target, run.snapshot))
    return asked


def evidence_of(
    run: GovmailRun, targets: Sequence[Target], asked: set[Query] | None = None
) -> evidence_file.Evidence:
    """The part of this run's evidence that ``targets`` rest on, for a replay of them alone.

    A DNS answer belongs to it when a planner asks for it for one of ``targets`` given all
    the answers: the same questions a live run of those domains would have asked, a shared
    provider's records included. Planners are functions of the answers, and here every
    answer is already known, so one pass per target finds them all. TLS scans of their MX
    addresses, their MTA-STS policies, their sample messages and the DNSSEC validations of
    their answers (those a live run of them would have made) and what the DMARC and TLS-RPT
    reports said of them go with them. ``govmail-sweep``
    replays a sweep in batches of these, so that no process holds every domain's tests.
    ``asked`` is :func:`questions` of the same targets, when the caller has it already.
    """
    full = run.to_evidence()
    wanted = questions(run, targets) if asked is None else asked
    dns = DnsSnapshot(r for r in run.snapshot if r.query in wanted)
    domains = {t.domain for t in targets}
    by_domain, unassigned = assign_messages(domains, run.messages)
    kept = {id(m) for m in unassigned} | {id(m) for ms in by_domain.values() for m in ms}
    validated = validated_queries(targets, run.snapshot)
    return replace(
        full,
        targets=tuple(targets),
        dns=dns,
        tls={p: run.tls[p] for p in address_pairs(targets, dns) if p in run.tls},
        policies={d: f for d, f in run.policies.items() if d in domains},
        messages=tuple(m for m in run.messages if id(m) in kept),
        dnssec={q: run.dnssec[q] for q in validated if q in run.dnssec},
        # What the DMARC and TLS-RPT reports said of these domains; the counts of files read
        # and refused stay the run's (a domain with no report says so only when files were read).
        feedback=(
            replace(
                full.feedback,
                domains={d: f for d, f in full.feedback.domains.items() if d in domains},
            )
            if full.feedback is not None
            else None
        ),
    )
