"""The DNS questions SPF judging needs (SPF-01..07, PARK-01), given the answers known so far.

The planner runs the same walk as the judges (:func:`pytest_govmail.records.spf.walk_spf`) and
returns every question the resulting tree rests on: the domain's TXT first; once that answer
holds exactly one SPF record that parses, the TXT of each ``include`` and ``redirect`` target, A
and AAAA of ``a`` targets, MX of ``mx`` targets and then A and AAAA of each exchange (at most 10
per ``mx`` term), and A of ``exists`` targets. ``ptr`` and targets with macros need a client and
are never asked. The walk detects loops and stops after a bounded number of terms and levels, so
iterating this planner to a fixed point always terminates.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.records.spf import walk_spf


def spf_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """Every question needed to judge SPF for ``target.domain``, answered or not."""
    return walk_spf(target.domain, dns).queries()
