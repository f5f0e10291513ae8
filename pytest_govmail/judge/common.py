"""Helpers shared by the judges: fetching an answer from the evidence or saying why it is missing."""

from __future__ import annotations

from pytest_govmail.model import DnsResult, Query, Subject, Verdict


def lookup(subject: Subject, name: str, rdtype: str) -> DnsResult | Verdict:
    """The answer to ``name``/``rdtype``, or an INCONCLUSIVE verdict that says why there is none.

    A timeout, SERVFAIL or refusal is never read as "no record": the caller gets a verdict to return.
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
