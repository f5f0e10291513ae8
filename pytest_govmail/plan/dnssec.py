"""What DNSSEC validation covers: the answers the verdicts rest on most (RFC 9364 section 2).

A domain's DNSSEC-01 verdict rests on its MX answer (where its mail goes) and its DMARC record
(``_dmarc.<domain>``); DANE-01 rests on each mail host's TLSA answer, which RFC 7672 section 2.2
lets a sender use only when it is DNSSEC-validated. These answers are asked as usual by the
planner group ``dnssec`` (:func:`dnssec_queries`); :func:`validated_queries` then lists, from
what was collected, the ones the DNSSEC walk validates (TLSA only where records exist: a host
without TLSA needs no proof for DANE-01, which does not apply to it).
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.dnssec import domain_answers
from pytest_govmail.model.target import Target
from pytest_govmail.plan.base import mx_queries
from pytest_govmail.plan.dane import tlsa_name
from pytest_govmail.records.mx import is_ip_literal, mail_hosts


def dnssec_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """The planner of the ``dnssec`` group: MX (and the hosts' addresses), the DMARC TXT, and
    TLSA at each mail host, so that :func:`validated_queries` knows which exist."""
    queries = [*mx_queries(target, dns), *domain_answers(target.domain)]
    for host in mail_hosts(target, dns) or ():
        if not is_ip_literal(host):
            queries.append(Query.of(tlsa_name(host), "TLSA"))
    return queries


def validated_queries(targets: Iterable[Target], dns: DnsView) -> list[Query]:
    """Every answer the DNSSEC walk validates for ``targets``, each once, in order."""
    wanted: dict[Query, None] = {}
    for target in targets:
        wanted.update(dict.fromkeys(domain_answers(target.domain)))
        for host in mail_hosts(target, dns) or ():
            if is_ip_literal(host):
                continue
            tlsa = dns.get(tlsa_name(host), "TLSA")
            if tlsa is not None and tlsa.records:
                wanted[Query.of(tlsa_name(host), "TLSA")] = None
    return list(wanted)
