"""What DMARC needs asked.

DMARC discovery follows RFC 9989 section 4.10.1 (DMARC-01 in the catalogue): ``_dmarc.<domain>``,
and only when that holds no DMARC record, the DNS tree walk of section 4.10: the ``_dmarc``
name of each ancestor in turn (a name of eight labels or more jumps to its last seven), at most
eight questions in all (:func:`~pytest_govmail.records.dmarc.tree_walk_names`), stopping at a
record with ``psd=y`` or ``psd=n``. For a domain whose policy comes from an ancestor the planner
also asks:

- the domain's MX (which role inference asks anyway): an NXDOMAIN there makes it a non-existent
  domain, to which RFC 9989 applies ``np`` (Appendix A.4);
- ``_dmarc.<organisational domain by the Public Suffix List>``, so the verdict can say where an
  RFC 7489 receiver (section 6.6.3) would find a different record; usually the walk asked it
  already.

Then, for the record that applies, every ``mailto:`` report destination outside the
organisational domain needs its authorisation record (RFC 7489 section 7.1):
``<domain that published the record>._report._dmarc.<destination host>``.

A question whose answer is a timeout or SERVFAIL is not followed further: the judge returns
INCONCLUSIVE for it, and nothing asked after it could change that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.records.dmarc import (
    DmarcSyntaxError,
    TreeWalk,
    authorisation_name,
    discover_policy,
    needs_authorisation,
    organisational_domain,
    parse_dmarc,
    tree_walk,
)


def dmarc_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """DMARC-01..08 and PARK-02: the ``_dmarc`` records and the external-report authorisations."""
    return list(_dmarc_queries(target.domain, dns))


def walk_queries(walk: TreeWalk) -> Iterator[Query]:
    """The RFC 9989 tree walk's questions as far as the answers at hand allow.

    Every name already answered, then the next one; nothing after an answer that is an error.
    """
    for name in walk.asked:
        yield Query.of(name, "TXT")
    if walk.pending is not None:
        yield Query.of(f"_dmarc.{walk.pending}", "TXT")


def _dmarc_queries(domain: str, dns: DnsView) -> Iterator[Query]:
    walk = tree_walk(domain, dns)
    yield from walk_queries(walk)
    if not walk.complete:
        return
    found = discover_policy(walk)
    if found.kind != "own":
        yield Query.of(domain, "MX")
        psl_org = organisational_domain(domain)
        if psl_org != walk.domain:
            yield Query.of(f"_dmarc.{psl_org}", "TXT")
    if found.kind not in ("own", "organisational") or found.step is None:
        return  # no record, or only the public suffix's: DMARC-01 fails, nothing to authorise
    published_at = found.step.name
    try:
        record = parse_dmarc(found.step.record or "")
    except DmarcSyntaxError:
        return
    for uri in (*record.rua, *record.ruf):
        host = uri.host
        if uri.is_mailto and host and needs_authorisation(published_at, host):
            yield Query.of(authorisation_name(published_at, host), "TXT")
