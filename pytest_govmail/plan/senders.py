"""The DNS questions REPORTS-01 needs: the PTR of the sources DMARC reports name, forward-checked.

GOV.UK's guidance has sending services keep valid PTR records; a DMARC aggregate report names
each source address that sent as the domain, and its PTR name (confirmed when that name
resolves back to the address) is what tells an assessor which service an address is. The
sources come from the reports the run was given (:class:`~pytest_govmail.model.feedback.Feedback`),
so the planner is made per run, as the DKIM planner is; only the :data:`MAX_SOURCES` largest
sources of each domain are asked, so a report naming a million addresses costs a bounded
number of questions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan import Planner
from pytest_govmail.records.ptr import MAX_PTR_NAMES, ptr_names, reverse_name

#: Sources of one domain whose PTR is asked (the judge lists the largest 20).
MAX_SOURCES = 25


def make_sender_planner(sources_by_domain: Mapping[str, Sequence[str]]) -> Planner:
    """The planner for a run whose reports name ``sources_by_domain`` (largest first)."""

    def sender_ptr_queries(target: Target, dns: DnsView) -> Iterable[Query]:
        for address in sources_by_domain.get(target.domain, ())[:MAX_SOURCES]:
            try:
                version = ipaddress.ip_address(address).version
            except ValueError:
                continue
            rname = reverse_name(address)
            yield Query.of(rname, "PTR")
            for name in ptr_names(dns.get(rname, "PTR"))[:MAX_PTR_NAMES]:
                yield Query.of(name, "A" if version == 4 else "AAAA")

    return sender_ptr_queries
