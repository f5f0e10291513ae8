"""The DNS questions DKIM-01..07 need: key records at ``<selector>._domainkey.<domain>``.

Which selectors are tried, and in what order, is
:func:`pytest_govmail.records.dkim_selectors.selectors_for` (the judges read the answers at the
same names, so the selector rules live there and are re-exported here). For DKIM-07 the planner
also asks for the key of *every* signature in the domain's sample messages (a signature by
``d=sendgrid.net`` needs ``s1._domainkey.sendgrid.net`` to be verified, though it says nothing
about the domain's own keys), and the DMARC record of each message's From domain, whose ``adkim``
says whether alignment is relaxed or strict (RFC 7489 section 3.1.1).

The questions are bounded: the selectors given, :data:`MAX_SIGNATURES_PER_MESSAGE` signatures a
message, and the dozen common selectors. A selector or ``d=`` that cannot form a DNS name is
never asked (see :func:`key_name`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.dns import DnsView, Query, normalise_name
from pytest_govmail.model.target import Target
from pytest_govmail.plan import Planner
from pytest_govmail.plan.dmarc import dmarc_queries
from pytest_govmail.records.dkim_selectors import (
    COMMON_SELECTORS,
    MAX_SIGNATURES_PER_MESSAGE,
    SOURCE_COMMON,
    SOURCE_GIVEN,
    key_name,
    message_source,
    selectors_for,
    signature_key_names,
)

__all__ = [
    "COMMON_SELECTORS",
    "MAX_SIGNATURES_PER_MESSAGE",
    "SOURCE_COMMON",
    "SOURCE_GIVEN",
    "assign_messages",
    "dkim_queries",
    "key_name",
    "make_dkim_planner",
    "message_source",
    "selectors_for",
    "signature_key_names",
]


def assign_messages(
    domains: Iterable[str], messages: Sequence[SampleMessage]
) -> tuple[dict[str, tuple[SampleMessage, ...]], tuple[SampleMessage, ...]]:
    """Which sample messages belong to which domain, and which belong to none.

    A message belongs to the domain of its RFC 5322.From address (the domain DMARC, and so
    DKIM-07, aligns against), exactly: a message from ``news.example.gov.uk`` is evidence about
    that domain, not about ``example.gov.uk``. Messages that could not be read or have no single
    From domain, and messages from a domain not assessed, are returned as the second item for
    the plugin to report.
    """
    wanted = {normalise_name(d) for d in domains}
    assigned: dict[str, list[SampleMessage]] = {}
    unassigned: list[SampleMessage] = []
    for message in messages:
        if message.error is None and message.from_domain in wanted:
            assigned.setdefault(message.from_domain, []).append(message)
        else:
            unassigned.append(message)
    return {d: tuple(m) for d, m in assigned.items()}, tuple(unassigned)


def make_dkim_planner(
    messages_by_domain: Mapping[str, Sequence[SampleMessage]],
    reported_selectors: Mapping[str, Mapping[str, str]] | None = None,
) -> Planner:
    """The DKIM planner for a run whose sample messages are ``messages_by_domain``
    (see :func:`assign_messages`) and whose DMARC reports showed ``reported_selectors``
    (domain -> selector -> where it was seen)."""

    def dkim_planner(target: Target, dns: DnsView) -> Iterable[Query]:
        messages = tuple(messages_by_domain.get(target.domain, ()))
        reported = (reported_selectors or {}).get(target.domain)
        queries: dict[Query, None] = {}
        for selector, _source in selectors_for(target, messages, reported):
            name = key_name(selector, target.domain)
            if name is not None:
                queries[Query.of(name, "TXT")] = None
        for name in signature_key_names(messages):
            queries[Query.of(name, "TXT")] = None
        from_domains = dict.fromkeys(m.from_domain for m in messages if m.from_domain)
        for domain in from_domains:
            for query in dmarc_queries(Target(domain), dns):
                queries[query] = None
        return list(queries)

    return dkim_planner


def dkim_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """DKIM-01..06 for a run without sample messages: the selectors given and the common list."""
    return make_dkim_planner({})(target, dns)
