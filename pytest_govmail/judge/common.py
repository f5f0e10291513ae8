"""Helpers shared by the judges: an answer from the evidence, or why there is none.

:func:`show_value` lives in :mod:`pytest_govmail.model.text` (record parsers use it too, and may
not import a judge); it is re-exported here for the judges that import it from this module.
"""

from __future__ import annotations

from pytest_govmail.model.dns import DnsResult, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.text import show_value as show_value
from pytest_govmail.model.verdict import Verdict
from pytest_govmail.records.txt import txt_values


def lookup(subject: Subject, name: str, rdtype: str) -> DnsResult | Verdict:
    """The answer to ``name``/``rdtype``, or an INCONCLUSIVE verdict that says why there is none.

    A timeout, SERVFAIL or refusal is never read as "no record": the caller gets a verdict to
    return.
    A question that is absent from the evidence (a replayed file from a run that did not ask it)
    is inconclusive too, and says so.
    """
    query = Query.of(name, rdtype)
    result = subject.dns.get(query.name, query.rdtype)
    if result is None:
        return Verdict.inconclusive(
            f"no evidence for {query.key}: it was not collected in this run", [query.key]
        )
    if result.error is not None:
        return Verdict.inconclusive(
            f"DNS query {query.key} failed ({result.error.describe()})"
            + (f" at {result.resolver}" if result.resolver else ""),
            [query.key],
        )
    return result


def describe_answer(result: DnsResult, kind: str) -> str:
    """What an answer held when no usable record of ``kind`` was in it, for a finding."""
    name = result.name
    if result.nxdomain:
        return f"{name}: NXDOMAIN"
    values = txt_values(result)
    if not values:
        return f"{name}: no TXT records (NODATA)"
    shown = "; ".join(show_value(v, 120) for v in values[:5])
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return f"{name}: no {kind} record among {len(values)} TXT record(s): {shown}{more}"


def where(result: DnsResult) -> str:
    """The name an answer came from, with its TTL: ``_dmarc.example.gov.uk, TTL 3600``."""
    ttl = f", TTL {result.ttl}" if result.ttl is not None else ""
    return f"{result.name}{ttl}"
